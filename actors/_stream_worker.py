"""`StreamWorker`: an actor that performs one stream and tells its recipient each chunk.

The worker is a `LoopActor`: it owns no thread and its handlers never block, because the stream
itself runs on the shared loop and calls the worker back there. So a message for the worker
(``stop()``, ``cancel()``, a monitor's DOWN) is handled at once, never queued behind a read.

A `StreamRun` is one stream's life across worker incarnations. It holds the recipient's
`Delivery` (so the recipient hears exactly one terminal message, whatever happens), the
result, and what a supervisor needs to retry: the last error and the attempt count. A worker
that fails with an error its run may retry ends abnormally *without* telling the recipient, so
its supervisor can restart it; the next incarnation tells ``("restart", ...)`` and runs the
request again. When no restart follows, the supervisor calls `StreamRun.give_up`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, NamedTuple

import pykka

from actors._deferred import Deferred
from actors._loop import call_on_loop, refuse_blocking
from actors._loop_actor import LoopActor
from actors._monitor import Down, demonitor, monitor
from actors._ref import Ref
from actors._stream import Delivery, Recipient, StreamSource

__all__ = ["StreamRun", "StreamWorker"]

logger = logging.getLogger(__name__)


def _never(_exc: BaseException) -> bool:
    return False


def _itself(exc: BaseException) -> BaseException:
    return exc


class StreamRun:
    """One stream's life: its source, recipient, result, and retry state.

    ``retryable(exc)`` says whether a failure may be retried by restarting the worker; the
    default retries nothing, so the first failure is final. ``tell_failed(exc)`` is the error
    the stream ends with when the recipient's ``tell`` of a restart raises ``exc`` (its bug;
    by default ``exc`` itself). Thread-safe where it says so.
    """

    def __init__(
        self,
        source: StreamSource,
        recipient: Recipient,
        *,
        retryable: Callable[[BaseException], bool] = _never,
    ) -> None:
        self.ref: Ref = source.ref
        self.recipient = recipient
        self.delivery = Delivery(self.ref, recipient)
        self.retryable = retryable
        self.tell_failed: Callable[[BaseException], BaseException] = _itself
        self.attempt = 0
        """Restarts so far (0 during the first attempt)."""
        self.last_error: BaseException | None = None
        self.worker: pykka.ActorRef[Any] | None = None
        """The current worker incarnation."""
        self._first: StreamSource | None = source
        self._source = source
        self._active = False  # an attempt is running (changed on the loop thread only)
        self._cancelled: str | None = None
        self._done = False
        self._ended: threading.Event | None = None  # made by the first `result` that waits
        self._result: Any = None
        self._error: BaseException | None = None
        self._replies: list[Deferred[Any]] | None = None
        self._observers: list[Callable[[Any, BaseException | None], None]] | None = None

    @property
    def done(self) -> bool:
        """Whether the stream has ended (the recipient has its terminal message)."""
        return self._done

    @property
    def cancelled(self) -> bool:
        return self._cancelled is not None

    def next_source(self) -> StreamSource:
        """The source for the attempt that starts now; tells the recipient of a restart.

        A recipient that died meanwhile gets nothing: the source is cancelled with
        ``"recipient_died"``, so it ends as soon as it starts, sending nothing; one whose
        ``tell`` raises ends the stream with ``tell_failed(exc)``. Loop thread.
        The caller must start it and call `attempt_ended` when it ends.
        """
        self._active = True
        if self._first is not None:
            source, self._first = self._first, None
            return source
        self.attempt += 1
        self._source = self._source.again()
        if self._cancelled is not None:  # cancelled while the restart was pending
            self._source.cancel(self._cancelled)
        else:
            error = self.last_error
            assert error is not None, "a restart follows a failure"
            details = getattr(self._source, "restart_details", None)
            try:
                self.delivery.on_restart(self.attempt, error, details)
            except pykka.ActorDeadError:  # it died during the backoff: end as its monitor would
                self._cancelled = "recipient_died"
                self._source.cancel("recipient_died")
            except Exception as exc:  # its bug: the stream ends, as when a chunk's tell raises
                logger.exception("the recipient of %s raised on its restart message", self.ref)
                self.fail(self.tell_failed(exc))
                self._source.cancel("caller")  # so the attempt ends as it starts, unsent
        return self._source

    def may_retry(self, exc: BaseException) -> bool:
        """Whether ``exc`` should end this attempt with a restart rather than the stream.

        A ``retryable`` that raises is a bug nobody else hears of: it is logged, and the
        failure is not retried (the stream ends with ``exc``) rather than left hanging.
        """
        if self._cancelled is not None or self.done:
            return False
        try:
            return bool(self.retryable(exc))
        except Exception:
            logger.exception("the retry predicate of %s raised on %r: not retried", self.ref, exc)
            return False

    def attempt_ended(self) -> None:
        """The attempt started by `next_source` has ended (loop thread)."""
        self._active = False

    def cancel(self, reason: str = "caller") -> None:
        """End the stream from any thread; the recipient hears ``("error", <cancelled>)``.

        It takes effect at once, also between attempts (while a restart waits out its
        backoff): no further attempt starts.
        """
        self._cancelled = reason  # from now on nothing is retried
        call_on_loop(self._cancel_now, reason)

    def _cancel_now(self, reason: str) -> None:
        if self.done:
            return
        if self._active:
            self._source.cancel(reason)
            return
        # Between attempts: end it with the source's own cancelled error, without any I/O
        # (a cancelled source reports its error as soon as it is started).
        fresh = self._source.again()
        fresh.cancel(reason)
        fresh.start(_Ending(self))

    def add_reply(self, reply: Deferred[Any]) -> None:
        """Settle ``reply`` with the stream's outcome when it ends."""
        if self._replies is None:
            self._replies = []
        self._replies.append(reply)

    def on_end(self, callback: Callable[[Any, BaseException | None], None]) -> None:
        """Call ``callback(result, error)`` once the stream has ended, right after its
        recipient was told the terminal message (on the loop thread; it must not block); at
        once if it has ended already. Call it on the loop thread. For observers, such as
        telemetry; what it raises is logged."""
        if self._done:
            self._observe(callback)
            return
        if self._observers is None:  # most streams have none: no list for them
            self._observers = []
        self._observers.append(callback)

    def succeed(self, result: Any) -> None:
        """End with ``("done", result)`` (loop thread)."""
        if self.done:
            return
        self._result = result
        self.delivery.on_done(result)
        self._settle()

    def fail(self, exc: BaseException) -> None:
        """End with ``("error", exc)`` (loop thread)."""
        if self.done:
            return
        self._error = exc
        self.delivery.on_error(exc)
        self._settle()

    def give_up(self, exc: BaseException | None = None) -> None:
        """No restart will follow: end with the last error, else ``exc`` (for supervisors;
        loop thread; idempotent). An attempt still running (its worker was killed, so it did
        not cancel it) is cancelled: its connection does not outlive the stream."""
        error = self.last_error or exc
        if error is None:
            error = RuntimeError(f"the worker for {self.ref} ended before its stream finished")
        active = self._active and not self.done
        self.fail(error)
        if active:
            self._source.cancel("worker_failed")

    def worker_lost(self) -> None:
        """The worker ended while its attempt ran (it was killed, so no hook of its cancelled
        it): cancel the stream (``"worker_failed"``) even if a restart follows, which then
        finds it ended and stops. A worker that ends to be retried has ended its attempt
        first, and is left alone. Loop thread; idempotent."""
        if self._active and not self.done:
            self._cancelled = "worker_failed"
            self._source.cancel("worker_failed")

    def result(self, timeout: float | None = None) -> Any:
        """Block until the stream ends; return its result or raise its error.

        Raises the builtin `TimeoutError` if it has not ended within ``timeout`` seconds. On
        the shared loop thread, where the stream runs, it raises `actors.WouldBlockLoop` at
        once unless the stream has ended.
        """
        ended = None
        if not self._done:
            refuse_blocking(f"waiting for the stream {self.ref}")
            with _waiting:
                if not self._done:
                    if self._ended is None:
                        self._ended = threading.Event()
                    ended = self._ended
        if ended is not None and not ended.wait(timeout):
            raise TimeoutError(f"the stream {self.ref} did not end within {timeout} s")
        if self._error is not None:
            raise self._error
        return self._result

    def _settle(self) -> None:
        with _waiting:
            self._done = True
            ended = self._ended
        if ended is not None:
            ended.set()
        for reply in self._replies or ():
            if self._error is not None:
                reply.fail(self._error)
            else:
                reply.resolve(self._result)
        for observer in self._observers or ():
            self._observe(observer)

    def _observe(self, observer: Callable[[Any, BaseException | None], None]) -> None:
        try:
            observer(self._result, self._error)
        except Exception:
            logger.exception("an on_end observer of %s raised", self.ref)


