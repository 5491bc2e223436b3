"""The on_exit hook: exactly one call per exit, with the right ``restarting``, on every path."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pykka
import pytest

import actors
from actors import (
    Backoff,
    ChildSpec,
    DynamicSupervisor,
    Exit,
    Inbox,
    ShutdownTimeout,
    StartChildError,
    Supervisor,
    wait_exit,
)


class Crash(Exception):
    pass


class Worker(actors.Actor):
    def on_receive(self, message: Any) -> Any:
        match message:
            case "crash":
                raise Crash
            case threading.Event() as gate:
                gate.wait(10)
        return message


class Hooks:
    """Records ``(id, exit kind, restarting)`` for every on_exit call, in order."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.exits: list[Exit] = []

    def spec(self, child_id: str, start: Any = Worker.start, **options: Any) -> ChildSpec:
        def on_exit(exit: Exit, restarting: bool) -> None:
            self.exits.append(exit)
            self.inbox.tell((child_id, exit.kind, restarting))

        return ChildSpec(child_id, start, on_exit=on_exit, **options)

    def calls(self) -> list[tuple[str, str, bool]]:
        return self.inbox.drain()


def current(proxy: Any, child_id: Any) -> Any:
    return {cid: ref for cid, ref, _t in proxy.which_children().get(timeout=5)}[child_id]


def crash(ref: pykka.ActorRef[Any]) -> None:
    ref.tell("crash")
    wait_exit(ref, 5)


@pytest.fixture
def hooks() -> Hooks:
    return Hooks()


def test_restart_then_shutdown(hooks):
    sup = Supervisor.start([hooks.spec("a")])
    crash(current(sup.proxy(), "a"))
    assert current(sup.proxy(), "a").is_alive()
    assert hooks.calls() == [("a", "error", True)]
    sup.stop(timeout=5)
    assert hooks.calls() == [("a", "shutdown", False)]


@pytest.mark.parametrize(
    ("restart", "how", "expected"),
    [
        ("transient", "normal", ("a", "normal", False)),
        ("transient", "error", ("a", "error", True)),
        ("temporary", "error", ("a", "error", False)),
        ("temporary", "normal", ("a", "normal", False)),
        ("permanent", "normal", ("a", "normal", True)),
    ],
)
def test_exits_by_restart_type(hooks, restart, how, expected):
    sup = Supervisor.start([hooks.spec("a", restart=restart)])
    ref = current(sup.proxy(), "a")
    if how == "error":
        crash(ref)
    else:
        ref.stop()
        wait_exit(ref, 5)
    sup.proxy().which_children().get(timeout=5)
    assert hooks.calls() == [expected]
    sup.stop(timeout=5)
    assert hooks.calls() == ([("a", "shutdown", False)] if expected[2] else [])


def test_terminate_child(hooks):
    sup = Supervisor.start([hooks.spec("a")])
    sup.proxy().terminate_child("a").get(timeout=5)
    assert hooks.calls() == [("a", "shutdown", False)]
    sup.stop(timeout=5)
    assert hooks.calls() == []


def test_siblings_stopped_by_a_strategy(hooks):
    specs = [hooks.spec("a"), hooks.spec("t", restart="temporary"), hooks.spec("c")]
    sup = Supervisor.start(specs, strategy="one_for_all")
    crash(current(sup.proxy(), "a"))
    sup.proxy().which_children().get(timeout=5)
    assert hooks.calls() == [
        ("a", "error", True),
        ("c", "shutdown", True),
        ("t", "shutdown", False),
    ]
    sup.stop(timeout=5)
    assert hooks.calls() == [("c", "shutdown", False), ("a", "shutdown", False)]


def test_the_supervisor_giving_up(hooks):
    specs = [hooks.spec("a"), hooks.spec("b")]
    sup = Supervisor.start(specs, max_restarts=0)
    crash(current(sup.proxy(), "a"))
    wait_exit(sup, 5)
    assert hooks.calls() == [("a", "error", False), ("b", "shutdown", False)]


def test_a_child_over_its_own_budget(hooks):
    sup = Supervisor.start([hooks.spec("a", max_restarts=1)])
    crash(current(sup.proxy(), "a"))
    crash(current(sup.proxy(), "a"))
    sup.proxy().which_children().get(timeout=5)
    assert hooks.calls() == [("a", "error", True), ("a", "error", False)]
    sup.stop(timeout=5)
    assert hooks.calls() == []


