"""Restart intensity against a real clock, per-child budgets, escalation through levels."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pykka

import actors
from actors import (
    ChildSpec,
    DynamicSupervisor,
    Exit,
    Inbox,
    ReachedMaxRestartIntensity,
    Supervisor,
    wait_exit,
)


class Crash(Exception):
    pass


class Worker(actors.Actor):
    def __init__(self, tag: str, events: Inbox) -> None:
        super().__init__()
        self.tag = tag
        self.events = events

    def on_start(self) -> None:
        self.events.tell(("start", self.tag))

    def on_stop(self) -> None:
        self.events.tell(("stop", self.tag))

    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise Crash(self.tag)
        return message


def spec(tag: str, events: Inbox, **options: Any) -> ChildSpec:
    return ChildSpec(tag, lambda: Worker.start(tag, events), **options)


def current(proxy: Any, child_id: Any) -> Any:
    """The child's current incarnation; also waits until earlier DOWNs were handled."""
    return {cid: ref for cid, ref, _t in proxy.which_children().get(timeout=5)}[child_id]


def crash(ref: pykka.ActorRef[Any]) -> None:
    ref.tell("crash")
    wait_exit(ref, 5)


def gave_up(ref: pykka.ActorRef[Any]) -> ReachedMaxRestartIntensity:
    """A supervisor that gave up ends as OTP's do: ``shutdown``, saying why."""
    reason = wait_exit(ref, 5)
    assert reason.kind == "shutdown"
    assert isinstance(reason.exception, ReachedMaxRestartIntensity)
    return reason.exception


def test_more_than_max_restarts_fast_gives_up_stopping_children_in_reverse_order():
    events = Inbox()
    specs = [spec(t, events) for t in "abc"]
    sup = Supervisor.start(specs, max_restarts=2, max_seconds=1.0)
    proxy = sup.proxy()
    crash(current(proxy, "b"))
    crash(current(proxy, "b"))
    survivors = {t: current(proxy, t) for t in "ac"}
    events.drain()
    crash(current(proxy, "b"))
    error = gave_up(sup)
    assert (error.max_restarts, error.max_seconds, error.child_id) == (2, 1.0, "b")
    assert isinstance(error.exit.exception, Crash)
    assert events.drain() == [("stop", "c"), ("stop", "a")]
    assert not any(ref.is_alive() for ref in survivors.values())


def test_crashes_spaced_beyond_the_window_do_not_add_up():
    events = Inbox()
    window = 0.3
    sup = Supervisor.start([spec("a", events)], max_restarts=1, max_seconds=window)
    proxy = sup.proxy()
    for _ in range(3):
        crash(current(proxy, "a"))
        assert current(proxy, "a").is_alive()
        time.sleep(window * 1.2)  # the stimulus: space the crashes beyond the window
    assert sup.is_alive()
    sup.stop(timeout=5)


def test_max_restarts_zero_gives_up_at_the_first_restart():
    events = Inbox()
    sup = Supervisor.start([spec("a", events)], max_restarts=0)
    crash(current(sup.proxy(), "a"))
    gave_up(sup)


def test_unlimited_intensity():
    events = Inbox()
    sup = Supervisor.start([spec("a", events)], max_restarts=None)
    proxy = sup.proxy()
    for _ in range(20):
        crash(current(proxy, "a"))
    assert current(proxy, "a").is_alive()
    sup.stop(timeout=5)


def test_normal_exits_of_non_restarted_children_do_not_count():
    events = Inbox()
    specs = [spec(f"t{i}", events, restart="transient") for i in range(5)]
    sup = Supervisor.start(specs, max_restarts=0)
    proxy = sup.proxy()
    for i in range(5):
        current(proxy, f"t{i}").stop()
    assert [ref for _i, ref, _t in proxy.which_children().get(timeout=5)] == [None] * 5
    sup.stop(timeout=5)


def test_a_child_over_its_own_budget_is_given_up_and_the_supervisor_carries_on():
    events = Inbox()
    specs = [spec("fragile", events, max_restarts=2, max_seconds=10.0), spec("b", events)]
    sup = Supervisor.start(specs, max_restarts=None)
    proxy = sup.proxy()
    b = current(proxy, "b")
    for _ in range(3):
        crash(current(proxy, "fragile"))
    assert [cid for cid, _r, _t in proxy.which_children().get(timeout=5)] == ["b"]
    assert current(proxy, "b") is b
    sup.stop(timeout=5)


