"""Supervised streams: ``stream=recipient`` runs a `StreamWorker` under a supervisor.

The worker is a ``transient`` child: a failure a retry may mend (a transport error, a cut or
stalled stream, HTTP 5xx/408/429, an ``{"error": ...}`` line) ends it abnormally, the supervisor
restarts it after a backoff, and the new incarnation tells ``("restart", {"attempt": n, "error":
exc})`` and sends the request again. Other failures end the stream at once. The restart budget is
per stream (`RetryPolicy`); when the supervisor will not restart, the child spec's ``on_exit``
hook ends the stream with the last error, so every stream gets exactly one terminal message
whatever the supervisor does.
"""

from __future__ import annotations

import threading
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
)
from ollama_actor._errors import OllamaError
from ollama_actor._streaming import Streaming

__all__ = ["RetryPolicy", "StreamHandle", "default_supervisor", "stream_to"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a supervised stream retries: its own restart budget and the wait between tries.

    ``restart="transient"`` retries retryable failures, at most ``max_restarts`` times within
    ``max_seconds``; ``"temporary"`` never retries. ``backoff`` spaces the attempts (exponential,
    with jitter) so that a busy server is not hammered.
    """

    max_restarts: int = 3
    max_seconds: float = 5.0
    backoff: Backoff | None = field(default_factory=lambda: Backoff(min=0.05, max=2.0))
    restart: Literal["transient", "temporary"] = "transient"


DEFAULT_RETRY = RetryPolicy()


class StreamHandle:
    """A stream running in a supervised `StreamWorker`, telling its recipient the protocol.

    ``ref`` names the stream's messages; ``worker`` is the current worker's `ActorRef` (a new
    one after each restart; ``None`` until the first has started); ``result(timeout)`` blocks
    for the accumulated response (or raises the stream's error, or the builtin `TimeoutError`);
    ``cancel()`` ends it at once from any thread, and the recipient hears
    ``(ref, ("error", StreamCancelled(...)))``.
    """

    __slots__ = ("_run",)

    def __init__(self, run: StreamRun) -> None:
        self._run = run

    def __repr__(self) -> str:
        state = "done" if self._run.done else "running"
        return f"<StreamHandle {self.ref} {state}>"

    @property
    def ref(self) -> Ref:
        return self._run.ref

    @property
    def worker(self) -> pykka.ActorRef[Any] | None:
        return self._run.worker

    @property
    def attempt(self) -> int:
        """Restarts so far."""
        return self._run.attempt

    @property
    def done(self) -> bool:
        """Whether the stream has ended (its terminal message has been told)."""
        return self._run.done

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the accumulated response of the attempt that succeeded, or raise."""
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


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, OllamaError) and exc.retryable


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
    run = StreamRun(streaming, recipient, retryable=_retryable if transient else _never)

    def on_exit(exit: Exit, restarting: bool) -> None:
        if not restarting:
            call_on_loop(run.give_up, exit.exception)

    spec = ChildSpec(
        run.ref,
        lambda: StreamWorker.start(run=run),
        restart=retry.restart,
        shutdown=5.0,
        max_restarts=retry.max_restarts if transient else None,
        max_seconds=retry.max_seconds if transient else None,
        backoff=retry.backoff,
        on_exit=on_exit,
    )

    def started(_worker: Any, error: BaseException | None) -> None:
        if error is not None:  # the supervisor refused it, or has ended
            call_on_loop(run.fail, error)

    target = supervisor if supervisor is not None else default_supervisor()
    # What ``target.proxy().start_child(spec)`` sends, without a proxy per stream (Pykka
    # introspects the actor for each new proxy: ~0.2 ms), and with a reply that reports a
    # refused start to the stream itself rather than being polled for.
    send_request(target, ProxyCall(("start_child",), (spec,), {}), started)
    return StreamHandle(run)


def _never(_exc: BaseException) -> bool:
    return False
