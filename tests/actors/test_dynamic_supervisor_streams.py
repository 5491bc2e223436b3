"""Supervised streams: StreamWorker under a DynamicSupervisor, with on_exit -> StreamRun.give_up.

This is how the stream layer uses a supervisor: a ``transient`` worker per stream, a budget
per stream, and an ``on_exit`` hook that ends the stream when no restart follows. Whatever
happens, the recipient reads ``data* (restart data*)* (done | error)``.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from actors import (
    ChildSpec,
    DynamicSupervisor,
    Exit,
    Inbox,
    Ref,
    wait_exit,
)
from actors._loop import event_loop
from actors._stream import StreamSink
from actors._stream_worker import StreamRun, StreamWorker


class Retryable(Exception):
    pass


class Fatal(Exception):
    pass


class ScriptedSource:
    """A stream whose n-th attempt tells one chunk and then ends as ``outcomes[n]`` says.

    ``None`` as an outcome never ends (until cancelled).
    """

    def __init__(self, outcomes: list[Any], ref: Ref | None = None, attempt: int = 0) -> None:
        self.ref = ref or Ref()
        self.outcomes = outcomes
        self.attempt = attempt
        self.sink: StreamSink | None = None

    def start(self, sink: StreamSink) -> None:
        self.sink = sink
        event_loop().call_soon(self._run)

    def _run(self) -> None:
        assert self.sink is not None
        self.sink.on_chunk({"attempt": self.attempt})
        outcome = self.outcomes[min(self.attempt, len(self.outcomes) - 1)]
        if isinstance(outcome, BaseException):
            self.sink.on_error(outcome)
        elif outcome is not None:
            self.sink.on_done(outcome)

    def cancel(self, reason: str = "caller") -> None:
        sink, self.sink = self.sink, None
        if sink is not None:
            event_loop().call_soon_threadsafe(sink.on_error, RuntimeError(reason))

    def again(self) -> ScriptedSource:
        return ScriptedSource(self.outcomes, self.ref, self.attempt + 1)


def supervise(proxy: Any, outcomes: list[Any]) -> tuple[StreamRun, Inbox, threading.Event]:
    """Run a stream under the supervisor; also an event set once no restart will follow."""
    inbox = Inbox()
    over = threading.Event()
    run = StreamRun(
        ScriptedSource(outcomes), inbox, retryable=lambda exc: isinstance(exc, Retryable)
    )

    def on_exit(exit: Exit, restarting: bool) -> None:
        if not restarting:
            run.give_up(exit.exception)
            over.set()

    spec = ChildSpec(
        run.ref,
        lambda: StreamWorker.start(run=run),
        restart="transient",
        max_restarts=3,
        max_seconds=5.0,
        on_exit=on_exit,
    )
    proxy.start_child(spec).get(timeout=5)
    return run, inbox, over


def messages(run: StreamRun, inbox: Inbox) -> list[Any]:
    """The recipient's messages up to the terminal one; checks that nothing follows it."""
    received = []
    while True:
        ref, message = inbox.receive(timeout=5)
        assert ref == run.ref
        received.append(message)
        if message[0] in ("done", "error"):
            return received


@pytest.fixture
def proxy() -> Any:
    sup = DynamicSupervisor.start(max_restarts=None)
    yield sup.proxy()
    sup.stop(timeout=5)


def test_retries_then_done(proxy):
    run, inbox, over = supervise(proxy, [Retryable("1"), Retryable("2"), {"response": "ok"}])
    received = messages(run, inbox)
    assert [m[0] for m in received] == ["data", "restart", "data", "restart", "data", "done"]
    assert [m[1]["attempt"] for m in received if m[0] == "restart"] == [1, 2]
    assert run.result(timeout=5) == {"response": "ok"}
    assert over.wait(5)  # the worker stopped itself after telling "done"
    assert proxy.which_children().get(timeout=5) == []
    assert inbox.drain() == []


def test_budget_spent_ends_with_the_last_error(proxy):
    run, inbox, over = supervise(proxy, [Retryable("again")])
    received = messages(run, inbox)
    kinds = [m[0] for m in received]
    assert kinds == ["data", *["restart", "data"] * 3, "error"]
    assert str(received[-1][1]) == "again"
    assert over.wait(5)
    assert proxy.which_children().get(timeout=5) == []
    assert inbox.drain() == []


