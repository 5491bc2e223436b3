"""`actors.Application`: start, ready (sd_notify), drain, stop top-down, exit codes; signals in
a real process (SIGTERM drains, a second signal stops at once), readiness on a datagram socket."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import actors
from actors import Application, ChildSpec, Draining, DynamicSupervisor, Supervisor, telemetry

WAIT = 20.0


class Job(actors.Actor):
    """A child that ends by itself (normally) when told "finish"."""

    def on_receive(self, message):
        if message == "finish":
            self.stop()


class Idle(actors.Actor):
    pass


def tree():
    return Supervisor.start(
        [
            ChildSpec("service", Idle.start, name="service"),
            ChildSpec(
                "jobs",
                lambda: DynamicSupervisor.start(max_restarts=None),
                type="supervisor",
                name="jobs",
            ),
        ]
    )


def job_spec(n):
    return ChildSpec(f"job-{n}", Job.start, restart="transient")


class Running:
    """An application run on a thread of its own (signals=()), with its telemetry."""

    def __init__(self, app):
        self.app = app
        self.events = []
        self.code = None
        handler = f"app-test-{id(self)}"
        telemetry.attach_many(
            handler,
            [telemetry.APPLICATION_READY, telemetry.APPLICATION_DRAIN, telemetry.APPLICATION_STOP],
            lambda event, m, md, _: self.events.append((event[-1], dict(m), dict(md))),
        )
        self._handler = handler
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        try:
            self.code = self.app.run()
        finally:
            self.ready.set()

    def wait_ready(self):
        deadline = time.monotonic() + WAIT
        while self.app.state is not actors.State.RUNNING:
            assert self.app.state in (actors.State.STARTING, actors.State.NEW), self.app.state
            assert time.monotonic() < deadline, "the application never became ready"
            time.sleep(0.01)

    def join(self):
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "Application.run did not return"
        telemetry.detach(self._handler)
        return self.code


def test_stop_drains_the_jobs_refuses_new_ones_then_stops_the_tree_top_down():
    app = Application(tree, name="jobs-app", drain=WAIT, signals=())
    running = Running(app)
    running.wait_ready()
    jobs = actors.whereis("jobs")
    started = [jobs.proxy().start_child(job_spec(n)).get(timeout=5) for n in range(3)]
    service = actors.whereis("service")
    app.stop()
    deadline = time.monotonic() + WAIT
    while app.state is not actors.State.DRAINING:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    deadline = time.monotonic() + WAIT
    while jobs.proxy().draining.get(timeout=5) is False:  # the drain reaches it by its mailbox
        assert time.monotonic() < deadline, "the supervisor never drained"
        time.sleep(0.01)
    with pytest.raises(Draining, match="is draining"):
        jobs.proxy().start_child(job_spec(99)).get(timeout=5)
    time.sleep(0.2)
    assert app.state is actors.State.DRAINING, "it waits for the running jobs"
    assert all(ref.is_alive() for ref in started)
    for ref in started:
        ref.tell("finish")
    assert running.join() == 0
    assert actors.exit_reason(started[0]) == actors.Exit.NORMAL, "they finished by themselves"
    assert actors.exit_reason(service) == actors.Exit.SHUTDOWN
    assert actors.whereis("jobs") is None
    assert [name for name, _, _ in running.events] == ["ready", "drain", "stop"]
    _, drain, meta = running.events[1]
    assert drain == {"deadline": WAIT}
    assert meta == {"application": "jobs-app", "signal": None}
    _, stop, _ = running.events[2]
    assert stop["exit_code"] == 0
    assert stop["drain"] >= 0.2


def test_the_drain_deadline_stops_what_still_runs():
    app = Application(tree, drain=0.3, signals=())
    running = Running(app)
    running.wait_ready()
    job = actors.whereis("jobs").proxy().start_child(job_spec(1)).get(timeout=5)
    began = time.monotonic()
    app.stop()
    assert running.join() == 0
    assert time.monotonic() - began >= 0.3
    assert actors.exit_reason(job) == actors.Exit.SHUTDOWN, "stopped by its supervisor"


def test_permanent_children_are_not_waited_for():
    app = Application(tree, drain=WAIT, signals=())
    running = Running(app)
    running.wait_ready()
    began = time.monotonic()
    app.stop()
    assert running.join() == 0
    assert time.monotonic() - began < WAIT / 2


def test_a_root_that_ends_by_itself_ends_the_application_with_1():
    app = Application(tree, signals=())
    running = Running(app)
    running.wait_ready()
    app.root.stop()
    assert running.join() == 1


def test_a_start_that_fails_ends_the_application_with_1(caplog):
    def broken():
        raise RuntimeError("no database")

    assert Application(broken, signals=()).run() == 1
    assert "failed to start" in caplog.text
    assert "no database" in caplog.text


def test_signals_need_the_main_thread():
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(_try_run()))
    thread.start()
    thread.join(WAIT)
    assert isinstance(outcome[0], ValueError)
    assert "signals=()" in str(outcome[0])


def _try_run():
    try:
        Application(tree).run()
    except ValueError as exc:
        return exc
    return None


# -- sd_notify on real datagram sockets ---------------------------------------------------------


@pytest.fixture
def notify_socket(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.settimeout(WAIT)
    yield sock, path
    sock.close()


def test_sd_notify_sends_one_datagram_to_a_path_and_to_an_abstract_name(notify_socket):
    sock, path = notify_socket
    assert actors.sd_notify("READY=1\nSTATUS=up", environ={"NOTIFY_SOCKET": path}) is True
    assert sock.recv(4096) == b"READY=1\nSTATUS=up"
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"ollama-actor-test-{os.getpid()}"
    abstract.bind("\0" + name)
    abstract.settimeout(WAIT)
    with abstract:
        assert actors.sd_notify("STOPPING=1", environ={"NOTIFY_SOCKET": "@" + name}) is True
        assert abstract.recv(4096) == b"STOPPING=1"


def test_sd_notify_without_a_manager_does_nothing_and_a_dead_socket_is_only_logged(
    tmp_path, caplog
):
    assert actors.sd_notify("READY=1", environ={}) is False
    gone = str(tmp_path / "nobody")
    assert actors.sd_notify("READY=1", environ={"NOTIFY_SOCKET": gone}) is False
    assert "could not notify the service manager" in caplog.text


def test_the_application_tells_ready_then_stopping(notify_socket, monkeypatch):
    sock, path = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    app = Application(tree, drain=1.0, signals=())
    running = Running(app)
    ready = sock.recv(4096).decode().split("\n")
    assert ready[0] == "READY=1"
    assert f"MAINPID={os.getpid()}" in ready
    app.stop()
    stopping = sock.recv(4096).decode().split("\n")
    assert stopping[0] == "STOPPING=1"
    assert any(line.startswith("EXTEND_TIMEOUT_USEC=") for line in stopping)
    assert running.join() == 0


def test_a_name_that_utf_8_cannot_encode_is_still_notified(notify_socket, monkeypatch):
    """A name from argv or the environment may carry undecodable bytes (as surrogates): the
    notification must not raise, or the program would die telling systemd it is ready."""
    sock, path = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    app = Application(tree, name=os.fsdecode(b"daemon-\xff"), signals=())
    running = Running(app)
    ready = sock.recv(4096).split(b"\n")
    assert ready[0] == b"READY=1"
    app.stop()
    assert running.join() == 0


# -- signals, in a process of its own -----------------------------------------------------------

SCRIPT = textwrap.dedent(
    """
    import sys, actors
    from actors import ChildSpec, DynamicSupervisor, Supervisor, telemetry

    class Job(actors.Actor):
        def on_stop(self):
            print("job stopped", flush=True)

    def start():
        root = Supervisor.start([ChildSpec(
            "jobs", lambda: DynamicSupervisor.start(), type="supervisor", name="jobs")])
        actors.whereis("jobs").proxy().start_child(
            ChildSpec("job", Job.start, restart="transient")).get(timeout=5)
        return root

    telemetry.attach("ready", telemetry.APPLICATION_READY, lambda *a: print("ready", flush=True))
    telemetry.attach("drain", telemetry.APPLICATION_DRAIN, lambda *a: print("draining", flush=True))
    sys.exit(actors.run(start, drain=float(sys.argv[1])))
    """
)


def spawn(drain, *, pid1=False):
    command = [sys.executable, "-c", SCRIPT, str(drain)]
    if pid1:
        command = ["unshare", "--pid", "--fork", "--kill-child", *command]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=os.getcwd()
    )


def expect_line(process, line):
    seen = []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        got = process.stdout.readline()
        if not got:
            break
        seen.append(got)
        if got.strip() == line:
            return
    process.kill()
    raise AssertionError(f"no {line!r} line: {seen} {process.stderr.read()}")


def test_sigterm_drains_then_stops_and_exits_0():
    process = spawn(0.5)
    try:
        expect_line(process, "ready")
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        expect_line(process, "draining")
        expect_line(process, "job stopped")
        assert process.wait(WAIT) == 0
        assert 0.5 <= time.monotonic() - began < WAIT
    finally:
        process.kill()
        process.wait()


def test_a_second_signal_stops_at_once():
    process = spawn(600)
    try:
        expect_line(process, "ready")
        process.send_signal(signal.SIGTERM)
        expect_line(process, "draining")
        began = time.monotonic()
        process.send_signal(signal.SIGINT)
        expect_line(process, "job stopped")
        assert process.wait(WAIT) == 128 + signal.SIGINT
        assert time.monotonic() - began < WAIT
    finally:
        process.kill()
        process.wait()


OTHER_THREAD_SCRIPT = textwrap.dedent(
    """
    import signal, sys, threading, time, actors
    from actors import ChildSpec, DynamicSupervisor, Supervisor, telemetry

    def start():  # a job that runs until it is stopped keeps the drain waiting
        root = Supervisor.start([ChildSpec(
            "jobs", lambda: DynamicSupervisor.start(), type="supervisor", name="jobs")])
        actors.whereis("jobs").proxy().start_child(
            ChildSpec("job", actors.Actor.start, restart="transient")).get(timeout=5)
        return root

    def hit_another_thread(signum):
        def hit():
            time.sleep(0.3)  # time for the main thread to block in its wait
            signal.pthread_kill(threading.get_ident(), signum)  # delivered to this thread
            time.sleep(1)  # alive while the kernel hands the signal over
        threading.Thread(target=hit, daemon=True).start()

    def ready(*_):
        print("ready", flush=True)
        hit_another_thread(signal.SIGTERM)

    def draining(*_):
        print("draining", flush=True)
        hit_another_thread(signal.SIGINT)

    telemetry.attach("ready", telemetry.APPLICATION_READY, ready)
    telemetry.attach("drain", telemetry.APPLICATION_DRAIN, draining)
    sys.exit(actors.run(start, drain=600))
    """
)


def test_signals_the_kernel_hands_to_another_thread_are_acted_on():
    """The kernel may deliver a process's signal to any of its threads; the main thread, which
    runs Python's handlers, must not sleep through it (both blocking waits: running, draining)."""
    process = subprocess.Popen(
        [sys.executable, "-c", OTHER_THREAD_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    try:
        expect_line(process, "ready")
        expect_line(process, "draining")
        assert process.wait(WAIT) == 128 + signal.SIGINT
    finally:
        process.kill()
        process.wait()


def test_ctrl_c_in_a_terminal_drains_like_sigterm():
    process = spawn(0.2)
    try:
        expect_line(process, "ready")
        process.send_signal(signal.SIGINT)
        expect_line(process, "draining")
        assert process.wait(WAIT) == 0
    finally:
        process.kill()
        process.wait()


OTHER_THREAD = textwrap.dedent(
    """
    import signal, sys, threading, time, actors
    from actors import ChildSpec, DynamicSupervisor, Supervisor, telemetry

    def start():  # a transient job that runs until stopped: the drain waits for it
        root = Supervisor.start([ChildSpec(
            "jobs", lambda: DynamicSupervisor.start(), type="supervisor", name="jobs")])
        actors.whereis("jobs").proxy().start_child(
            ChildSpec("job", actors.Actor.start, restart="transient")).get(timeout=5)
        return root

    # The kernel gives a process's signal to any thread that does not block it. Make that a
    # thread other than the main one, as it may be in any program with actor threads.
    threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    telemetry.attach("ready", telemetry.APPLICATION_READY, lambda *a: print("ready", flush=True))
    telemetry.attach("drain", telemetry.APPLICATION_DRAIN, lambda *a: print("draining", flush=True))
    sys.exit(actors.run(start, drain=600))
    """
)


def test_signals_taken_by_another_thread_than_the_main_one_still_drain_then_stop():
    """The main thread waits, and Python runs a signal handler only on the main thread: a
    signal that the kernel gave to another thread must still wake it."""
    process = subprocess.Popen(
        [sys.executable, "-c", OTHER_THREAD], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.strip()) for line in process.stdout]).start()
    try:
        assert lines.get(timeout=WAIT) == "ready"
        process.send_signal(signal.SIGTERM)
        try:
            assert lines.get(timeout=WAIT) == "draining"
        except queue.Empty:
            raise AssertionError("SIGTERM did not begin the drain") from None
        process.send_signal(signal.SIGINT)  # the drain waits for nothing but this
        assert process.wait(WAIT) == 128 + signal.SIGINT
    finally:
        process.kill()
        process.wait()


def _pid1_possible():
    try:
        done = subprocess.run(
            ["unshare", "--pid", "--fork", "--kill-child", "true"],
            check=False,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.mark.skipif(not _pid1_possible(), reason="cannot make a PID namespace here")
def test_as_pid_1_in_its_own_namespace_sigterm_still_drains():
    """As PID 1 (a container's init), the kernel drops signals that have no handler: the
    application handles them itself."""
    process = spawn(0.2, pid1=True)
    try:
        expect_line(process, "ready")
        with open(f"/proc/{process.pid}/task/{process.pid}/children", encoding="ascii") as f:
            (child,) = f.read().split()
        with open(f"/proc/{child}/status", encoding="ascii") as f:
            nspid = next(line for line in f if line.startswith("NSpid:")).split()
        assert nspid[-1] == "1", f"not PID 1 in its namespace: {nspid}"
        os.kill(int(child), signal.SIGTERM)
        expect_line(process, "draining")
        assert process.wait(WAIT) == 0
    finally:
        process.kill()
        process.wait()
