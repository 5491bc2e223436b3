"""Supervised streams: ``stream=recipient`` runs a `StreamWorker` under a supervisor.

The worker is a ``transient`` child: a failure a retry may mend (`RetryPolicy.retryable`, by
default `is_retryable`: a transport error, a cut or stalled stream, HTTP 5xx/408/429, most
``{"error": ...}`` lines) ends it abnormally, the supervisor restarts it after a backoff, and the
new incarnation tells ``("restart", {"attempt": n, "error": exc})`` and sends the request again.
Other failures end the stream at once. The restart budget is per stream (`RetryPolicy`); when the
supervisor will not restart, the child spec's ``on_exit`` hook ends the stream with the last
error, so every stream gets exactly one terminal message whatever the supervisor does.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pykka
from pykka.messages import ProxyCall

from actors import (
    ChildSpec,
    DynamicSupervisor,
    Exit,
    Recipient,
    Ref,
    StreamRun,
    StreamWorker,
    call_on_loop,
    send_request,
    start_instance,
    wait_exit,
)
from ollama_actor._errors import InternalError, OllamaError, StreamCancelled, cancelled
from ollama_actor._retry import DEFAULT_RETRY, RetryPolicy
from ollama_actor._stream_events import wanted
from ollama_actor._streaming import Streaming, _refuse_loop_thread

__all__ = ["StreamHandle", "default_supervisor", "stop_default_supervisor", "stream_to"]


class StreamHandle:
    """A stream running in a supervised `StreamWorker`, telling its recipient the protocol.

    ``ref`` names the stream's messages; ``worker`` is the current worker's `ActorRef` (from
    the moment the call returns, even before the supervisor has started it; a new one after
    each restart); ``result(timeout)`` blocks
    for the accumulated response (or raises the stream's error, or the builtin `TimeoutError`);
    ``cancel()`` ends it at once from any thread, and the recipient hears
    ``(ref, ("error", StreamCancelled(...)))``.
    """

    __slots__ = ("_incarnations", "_run", "_streaming")

    def __init__(self, run: StreamRun, incarnations: _Incarnations, streaming: Streaming) -> None:
        self._run = run
        self._incarnations = incarnations
        self._streaming = streaming

    def __repr__(self) -> str:
        state = "done" if self._run.done else "running"
        return f"<StreamHandle {self.ref} {state}>"

    @property
    def ref(self) -> Ref:
        return self._run.ref

    @property
    def worker(self) -> pykka.ActorRef[Any]:
        return self._incarnations.worker()

    @property
    def attempt(self) -> int:
        """Restarts so far."""
        return self._run.attempt

    @property
    def done(self) -> bool:
        """Whether the stream has ended (its terminal message has been told)."""
        return self._run.done

    @property
    def hosts(self) -> list[str]:
        """The URLs of the hosts its attempts were sent to so far, in order: a pool's stream
        (``Ollama([url, ...])``); empty for a client of one server."""
        return self._streaming.hosts

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the accumulated response of the attempt that succeeded, or raise (the
        builtin `TimeoutError` after ``timeout`` seconds; `UsageError`, also an
        `actors.WouldBlockLoop`, at once on the shared loop thread, which the stream needs,
        unless it has ended)."""
        if not self._run.done:
            _refuse_loop_thread(f"waiting for the stream {self.ref}", _NOT_ON_LOOP)
        return self._run.result(timeout)  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """End the stream now; a no-op once it has ended."""
        self._run.cancel()

    def on_end(self, callback: Callable[[Any, BaseException | None], None]) -> None:
        """Call ``callback(result, error)`` once the stream has ended, right after its recipient
        was told the terminal message; at once if it already has. Never blocks; the callback
        runs on the loop thread and must not block either (what it raises is logged)."""
        call_on_loop(self._run.on_end, callback)


_NOT_ON_LOOP = "use on_end(callback), or have the recipient act on the stream's terminal message"


class _StreamSupervisor(DynamicSupervisor):
    """The package's default supervisor: never gives up, never keeps the process alive."""

    use_daemon_thread = True


class _Default:
    lock = threading.Lock()
    supervisor: pykka.ActorRef[Any] | None = None


def default_supervisor() -> pykka.ActorRef[Any]:
    """The package's `DynamicSupervisor` for streams, started on first use.

    Its own restart intensity is unlimited, so it outlives any number of failing streams;
    each stream has its own budget (`RetryPolicy`).
    """
    with _Default.lock:
        ref = _Default.supervisor
        if ref is None or not ref.is_alive():
            ref = _Default.supervisor = _StreamSupervisor.start(max_restarts=None)
        return ref


def stop_default_supervisor(timeout: float = 10.0) -> None:
    """Stop the package's default supervisor if it runs; the next stream starts a fresh one.

    Its streams end: each recipient hears ``("error", StreamCancelled(...))`` with reason
    ``"shutdown"``. For tests that want no stream of one test to outlive it, and for an
    orderly exit. Blocks until it has ended, at most ``timeout`` seconds (then the builtin
    `TimeoutError`); not on the shared loop thread (`UsageError`, also an
    `actors.WouldBlockLoop`).
    """
    _refuse_loop_thread("stop_default_supervisor", "call it from another thread")
    with _Default.lock:
        ref, _Default.supervisor = _Default.supervisor, None
    if ref is not None:
        with contextlib.suppress(pykka.ActorDeadError):
            ref.stop(block=False)
        wait_exit(ref, timeout)


def stream_to(
    streaming: Streaming,
    recipient: Recipient,
    *,
    supervisor: pykka.ActorRef[Any] | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> StreamHandle:
    """Start a supervised worker that runs ``streaming`` to ``recipient``; never blocks.

    Returns at once, from any thread (a loop actor's handler included). If the supervisor
    refuses the child (``max_children`` reached, or it has stopped), the stream ends with
    ``("error", exc)`` like any other failure.
    """
    transient = retry.restart == "transient"
    run = StreamRun(streaming, recipient)  # retries nothing, unless transient:
    if transient:
        run.retryable = retry.retryable
        run.tell_failed = _recipient_failed
    if wanted():  # telemetry: the stream begins now, and ends with its run
        span = streaming.span = streaming.new_span(supervised=True)
        run.on_end(span.stop)
    incarnations = _Incarnations(run)

    def on_exit(exit: Exit, restarting: bool) -> None:
        if not restarting:
            call_on_loop(run.give_up, _worker_ended(exit))
        else:  # before the restart's incarnation begins on the loop thread
            call_on_loop(run.worker_lost)

    spec = ChildSpec(
        run.ref,
        incarnations,
        restart=retry.restart,
        shutdown=5.0,
        max_restarts=retry.max_restarts if transient else None,
        max_seconds=retry.max_seconds if transient else None,
        backoff=retry.backoff,
        on_exit=on_exit,
    )

    def started(_worker: Any, error: BaseException | None) -> None:
        if isinstance(error, pykka.ActorDeadError):  # the supervisor has ended
            gone = StreamCancelled("shutdown", f"the stream's supervisor {target} has stopped")
            gone.__cause__ = error
            error = gone
        if error is not None:  # the supervisor refused it (an actors.SupervisorError)
            call_on_loop(incarnations.refused, error)

    target = supervisor if supervisor is not None else default_supervisor()
    # What ``target.proxy().start_child(spec)`` sends, without a proxy per stream (Pykka
    # introspects the actor for each new proxy: ~0.2 ms), and with a reply that reports a
    # refused start to the stream itself rather than being polled for.
    send_request(target, ProxyCall(("start_child",), (spec,), {}), started)
    return StreamHandle(run, incarnations, streaming)


def _recipient_failed(exc: BaseException) -> InternalError:
    """What a stream ends with when its recipient's ``tell`` of a restart raised (its bug)."""
    error = InternalError(f"the recipient raised on its restart message: {exc!r}")
    error.__cause__ = exc
    return error


def _worker_ended(exit: Exit) -> OllamaError:
    """What a stream ends with when its worker ended for good before any attempt failed (it
    was killed, or crashed outside the request): an `OllamaError`, whatever ended it."""
    if isinstance(exit.exception, OllamaError):
        return exit.exception
    reason = "worker_failed" if exit.abnormal else "shutdown"
    error = cancelled(reason, f"the stream's worker ended ({exit!r}) before its stream finished")
    error.__cause__ = exit.exception
    return error


class _Incarnations:
    """The child spec's ``start``: the stream's workers, one per attempt.

    The first worker is built when the supervisor starts it, or earlier if ``handle.worker`` is
    read before that: its `ActorRef` exists as soon as the actor object does, and messages told
    to it wait in its mailbox until it starts. Streams whose worker is never asked for cost
    nothing more.
    """

    __slots__ = ("_first", "_refused", "_run")

    _lock = threading.Lock()

    def __init__(self, run: StreamRun) -> None:
        self._run = run
        self._first: StreamWorker | None = None
        self._refused = False

    def worker(self) -> pykka.ActorRef[Any]:
        """The current worker's `ActorRef`, building the first one if it does not exist yet."""
        with self._lock:
            worker = self._run.worker
            if worker is None:
                first = self._build_first()
                if self._refused:  # never to be supervised: start it, and it stops at once
                    self._first = None
                    start_instance(first)
                worker = first.actor_ref
        return worker

    def __call__(self) -> pykka.ActorRef[Any]:
        """Start the next incarnation (on the supervisor's thread)."""
        with self._lock:
            first, self._first = self._first, None
            if first is None and self._run.worker is None:
                first = self._build_first()
                self._first = None
        if first is None:
            return StreamWorker.start(run=self._run)
        return start_instance(first)

    def refused(self, error: BaseException) -> None:
        """The supervisor would not start the worker: end the stream with ``error`` (loop thread).

        A first worker already built for ``handle.worker`` is started anyway: it sees the
        stream ended and stops, so its `ActorRef` reads as dead rather than waiting forever.
        """
        self._run.fail(error)
        with self._lock:
            self._refused = True
            first, self._first = self._first, None
        if first is not None:
            start_instance(first)

    def _build_first(self) -> StreamWorker:
        first = self._first = StreamWorker(run=self._run)
        self._run.worker = first.actor_ref
        return first
