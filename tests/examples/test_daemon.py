"""The daemon example: it keeps serving while the server is killed and restarted; as a process,
SIGTERM with 200 streams running drains them (each finishes within the deadline or ends
cancelled, each recipient gets exactly one terminal message, new streams are refused) and exits
0; it tells systemd READY=1 then STOPPING=1 on a real datagram socket; a second signal stops at
once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

import actors
from actors import Address, whereis
from ollama_actor import Ollama, Timeout
from ollama_actor.emulator import EmulatorProcess, drip

from .test_examples import EXAMPLES, load

WAIT = 60.0


def summary():
    return Address("consumer").proxy().summary().get(timeout=5)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return found


def test_daemon_survives_the_server_being_killed_and_restarted():
    daemon = load("daemon")
    tally = {}
    with EmulatorProcess(token_rate=40.0) as emu:
        client = Ollama(emu.base_url, timeout=Timeout(connect=1.0, read=2.0, total=60.0))
        root = daemon.tree(client, "llama3.2", tally=tally, interval=0.05)
        try:
            wait_for(lambda: summary()["done"] >= 5, 20, "the first answers")
            emu.kill()  # a crash: every open stream is cut, new connections are refused
            time.sleep(0.5)
            emu.start()  # the same port again
            after_restart = summary()["done"]
            wait_for(lambda: summary()["done"] >= after_restart + 10, 30, "answers after restart")
            assert root.is_alive()
            root.proxy().terminate_child("producer").get(timeout=5)
            wait_for(lambda: summary()["running"] == 0, 30, "every stream to end")
        finally:
            root.stop()
            client.close()
    assert whereis("consumer") is None  # the tree is gone, names released
    for entry in tally.values():
        assert entry["kinds"][-1] in ("done", "error")
        assert all(k in ("data", "restart") for k in entry["kinds"][:-1])
    restarted = [e["kinds"] for e in tally.values() if "restart" in e["kinds"]]
    assert restarted, "the streams cut by the crash were retried"
    assert any(k[-1] == "done" for k in restarted), "a retried stream completed after the restart"


# -- the daemon as a process --------------------------------------------------------------------


class Daemon:
    """examples/daemon.py in a subprocess; its stdout and stderr are read as they come (a pipe
    left unread fills up, and a daemon whose log write blocks on it cannot drain)."""

    def __init__(self, url, *args, env=None):
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "daemon.py"), "--host", url, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._err: list[str] = []
        self._err_reader = threading.Thread(target=self._err.extend, args=(self.process.stderr,))
        self._err_reader.start()
        line = self.process.stdout.readline()
        if not line.startswith("status at "):
            self.kill()
            raise AssertionError(f"no status line: {line!r} {''.join(self._err)}")
        self.status_url = line.split()[2]
        self._out: list[str] = []
        self._out_reader = threading.Thread(target=self._out.extend, args=(self.process.stdout,))
        self._out_reader.start()

    def status(self):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(self.status_url + "/status", timeout=10) as response:
            return json.loads(response.read())

    def finish(self, timeout):
        """Wait for the exit; (exit code, the final JSON line, stderr)."""
        self.process.wait(timeout=timeout)
        self._out_reader.join(timeout)
        self._err_reader.join(timeout)
        err = "".join(self._err)
        lines = "".join(self._out).strip().splitlines()
        assert lines, f"no output; stderr: {err[-3000:]}"
        return self.process.returncode, json.loads(lines[-1]), err

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=WAIT)
        for reader in ("_out_reader", "_err_reader"):
            if hasattr(self, reader):
                getattr(self, reader).join(WAIT)


@pytest.fixture
def notify():
    """A datagram socket in the abstract namespace, as systemd's NOTIFY_SOCKET."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"ollama-actor-daemon-test-{os.getpid()}"
    sock.bind("\0" + name)
    sock.settimeout(WAIT)
    yield sock, "@" + name
    sock.close()


def streams_running(daemon, n):
    """The daemon's status once ``n`` streams are in flight, each past its first chunk."""
    status = daemon.status()
    oldest = status["streams"]["oldest"]
    return (
        status["streams"]["in_flight"] >= n
        and all(s["time_to_first_chunk"] is not None for s in oldest)
        and status
    )


def test_sigterm_with_200_running_streams_drains_them_and_exits_0(ollama_emulator, notify):
    sock, address = notify
    emu = ollama_emulator
    emu.set_pacing(8.0)  # the plain streams take about 2 s
    emu.inject(drip(0.3), path="/api/generate", times=100)  # these never end in time
    daemon = Daemon(
        emu.url,
        "--burst", "200", "--interval", "0.5", "--drain", "3",
        env={"NOTIFY_SOCKET": address},
    )  # fmt: skip
    try:
        ready = sock.recv(4096).decode().split("\n")
        assert ready[0] == "READY=1"
        assert f"MAINPID={daemon.process.pid}" in ready
        wait_for(lambda: streams_running(daemon, 200), WAIT, "200 streams in flight")
        began = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        stopping = sock.recv(4096).decode().split("\n")
        assert stopping[0] == "STOPPING=1"
        code, final, err = daemon.finish(WAIT)
        took = time.monotonic() - began
    finally:
        daemon.kill()
    assert code == 0, err[-3000:]
    assert final["exit_code"] == 0
    assert took < 3 + 10, f"the drain took {took:.1f} s"
    streams = final["streams"]
    assert len(streams) >= 200
    ends = {}
    for ref, entry in streams.items():
        kinds = entry["kinds"]
        terminal = [k for k in kinds if k in ("done", "error")]
        assert terminal == [kinds[-1]], f"{ref} got {kinds}: not exactly one terminal message"
        assert set(kinds[:-1]) <= {"data", "restart"}, f"{ref} got {kinds}"
        ends.setdefault((kinds[-1], entry["error"]), []).append(ref)
    done = ends.pop(("done", None), [])
    cancelled = ends.pop(("error", "StreamCancelled"), [])
    refused = ends.pop(("error", "Draining"), [])
    assert ends == {}, f"streams ended otherwise: {ends}"
    assert len(done) >= 100, "the plain streams finished within the deadline"
    assert len(cancelled) >= 100, "the dripping ones were cancelled at the deadline"
    assert refused, "the producer's streams during the drain were refused"
    assert "draining" in err
    assert "drain deadline passed" in err


def test_a_second_signal_stops_the_daemon_at_once(ollama_emulator):
    emu = ollama_emulator
    emu.inject(drip(0.3), path="/api/generate", times=20)
    daemon = Daemon(emu.url, "--burst", "20", "--interval", "60", "--drain", "600")
    try:
        wait_for(lambda: streams_running(daemon, 20), WAIT, "20 streams in flight")
        daemon.process.send_signal(signal.SIGTERM)
        wait_for(lambda: daemon.status()["application"]["state"] == "draining", WAIT, "draining")
        began = time.monotonic()
        daemon.process.send_signal(signal.SIGINT)
        code, final, _err = daemon.finish(WAIT)
        took = time.monotonic() - began
    finally:
        daemon.kill()
    assert code == 128 + signal.SIGINT
    assert took < 10, f"a second signal took {took:.1f} s to stop it"
    for entry in final["streams"].values():
        assert entry["kinds"][-1] == "error"
        assert entry["error"] == "StreamCancelled"
        assert entry["kinds"].count("error") == 1


def test_the_example_imports_only_public_names():
    source = (EXAMPLES / "daemon.py").read_text()
    assert "._" not in source.replace("self._", "").replace("__", "")
    assert actors.run is not None
