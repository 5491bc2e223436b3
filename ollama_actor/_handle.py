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

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pykka
from pykka.messages import ProxyCall

from actors import (
    Backoff,
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
)
from ollama_actor._errors import is_retryable
from ollama_actor._stream_events import wanted
from ollama_actor._streaming import Streaming

__all__ = ["RetryPolicy", "StreamHandle", "default_supervisor", "stream_to"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a supervised stream retries: its own restart budget and the wait between tries.

    ``restart="transient"`` retries the failures ``retryable(exc)`` accepts (default:
    `is_retryable`, the table in docs/protocol.md), at most ``max_restarts`` times within
    ``max_seconds``; ``"temporary"`` never retries. ``backoff`` spaces the attempts
    (exponential, with jitter) so that a busy server is not hammered. ``retryable`` is called on
    the shared loop thread when an attempt fails, after every chunk of that attempt was told:
    it must be quick and must not block. If it raises, the failure is not retried (the stream
    ends with it) and the exception is logged.
    """

    max_restarts: int = 3
    max_seconds: float = 5.0
    backoff: Backoff | None = field(default_factory=lambda: Backoff(min=0.05, max=2.0))
    restart: Literal["transient", "temporary"] = "transient"
    retryable: Callable[[BaseException], bool] = is_retryable

    def __post_init__(self) -> None:
        """Refuse what a stream cannot run with, here rather than at the call that uses it
        (a ``"permanent"`` stream would be restarted for ever after it ended)."""
        if self.restart not in ("transient", "temporary"):
            raise ValueError(
                f"RetryPolicy.restart must be 'transient' or 'temporary', not {self.restart!r}"
            )
        restarts = self.max_restarts
        if not isinstance(restarts, int) or isinstance(restarts, bool) or restarts < 0:
            raise ValueError(f"RetryPolicy.max_restarts must be an int >= 0, not {restarts!r}")
        seconds = self.max_seconds
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not seconds > 0:
            raise ValueError(f"RetryPolicy.max_seconds must be a number > 0, not {seconds!r}")
        if self.backoff is not None and not isinstance(self.backoff, Backoff):
            raise TypeError(f"RetryPolicy.backoff must be a Backoff or None, not {self.backoff!r}")
        if not callable(self.retryable):
            raise TypeError(f"RetryPolicy.retryable must be callable, not {self.retryable!r}")


DEFAULT_RETRY = RetryPolicy()


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
        builtin `TimeoutError` after ``timeout`` seconds; `actors.WouldBlockLoop` at once on
        the shared loop thread, which the stream needs, unless it has ended)."""
        return self._run.result(timeout)  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """End the stream now; a no-op once it has ended."""
        self._run.cancel()


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
    run = StreamRun(streaming, recipient, retryable=retry.retryable if transient else _never)
    if wanted():  # telemetry: the stream begins now, and ends with its run
        span = streaming.span = streaming.new_span(supervised=True)
        run.on_end(span.stop)
    incarnations = _Incarnations(run)

    def on_exit(exit: Exit, restarting: bool) -> None:
        if not restarting:
            call_on_loop(run.give_up, exit.exception)

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
        if error is not None:  # the supervisor refused it, or has ended
            call_on_loop(incarnations.refused, error)

    target = supervisor if supervisor is not None else default_supervisor()
    # What ``target.proxy().start_child(spec)`` sends, without a proxy per stream (Pykka
    # introspects the actor for each new proxy: ~0.2 ms), and with a reply that reports a
    # refused start to the stream itself rather than being polled for.
    send_request(target, ProxyCall(("start_child",), (spec,), {}), started)
    return StreamHandle(run, incarnations, streaming)


def _never(_exc: BaseException) -> bool:
    return False


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
