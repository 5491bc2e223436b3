"""`StreamRun.on_end` observers, and what a worker leaves behind when it ends or crashes.

Observers hear ``(result, error)`` once, after the recipient's terminal message; a worker that
crashes mid-stream cancels its attempt with ``"worker_failed"``; a worker that ends drops its
monitor of the recipient, so the recipient's mailbox keeps nothing of it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from actors import Actor, Inbox, Ref, StreamRun, wait_exit
from actors._loop import call_on_loop, event_loop
from actors._stream import StreamSink
from actors._stream_worker import StreamWorker


class _Source:
    """A source driven by hand: it records its cancels and ends as the test says."""

    def __init__(self) -> None:
        self.ref = Ref()
        self.cancelled: list[str] = []

    def cancel(self, reason: str = "caller") -> None:
        self.cancelled.append(reason)


def _on_loop(fn: Any, *args: Any) -> None:
    """Run ``fn(*args)`` on the loop thread and wait for it (bounded)."""
    finished = threading.Event()

    def call() -> None:
        try:
            fn(*args)
        finally:
            finished.set()

    call_on_loop(call)
    assert finished.wait(5), f"{fn} did not run on the loop within 5 s"


@pytest.mark.parametrize("outcome", ["done", "error"])
def test_observers_hear_the_outcome_once_after_the_recipient_in_the_order_added(outcome):
    inbox = Inbox()
    run = StreamRun(_Source(), inbox)  # type: ignore[arg-type]
    heard: list[tuple[str, Any, Any, int]] = []

    def observer(name: str) -> Any:
        # What the recipient had been told by the time the observer runs.
        return lambda result, error: heard.append((name, result, error, len(inbox.drain())))

    _on_loop(run.on_end, observer("first"))
    _on_loop(run.on_end, observer("second"))
    assert heard == []  # not before the end
    error = RuntimeError("cut")
    if outcome == "done":
        _on_loop(run.succeed, {"all": 1})
        _on_loop(run.fail, RuntimeError("late"))
        expected = [("first", {"all": 1}, None, 1), ("second", {"all": 1}, None, 0)]
    else:
        _on_loop(run.fail, error)
        _on_loop(run.succeed, {"late": True})
        expected = [("first", None, error, 1), ("second", None, error, 0)]
    assert heard == expected


def test_an_observer_added_after_the_end_hears_it_at_once_and_only_once():
    run = StreamRun(_Source(), Inbox())  # type: ignore[arg-type]
    _on_loop(run.succeed, {"all": 1})
    heard: list[tuple[Any, Any]] = []
    _on_loop(run.on_end, lambda result, error: heard.append((result, error)))
    assert heard == [({"all": 1}, None)]
    _on_loop(run.fail, RuntimeError("late"))
    assert heard == [({"all": 1}, None)]


def test_an_observer_that_raises_is_logged_and_the_others_still_hear(caplog):
    run = StreamRun(_Source(), Inbox())  # type: ignore[arg-type]
    heard: list[Any] = []

    def broken(result: Any, error: Any) -> None:
        raise KeyError("an observer's bug")

    _on_loop(run.on_end, broken)
    _on_loop(run.on_end, lambda result, error: heard.append(result))
    with caplog.at_level(logging.ERROR, logger="actors._stream_worker"):
        _on_loop(run.succeed, {"all": 1})
        _on_loop(run.on_end, broken)  # after the end: logged too, not raised to the caller
    assert heard == [{"all": 1}]
    logged = [r for r in caplog.records if "an on_end observer of" in r.getMessage()]
    assert len(logged) == 2
    assert all(str(run.ref) in r.getMessage() for r in logged)
    assert run.result(timeout=5) == {"all": 1}


class _Endless:
    """A source that runs until cancelled, then reports the cancel's reason as its error."""

    def __init__(self) -> None:
        self.ref = Ref()
        self.sink: StreamSink | None = None
        self.cancelled: list[str] = []

    def start(self, sink: StreamSink) -> None:
        self.sink = sink

    def cancel(self, reason: str = "caller") -> None:
        self.cancelled.append(reason)
        sink, self.sink = self.sink, None
        if sink is not None:
            event_loop().call_soon_threadsafe(sink.on_error, RuntimeError(reason))

    def again(self) -> _Endless:
        raise AssertionError("never restarted")


