"""`StreamHandle`: the caller's grip on a stream delivered to a recipient by a worker actor."""

from __future__ import annotations

from typing import Any

import pykka

from actors._ref import Ref
from actors._stream import Recipient
from actors._stream_worker import StreamRun, StreamWorker
from ollama_actor._streaming import Streaming

__all__ = ["StreamHandle", "stream_to"]


class StreamHandle:
    """A stream running in a `StreamWorker`, telling its recipient the message protocol.

    ``ref`` names the stream's messages; ``worker`` is the current worker's `ActorRef` (a new
    one after each restart); ``result(timeout)`` blocks for the accumulated response (or raises
    the stream's error, or the builtin `TimeoutError`); ``cancel()`` ends it at once from any
    thread, and the recipient hears ``(ref, ("error", StreamCancelled(...)))``.
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
    def done(self) -> bool:
        """Whether the stream has ended (its terminal message has been told)."""
        return self._run.done

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the accumulated response; raises the stream's error if it failed."""
        return self._run.result(timeout)  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """End the stream now; a no-op once it has ended."""
        self._run.cancel()


def stream_to(streaming: Streaming, recipient: Recipient) -> StreamHandle:
    """Start a worker that runs ``streaming`` to ``recipient``; return its handle."""
    run = StreamRun(streaming, recipient)
    run.worker = StreamWorker.start(run=run)
    return StreamHandle(run)