_waiting = threading.Lock()
"""Guards `StreamRun`'s end event, which only a waiting `result` makes: most streams are never
waited for, and an event costs six objects for the collector to track for the stream's life."""


class _Ending:
    """Sink for the never-sent attempt that carries a cancel between attempts."""

    __slots__ = ("_run",)

    def __init__(self, run: StreamRun) -> None:
        self._run = run

    def on_chunk(self, chunk: Any) -> None:
        pass

    def on_done(self, result: Any) -> None:
        pass

    def on_error(self, exc: BaseException) -> None:
        self._run.fail(exc)


class _Failed(NamedTuple):
    """Told by the worker to itself, so that a retryable failure ends it abnormally."""

    error: BaseException


class StreamWorker(LoopActor):
    """Performs one stream and tells a recipient ``(ref, ("data", chunk))`` per chunk.

    Then exactly one ``("done", response)`` or ``("error", exc)``; see `actors.Delivery`.
    Start it with a source and call ``proxy().send_to(recipient)``, which returns a future of
    the accumulated response; or start it with a `StreamRun` (as a supervisor does), and it
    begins at once. It stops itself when the stream ends. Stopping it, or ``cancel()``, ends
    the stream at once with a cancelled error. If the recipient is an actor that dies, the
    stream ends (within the monitor's sweep when the stream is idle).
    """

    def __init__(self, source: StreamSource | None = None, *, run: StreamRun | None = None):
        super().__init__()
        if (source is None) == (run is None):
            raise TypeError("StreamWorker takes a source or a run, not both or neither")
        self._source = source
        self._run = run
        self._monitor: Ref | None = None
        self._sink: _WorkerSink | None = None

    def on_start(self) -> None:
        if self._run is not None:
            self._begin(self._run)

    def send_to(self, recipient: Recipient) -> Deferred[Any]:
        """Run the stream to ``recipient``; the reply is the accumulated response."""
        if self._run is not None:
            raise RuntimeError(f"{self} is already streaming")
        assert self._source is not None
        self._run = run = StreamRun(self._source, recipient)
        reply: Deferred[Any] = Deferred()
        run.add_reply(reply)
        self._begin(run)
        return reply

    def cancel(self) -> None:
        """End the stream now; the recipient hears ``("error", <cancelled>)``."""
        if self._run is not None:
            self._run.cancel()

    def on_receive(self, message: Any) -> Any:
        match message:
            case _Failed(error=error):
                self.exit_abnormally(error)  # a retry is due: no crash report
            case Down(ref=ref) if ref == self._monitor and self._run is not None:
                self._run.cancel("recipient_died")
            case _:
                return super().on_receive(message)
        return None

    def on_stop(self) -> None:
        self._end_attempt("shutdown")

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._end_attempt("worker_failed")

    def _begin(self, run: StreamRun) -> None:
        run.worker = self.actor_ref
        if run.done:  # ended (cancelled) while this incarnation's restart was pending
            self.stop()
            return
        source = run.next_source()
        if isinstance(run.recipient, pykka.ActorRef):
            self._monitor = monitor(run.recipient, self.actor_ref)
        self._sink = _WorkerSink(self, run)
        source.start(self._sink)

    def _end_attempt(self, reason: str) -> None:
        """Leave nothing running: cancel a stream still in flight, drop the monitor."""
        if self._monitor is not None:
            demonitor(self._monitor)
            self._monitor = None
        run, sink = self._run, self._sink
        self._sink = None  # it points back at this worker: no cycle for the collector
        if run is not None and sink is not None and not sink.ended:
            run.cancel(reason)


class _WorkerSink:
    """The source's callbacks for one attempt (loop thread).

    Chunks go straight to the recipient's `Delivery` (no extra call per chunk).
    """

    __slots__ = ("_run", "_worker", "ended", "on_chunk")

    def __init__(self, worker: StreamWorker, run: StreamRun) -> None:
        self._worker = worker
        self._run = run
        self.on_chunk: Callable[[Any], None] = run.delivery.on_chunk
        self.ended = False

    def on_done(self, result: Any) -> None:
        self.ended = True
        self._run.attempt_ended()
        self._run.succeed(result)
        self._stop()

    def on_error(self, exc: BaseException) -> None:
        self.ended = True
        run = self._run
        run.attempt_ended()
        if run.may_retry(exc):
            run.last_error = exc
            ref = self._worker.actor_ref
            try:
                ref.tell(_Failed(exc))
            except pykka.ActorDeadError:
                pass
            else:
                return
        run.fail(exc)
        self._stop()

    def _stop(self) -> None:
        if self._worker.actor_ref.is_alive():
            with contextlib.suppress(pykka.ActorDeadError):
                self._worker.stop()