def test_a_worker_that_crashes_mid_attempt_cancels_it_as_worker_failed():
    inbox = Inbox()
    source = _Endless()
    run = StreamRun(source, inbox)  # type: ignore[arg-type]
    worker = StreamWorker.start(run=run)
    # A told call that raises (it is streaming already) crashes the worker: on_failure runs.
    worker.proxy().send_to.defer(Inbox())
    assert wait_exit(worker, 5).kind != "normal"
    with pytest.raises(RuntimeError, match=r"^worker_failed$"):
        run.result(timeout=5)
    assert source.cancelled == ["worker_failed"]
    [(ref, (kind, error))] = inbox.drain()
    assert (ref, kind, str(error)) == (run.ref, "error", "worker_failed")


class _Recipient(Actor):
    pass


class _Finishes:
    """A source that tells one chunk and then is done, on the loop."""

    def __init__(self) -> None:
        self.ref = Ref()

    def start(self, sink: StreamSink) -> None:
        def run() -> None:
            sink.on_chunk({"n": 1})
            sink.on_done({"all": 1})

        event_loop().call_soon(run)

    def cancel(self, reason: str = "caller") -> None:
        pass

    def again(self) -> _Finishes:
        raise AssertionError("never restarted")


def test_a_worker_that_ended_leaves_no_monitor_on_its_recipient(caplog):
    recipient = _Recipient.start()
    try:
        worker = StreamWorker.start(_Finishes())
        assert worker.proxy().send_to(recipient).get(timeout=5) == {"all": 1}
        assert wait_exit(worker, 5).kind == "normal"
        assert not recipient.actor_inbox._monitors  # type: ignore[attr-defined]
    finally:
        with caplog.at_level(logging.DEBUG, logger="actors._monitor"):
            recipient.stop()
            assert wait_exit(recipient, 5).kind == "normal"
    # No DOWN was sent to the ended worker (which would refuse it).
    assert not [r for r in caplog.records if "refused the DOWN" in r.getMessage()]


class _Again(_Source):
    """A hand-driven source whose every run records its cancels in the one list."""

    def again(self) -> _Again:
        return self


def test_giving_up_on_a_running_attempt_cancels_it_as_worker_failed():
    source = _Again()
    run = StreamRun(source, Inbox())  # type: ignore[arg-type]
    _on_loop(run.next_source)  # the attempt runs: its worker was killed, say
    _on_loop(run.give_up, RuntimeError("killed"))
    assert source.cancelled == ["worker_failed"]
    with pytest.raises(RuntimeError, match="killed"):
        run.result(timeout=5)


def test_a_lost_worker_cancels_its_attempt_and_the_restart_that_follows_as_worker_failed():
    source = _Again()
    run = StreamRun(source, Inbox())  # type: ignore[arg-type]
    _on_loop(run.next_source)
    _on_loop(run.worker_lost)
    assert run.cancelled
    assert source.cancelled == ["worker_failed"]
    _on_loop(run.attempt_ended)
    _on_loop(run.next_source)  # the supervisor's restart finds it cancelled: it ends at once
    assert source.cancelled == ["worker_failed", "worker_failed"]


def test_a_stream_that_ended_by_itself_was_not_cancelled_when_its_worker_stopped():
    inbox = Inbox()
    run = StreamRun(_Finishes(), inbox)  # type: ignore[arg-type]
    worker = StreamWorker.start(run=run)
    assert run.result(timeout=5) == {"all": 1}
    assert wait_exit(worker, 5).kind == "normal"
    assert not run.cancelled  # the stop that follows the end cancels nothing
    assert [message for _, message in inbox.drain()] == [("data", {"n": 1}), ("done", {"all": 1})]


def test_waiting_for_a_stream_on_the_loop_thread_names_the_stream():
    from actors import WouldBlockLoop

    run = StreamRun(_Source(), Inbox())  # type: ignore[arg-type]
    raised: list[BaseException] = []

    def wait_on_loop() -> None:
        try:
            run.result(timeout=5)
        except WouldBlockLoop as exc:
            raised.append(exc)

    _on_loop(wait_on_loop)
    assert len(raised) == 1
    assert f"waiting for the stream {run.ref}" in str(raised[0])


@pytest.mark.parametrize("both", [True, False], ids=["both", "neither"])
def test_a_worker_takes_a_source_or_a_run_and_says_so(both):
    source = _Finishes()
    run = StreamRun(source, Inbox()) if both else None  # type: ignore[arg-type]
    with pytest.raises(TypeError) as info:
        StreamWorker(source if both else None, run=run)
    assert str(info.value) == "StreamWorker takes a source or a run, not both or neither"