def test_the_supervisor_intensity_still_counts_budgeted_children():
    events = Inbox()
    specs = [spec(t, events, max_restarts=5) for t in "ab"]
    sup = Supervisor.start(specs, max_restarts=3)
    proxy = sup.proxy()
    for tag in "abab":
        crash(current(proxy, tag))
    gave_up(sup)


def test_a_dynamic_supervisor_with_unlimited_intensity_outlives_failing_children():
    events = Inbox()
    sup = DynamicSupervisor.start(max_restarts=None)
    proxy = sup.proxy()
    for i in range(10):
        proxy.start_child(spec(f"w{i}", events, max_restarts=3, max_seconds=5.0)).get(timeout=5)
    for i in range(10):
        for _ in range(4):  # the fourth crash exceeds the child's budget of 3 in 5 s
            crash(current(proxy, f"w{i}"))
        ids = [cid for cid, _r, _t in proxy.which_children().get(timeout=5)]
        assert ids == [f"w{j}" for j in range(i + 1, 10)]
    assert proxy.count_children().get(timeout=5)["specs"] == 0
    assert sup.is_alive()
    sup.stop(timeout=5)


def test_escalation_through_two_levels():
    """worker -> mid (gives up at once) -> top (1 restart) -> root (gives up at once)."""
    events = Inbox()

    def start_mid() -> Any:
        return Supervisor.start([spec("w", events)], max_restarts=0)

    def start_top() -> Any:
        mid = ChildSpec("mid", start_mid, type="supervisor")
        return Supervisor.start([mid], max_restarts=1, max_seconds=10.0)

    root = Supervisor.start([ChildSpec("top", start_top, type="supervisor")], max_restarts=0)
    top = current(root.proxy(), "top")
    mid = current(top.proxy(), "mid")
    worker = current(mid.proxy(), "w")

    crash(worker)
    gave_up(mid)
    new_mid = current(top.proxy(), "mid")  # a permanent supervisor child is restarted
    assert new_mid is not mid
    new_worker = current(new_mid.proxy(), "w")
    assert new_worker.ask("ping", timeout=5) == "ping"
    assert current(root.proxy(), "top") is top

    crash(new_worker)
    gave_up(new_mid)
    error = gave_up(top)
    assert error.child_id == "mid"
    assert error.exit.kind == "shutdown"
    assert isinstance(error.exit.exception, ReachedMaxRestartIntensity)
    gave_up(root)
    assert pykka.ActorRegistry.get_all() == []


def test_a_transient_supervisor_that_gives_up_is_not_restarted(caplog):
    # OTP: a supervisor that reached its intensity exits with shutdown, which a transient
    # parent does not restart (before, it ended with an error and was restarted).
    events = Inbox()

    def start_mid() -> Any:
        return Supervisor.start([spec("w", events)], max_restarts=0)

    top = Supervisor.start([ChildSpec("mid", start_mid, type="supervisor", restart="transient")])
    mid = current(top.proxy(), "mid")
    caplog.set_level(logging.ERROR)
    crash(current(mid.proxy(), "w"))
    error = gave_up(mid)
    assert "more than 0 restart(s)" in str(error)
    assert error.child_id == "w"
    assert current(top.proxy(), "mid") is None
    assert top.is_alive()
    assert not [r for r in caplog.records if r.exc_info and r.name == "actors.supervisor"]
    top.stop(timeout=5)


def test_a_supervisor_child_that_gives_up_with_a_stuck_grandchild_is_still_restarted():
    events = Inbox()
    gate = threading.Event()

    class Stubborn(Worker):
        def on_receive(self, message: Any) -> Any:
            if message == "block":
                gate.wait(10)
                return None
            return super().on_receive(message)

    def start_mid() -> Any:
        children = [
            ChildSpec("stuck", lambda: Stubborn.start("stuck", events), shutdown=0.1),
            spec("w", events),
        ]
        return Supervisor.start(children, max_restarts=0)

    top = Supervisor.start([ChildSpec("mid", start_mid, type="supervisor")])
    mid = current(top.proxy(), "mid")
    stuck = current(mid.proxy(), "stuck")
    stuck.tell("block")
    try:
        crash(current(mid.proxy(), "w"))
        gave_up(mid)
        assert current(top.proxy(), "mid") is not mid
    finally:
        gate.set()
    assert wait_exit(stuck, 5) is Exit.KILLED
    top.stop(timeout=5)
