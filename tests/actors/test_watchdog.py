"""The loop watchdog reports a blocked shared loop while it is blocked, and its recovery."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import actors
from actors import Delivery, LoopActor, Ref, set_loop_watchdog
from actors._loop import call_on_loop, event_loop

THRESHOLD = 0.3


class Watch(logging.Handler):
    """Collects the watchdog's records; `wait_for` waits for one that matches."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []
        self.arrived = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self.arrived:
            self.records.append(record.getMessage())
            self.arrived.notify_all()

    def wait_for(self, pattern: str, timeout: float = 5.0) -> str:
        with self.arrived:
            found: list[str] = []

            def match() -> bool:
                found[:] = [r for r in self.records if re.search(pattern, r, re.S)]
                return bool(found)

            assert self.arrived.wait_for(match, timeout), f"no {pattern!r} in {self.records}"
            return found[0]


@pytest.fixture
def watch() -> Iterator[Watch]:
    handler = Watch()
    log = logging.getLogger("actors.loop")
    log.addHandler(handler)
    set_loop_watchdog(THRESHOLD)
    try:
        yield handler
    finally:
        set_loop_watchdog(actors._watchdog.DEFAULT_THRESHOLD)
        log.removeHandler(handler)


def blocked_until(gate: threading.Event) -> None:
    assert gate.wait(10), "the test never released the loop"


def reported_while_blocked(watch: Watch, block: Callable[[threading.Event], None], what: str):
    """Block the loop with ``block(gate)``; the report must come before the gate opens."""
    watch.records.clear()
    gate = threading.Event()
    block(gate)
    try:
        report = watch.wait_for(r"has been blocked for")
    finally:
        gate.set()
    assert what in report, report
    assert "blocked_until" in report  # the loop thread's stack, down to the blocking call
    recovery = watch.wait_for(r"runs again after being blocked for")
    seconds = float(re.search(r"for ([\d.]+) s", recovery).group(1))  # type: ignore[union-attr]
    assert seconds >= THRESHOLD
    return report


def test_a_loop_actor_blocking_in_on_start_is_reported_while_it_blocks(watch):
    # Regression: a LoopActor blocking in on_start was never reported.
    class Starter(LoopActor):
        def __init__(self, gate: threading.Event) -> None:
            super().__init__()
            self.gate = gate

        def on_start(self) -> None:
            blocked_until(self.gate)

    refs: list[Any] = []
    reported_while_blocked(
        watch, lambda gate: refs.append(Starter.start(gate)), "the on_start of Starter"
    )
    refs[0].stop(timeout=5)


def test_a_blocking_handler_is_reported_before_it_returns(watch):
    # Regression: a blocking handler was reported only once it had returned.
    class Sleeper(LoopActor):
        def nap(self, gate: threading.Event) -> None:
            blocked_until(gate)

    ref = Sleeper.start()
    report = reported_while_blocked(watch, ref.proxy().nap.defer, "Sleeper")
    assert "handler" in report
    assert "ProxyCall nap" in report
    ref.stop(timeout=5)


def test_a_timer_and_a_stream_sink_are_named(watch):
    event_loop().call_soon_threadsafe(lambda: None)
    reported_while_blocked(
        watch,
        lambda gate: call_on_loop(lambda: event_loop().call_later(0.01, blocked_until, gate)),
        "a timer's callback blocked_until",
    )

    class SlowRecipient:
        def __init__(self, gate: threading.Event) -> None:
            self.gate = gate

        def tell(self, message: Any) -> None:
            blocked_until(self.gate)

    reported_while_blocked(
        watch,
        lambda gate: call_on_loop(Delivery(Ref(), SlowRecipient(gate)).on_chunk, {}),
        "the stream sink Delivery.on_chunk",
    )


def test_a_healthy_loop_is_not_reported(watch):
    done = threading.Event()
    for _ in range(200):
        call_on_loop(lambda: None)
    call_on_loop(done.set)
    assert done.wait(5)
    threading.Event().wait(THRESHOLD * 2)  # quiet time for the watchdog to look at
    assert watch.records == []


def test_invalid_thresholds():
    with pytest.raises(ValueError, match="threshold"):
        set_loop_watchdog(0)


def test_lowering_the_threshold_does_not_report_an_idle_loop(watch):
    # Regression: the heartbeat kept the pace of the old threshold (every 10 s for 40 s), so
    # right after lowering it the idle loop was reported blocked, then "runs again after
    # being blocked for 2.0 s".
    watchdog = actors._loop._Shared.watchdog
    assert watchdog is not None
    beat = watchdog._beat
    set_loop_watchdog(40.0)
    for _ in range(500):  # until a heartbeat has run since: the next is at the slow pace
        if watchdog._beat != beat:
            break
        threading.Event().wait(0.01)
    assert watchdog._beat != beat
    threading.Event().wait(THRESHOLD)  # longer than the fast pace: no fast beat is left
    set_loop_watchdog(THRESHOLD)
    threading.Event().wait(THRESHOLD * 4)  # quiet time for the watchdog to look at
    assert watch.records == []


@pytest.mark.parametrize("threshold", [float("inf"), float("nan"), -1.0])
def test_a_threshold_that_is_not_finite_is_refused_and_the_watchdog_lives_on(watch, threshold):
    # Regression: set_loop_watchdog(math.inf) was accepted and killed the watchdog thread
    # (OverflowError in its wait): no blocked loop was ever reported again.
    with pytest.raises(ValueError, match="threshold"):
        set_loop_watchdog(threshold)
    set_loop_watchdog(THRESHOLD)
    reported_while_blocked(
        watch, lambda gate: call_on_loop(blocked_until, gate), "the callback blocked_until"
    )


def test_a_huge_threshold_does_not_kill_the_watchdog(watch):
    set_loop_watchdog(1e12)  # longer than a thread can wait at once
    threading.Event().wait(0.1)
    assert [t for t in threading.enumerate() if t.name == "actors-loop-watchdog"]
    set_loop_watchdog(THRESHOLD)
    reported_while_blocked(
        watch, lambda gate: call_on_loop(blocked_until, gate), "the callback blocked_until"
    )


def test_no_report_begins_once_the_watchdog_is_disabled(watch):
    gate = threading.Event()
    call_on_loop(blocked_until, gate)
    try:
        watch.wait_for(r"has been blocked for")
        set_loop_watchdog(None)
        watch.records.clear()
        threading.Event().wait(THRESHOLD * 2)
    finally:
        gate.set()
    threading.Event().wait(THRESHOLD)
    assert watch.records == []  # neither a new report nor a recovery


def test_a_task_that_blocks_is_named_by_its_coroutine(watch):
    # It was named by the asyncio internals that step it ("<TaskStepMethWrapper ...>").
    async def sulking(gate: threading.Event) -> None:
        blocked_until(gate)

    def block(gate: threading.Event) -> None:
        asyncio.run_coroutine_threadsafe(sulking(gate), event_loop())

    report = reported_while_blocked(watch, block, "the task")
    assert "sulking" in report
