"""Backoff: the delay formula, and measured delays between real restarts."""

from __future__ import annotations

import time
from typing import Any

import pytest

import actors
from actors import Backoff, ChildSpec, DynamicSupervisor, Inbox, Supervisor, wait_exit


def test_delays_grow_by_the_multiplier_up_to_max():
    backoff = Backoff(min=0.1, max=1.0, multiplier=2.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_jitter_adds_up_to_its_fraction():
    backoff = Backoff(min=0.1, max=1.0, jitter=0.5)
    assert backoff.delay(1, rand=lambda: 0.0) == pytest.approx(0.1)
    assert backoff.delay(1, rand=lambda: 0.999) == pytest.approx(0.14995)
    assert backoff.delay(10, rand=lambda: 0.999) == pytest.approx(1.4995)
    for n in range(1, 20):
        assert 0.1 <= backoff.delay(n) <= 1.5


def test_min_zero_means_no_delay_and_huge_counts_do_not_overflow():
    assert Backoff(min=0, max=10).delay(1) == 0
    assert Backoff(min=0, max=10).delay(50) == 0
    assert Backoff(min=0.001, max=2.0, jitter=0).delay(10**6) == 2.0


@pytest.mark.parametrize(
    "options",
    [
        {"min": -1, "max": 1},
        {"min": 2, "max": 1},
        {"min": 0, "max": float("inf")},
        {"min": 0, "max": 1, "multiplier": 0.5},
        {"min": 0, "max": 1, "jitter": -0.1},
    ],
)
def test_invalid_backoffs(options):
    with pytest.raises(ValueError, match="Backoff"):
        Backoff(**options)
    with pytest.raises(ValueError, match="counted from 1"):
        Backoff(min=0, max=1).delay(0)


class Timed(actors.Actor):
    """Tells ``events`` when it starts, and when it crashes (just before it does)."""

    def __init__(self, events: Inbox) -> None:
        super().__init__()
        self.events = events

    def on_start(self) -> None:
        self.events.tell(("started", time.monotonic(), self.actor_ref))

    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            self.events.tell(("crashed", time.monotonic(), self.actor_ref))
            raise RuntimeError("crash")
        return message


def measure(proxy_ref: Any, events: Inbox, restarts: int) -> list[float]:
    """Crash the child ``restarts`` times; the measured crash -> restart delays."""
    kind, _at, ref = events.receive(timeout=5)
    assert kind == "started"
    delays = []
    for _ in range(restarts):
        ref.tell("crash")
        kind, crashed, old = events.receive(timeout=5)
        assert kind == "crashed"
        kind, started, ref = events.receive(timeout=5)
        assert kind == "started"
        assert ref is not old
        delays.append(started - crashed)
    return delays


BACKOFF = Backoff(min=0.04, max=0.16, multiplier=2.0, jitter=0.25)
SLACK = 0.15  # scheduling and thread start-up on a busy 2-core machine


def check(delays: list[float]) -> None:
    lower = [0.04, 0.08, 0.16, 0.16]
    for delay, low in zip(delays, lower, strict=True):
        assert low <= delay <= low * 1.25 + SLACK
        assert delay <= BACKOFF.max * (1 + BACKOFF.jitter) + SLACK
    assert delays[2] > delays[0]


def test_measured_restart_delays_per_child():
    events = Inbox()
    spec = ChildSpec("a", lambda: Timed.start(events), backoff=BACKOFF)
    sup = Supervisor.start([spec], max_restarts=None)
    check(measure(sup, events, 4))
    sup.stop(timeout=5)


def test_measured_restart_delays_from_the_supervisor_default():
    events = Inbox()
    sup = DynamicSupervisor.start(max_restarts=None, backoff=BACKOFF)
    sup.proxy().start_child(ChildSpec("a", lambda: Timed.start(events))).get(timeout=5)
    check(measure(sup, events, 4))
    sup.stop(timeout=5)


def test_no_backoff_by_default():
    events = Inbox()
    sup = Supervisor.start([ChildSpec("a", lambda: Timed.start(events))], max_restarts=None)
    delays = measure(sup, events, 3)
    assert all(delay < SLACK for delay in delays)
    sup.stop(timeout=5)


def test_the_count_starts_again_once_a_child_stayed_up_longer_than_the_window():
    events = Inbox()
    backoff = Backoff(min=0.05, max=10.0, multiplier=40.0, jitter=0.0)
    spec = ChildSpec("a", lambda: Timed.start(events), backoff=backoff)
    sup = Supervisor.start([spec], max_restarts=None, max_seconds=0.3)
    first = measure(sup, events, 1)
    ref = sup.proxy().which_children().get(timeout=5)[0][1]
    time.sleep(0.35)  # the stimulus: stay up longer than the 0.3 s window
    ref.tell("crash")
    _kind, crashed, _old = events.receive(timeout=5)
    _kind, started, _new = events.receive(timeout=5)
    # n = 1 each time: 0.05 s; a count that went on would be n = 2: 2 s (wide apart, so that
    # a loaded machine's scheduling cannot blur them)
    assert first[0] < 1.0
    assert started - crashed < 1.0
    sup.stop(timeout=5)


def test_the_supervisor_answers_during_a_backoff():
    events = Inbox()
    backoff = Backoff(min=0.5, max=0.5, jitter=0.0)
    sup = Supervisor.start([ChildSpec("a", lambda: Timed.start(events), backoff=backoff)])
    proxy = sup.proxy()
    ref = proxy.which_children().get(timeout=5)[0][1]
    ref.tell("crash")
    wait_exit(ref, 5)
    asked = time.monotonic()
    assert proxy.which_children().get(timeout=5)[0][1] == "restarting"
    assert proxy.count_children().get(timeout=5)["active"] == 0
    assert time.monotonic() - asked < 0.25
    sup.stop(timeout=5)