def flaky(failures: list[bool]) -> Any:
    """A start that fails (raises) whenever the next item of ``failures`` is True."""
    attempts = iter(failures)

    def start() -> Any:
        if next(attempts, False):
            raise Crash("start")
        return Worker.start()

    return start


def test_a_failed_restart_attempt_is_retried(hooks):
    sup = Supervisor.start([hooks.spec("a", start=flaky([False, True, False]))])
    crash(current(sup.proxy(), "a"))
    received = [hooks.inbox.receive(timeout=5) for _ in range(2)]
    assert received == [("a", "error", True), ("a", "error", True)]
    assert isinstance(hooks.exits[1].exception, StartChildError)
    # The retry was queued (as OTP's try_again_restart) before this request.
    assert current(sup.proxy(), "a").is_alive()
    sup.stop(timeout=5)
    assert hooks.calls() == [("a", "shutdown", False)]


def test_a_failed_restart_attempt_that_exhausts_the_budget(hooks):
    sup = Supervisor.start([hooks.spec("a", start=flaky([False, True]), max_restarts=1)])
    crash(current(sup.proxy(), "a"))
    received = [hooks.inbox.receive(timeout=5) for _ in range(2)]
    assert received == [("a", "error", True), ("a", "error", False)]
    assert isinstance(hooks.exits[1].exception, StartChildError)
    assert sup.proxy().which_children().get(timeout=5) == []
    sup.stop(timeout=5)
    assert hooks.calls() == []


@pytest.mark.parametrize("cancel", ["terminate_child", "stop"])
def test_a_restart_cancelled_during_its_backoff(hooks, cancel):
    sup = Supervisor.start([hooks.spec("a", backoff=Backoff(min=30.0, max=30.0))])
    crash(current(sup.proxy(), "a"))
    assert current(sup.proxy(), "a") == "restarting"
    assert hooks.calls() == [("a", "error", True)]
    if cancel == "terminate_child":
        sup.proxy().terminate_child("a").get(timeout=5)
    sup.stop(timeout=5)
    assert hooks.calls() == [("a", "error", False)]


def test_a_child_that_does_not_stop_in_time(hooks):
    gate = threading.Event()
    sup = Supervisor.start([hooks.spec("a", shutdown=0.05)])
    ref = current(sup.proxy(), "a")
    ref.tell(gate)
    try:
        sup.stop(timeout=5)
    finally:
        gate.set()
    assert hooks.calls() == [("a", "error", False)]
    assert isinstance(hooks.exits[0].exception, ShutdownTimeout)
    wait_exit(ref, 5)


def test_a_hook_that_raises_is_logged_and_ignored(caplog):
    def on_exit(exit: Exit, restarting: bool) -> None:
        raise RuntimeError("hook")

    caplog.set_level(logging.ERROR, logger="actors.supervisor")
    sup = Supervisor.start([ChildSpec("a", Worker.start, on_exit=on_exit)])
    crash(current(sup.proxy(), "a"))
    assert current(sup.proxy(), "a").is_alive()
    assert any("on_exit hook of child 'a'" in r.getMessage() for r in caplog.records)
    sup.stop(timeout=5)


def test_dynamic_supervisor_paths(hooks):
    sup = DynamicSupervisor.start(max_restarts=None)
    proxy = sup.proxy()
    a = proxy.start_child(hooks.spec("a")).get(timeout=5)
    b = proxy.start_child(hooks.spec("b", restart="transient")).get(timeout=5)
    c = proxy.start_child(hooks.spec("c", restart="temporary")).get(timeout=5)
    d = proxy.start_child(hooks.spec("d", max_restarts=0)).get(timeout=5)
    e = proxy.start_child(hooks.spec("e")).get(timeout=5)
    crash(a)
    b.stop()
    wait_exit(b, 5)
    crash(c)
    crash(d)
    proxy.terminate_child(e).get(timeout=5)
    assert hooks.calls() == [
        ("a", "error", True),
        ("b", "normal", False),
        ("c", "error", False),
        ("d", "error", False),
        ("e", "shutdown", False),
    ]
    assert [cid for cid, _r, _t in proxy.which_children().get(timeout=5)] == ["a"]
    sup.stop(timeout=5)
    assert hooks.calls() == [("a", "shutdown", False)]