def test_a_fatal_error_ends_at_once(proxy):
    run, inbox, over = supervise(proxy, [Fatal("no")])
    assert [m[0] for m in messages(run, inbox)] == ["data", "error"]
    assert over.wait(5)
    assert proxy.which_children().get(timeout=5) == []
    assert inbox.drain() == []


def test_terminating_a_running_stream_ends_it_once(proxy):
    run, inbox, over = supervise(proxy, [None])
    worker = run.worker
    assert worker is not None
    proxy.terminate_child(worker).get(timeout=5)
    assert over.is_set()  # the hook ran before terminate_child returned
    assert wait_exit(worker, 5) is Exit.SHUTDOWN
    assert [m[0] for m in messages(run, inbox)] == ["data", "error"]
    assert inbox.drain() == []


class DetailedSource(ScriptedSource):
    """A source whose runs say which try they are in the restart message."""

    @property
    def restart_details(self) -> dict[str, Any]:
        return {"try": f"number {self.attempt}", "attempt": "not this"}

    def again(self) -> DetailedSource:
        return DetailedSource(self.outcomes, self.ref, self.attempt + 1)


def test_a_source_s_restart_details_join_the_restart_message(proxy):
    inbox = Inbox()
    run = StreamRun(
        DetailedSource([Retryable("1"), {"response": "ok"}]),
        inbox,
        retryable=lambda exc: isinstance(exc, Retryable),
    )
    spec = ChildSpec(run.ref, lambda: StreamWorker.start(run=run), restart="transient")
    proxy.start_child(spec).get(timeout=5)
    received = messages(run, inbox)
    (restart,) = [m[1] for m in received if m[0] == "restart"]
    assert list(restart) == ["attempt", "error", "try"]
    assert restart["attempt"] == 1  # the run's own count wins over a detail of that name
    assert restart["try"] == "number 1"
    assert str(restart["error"]) == "1"


class CancelRetryable(ScriptedSource):
    """A source whose cancel ends it with an error the run's predicate would retry."""

    def cancel(self, reason: str = "caller") -> None:
        sink, self.sink = self.sink, None
        if sink is not None:
            event_loop().call_soon_threadsafe(sink.on_error, Retryable(reason))

    def again(self) -> CancelRetryable:
        return CancelRetryable(self.outcomes, self.ref, self.attempt + 1)


def test_a_cancelled_stream_is_never_retried_whatever_its_error(proxy):
    inbox = Inbox()
    run = StreamRun(
        CancelRetryable([None]), inbox, retryable=lambda exc: isinstance(exc, Retryable)
    )
    spec = ChildSpec(run.ref, lambda: StreamWorker.start(run=run), restart="transient")
    proxy.start_child(spec).get(timeout=5)
    assert inbox.receive(timeout=5)[1][0] == "data"
    run.cancel()
    received = messages(run, inbox)
    assert [m[0] for m in received] == ["error"]  # no restart, though the error is retryable
    assert str(received[0][1]) == "caller"
    assert run.cancelled


def test_a_worker_of_its_own_never_retries_the_first_failure_is_told():
    # StreamWorker.send_to without a supervisor: the run's default predicate retries nothing.
    inbox = Inbox()
    worker = StreamWorker.start(ScriptedSource([Retryable("once")]))
    reply = worker.proxy().send_to(inbox)
    with pytest.raises(Retryable, match="once"):
        reply.get(timeout=5)
    told = [message for _ref, message in inbox.drain()]
    assert [kind for kind, _ in told] == ["data", "error"]
    assert wait_exit(worker, 5).kind == "normal"


def test_a_worker_streams_once():
    worker = StreamWorker.start(ScriptedSource([None]))
    proxy = worker.proxy()
    proxy.send_to(Inbox())
    with pytest.raises(RuntimeError, match=r"StreamWorker .* is already streaming"):
        proxy.send_to(Inbox()).get(timeout=5)
    worker.stop()


def test_a_down_from_another_monitor_does_not_end_the_stream(proxy):
    from actors import Actor, Down

    class Other(Actor):
        pass

    run, inbox, over = supervise(proxy, [None])
    assert inbox.receive(timeout=5)[1][0] == "data"
    other = Other.start()
    other.stop()
    stranger = Down(Ref(), other, Exit.NORMAL)  # a DOWN of a monitor that is not the worker's
    worker = run.worker
    assert worker is not None
    worker.tell(stranger)
    with pytest.raises(TimeoutError):
        run.result(timeout=0.3)  # still running: the wait ends, not the stream
    assert not run.done
    run.cancel()
    assert [m[0] for m in messages(run, inbox)] == ["error"]
    assert over.wait(5)
