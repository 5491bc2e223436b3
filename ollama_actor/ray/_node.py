"""`StreamNode`: one node of a `StreamCluster`, a Ray actor process running this project's
runtime (its loop thread, its stream supervisor, a client of one host or a pool).

It is an asyncio Ray actor: its methods run on Ray's event loop in that process, and none of
them blocks it. Streams themselves run on the node's own loop thread (``actors-loop``), as in
any process; the node only starts them, waits for their end (an asyncio future settled from
the loop thread) and cancels them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from actors import Ref
from ollama_actor._client import Ollama
from ollama_actor._handle import StreamHandle
from ollama_actor._retry import RetryPolicy
from ollama_actor._streaming import Running, Streaming
from ollama_actor.ray._recipient import RayRecipient

__all__ = ["StreamJob", "StreamNode"]

_HIGH_WATER = 4096  # chunks waiting for the driver before the node stops reading the socket
_EARLY_CANCELS = 10_000  # refs cancelled before their stream was seen here, remembered


@dataclass(frozen=True, slots=True)
class StreamJob:
    """What a node needs to run a supervised stream: the same for every node it runs on."""

    ref: Ref
    name: str
    params: dict[str, Any]
    recipient: RayRecipient
    retry: RetryPolicy


class StreamNode:
    """A Ray actor (made remote by `StreamCluster`) that runs streams for the driver."""

    def __init__(self, index: int, hosts: Any, client_options: dict[str, Any]) -> None:
        self.index = index
        self.client = Ollama(hosts, **client_options)
        self.streams: dict[Ref, StreamHandle | Streaming] = {}
        self.ends: dict[Ref, asyncio.Future[tuple[str, Any]]] = {}
        # Ray does not keep the order of one caller's calls to an asyncio actor: a `cancel`
        # sent after a `run` may come first. Such refs are kept (the latest few) for `_started`.
        self.early_cancels: dict[Ref, None] = {}

    def ping(self) -> int:
        """This node's process id (answered once the node has started)."""
        return os.getpid()

    def stats(self) -> dict[str, Any]:
        """The node's own view: its process, streams running, CPU seconds used so far."""
        return {
            "node": self.index,
            "pid": os.getpid(),
            "streams": len(self.streams),
            "cpu": time.process_time(),
        }

    async def run(self, job: StreamJob, epoch: int, restart: dict[str, Any] | None) -> Any:
        """Run one supervised stream to its recipient; return ``("done", response)`` or
        ``("error", exc)`` once its terminal message has reached the recipient (or the
        recipient died). A moved stream's ``restart`` message is told first."""
        ref, name, params, retry = job.ref, job.name, job.params, job.retry
        target = job.recipient.fenced(ref, epoch)
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[tuple[str, Any]] = loop.create_future()
        self.ends[ref] = ended
        try:
            if restart is not None:
                target.tell((ref, ("restart", restart)))
            handle = getattr(self.client, name)(stream=target, retry=retry, **params)
            self._started(ref, handle)

            def on_end(result: Any, error: BaseException | None) -> None:
                outcome = ("done", result) if error is None else ("error", error)
                target.flushed(ref, lambda: _settle_from(loop, ended, outcome))

            handle.on_end(on_end)
            return await ended
        finally:
            self.streams.pop(ref, None)
            self.ends.pop(ref, None)

    async def iterate(self, ref: Ref, name: str, params: dict[str, Any]) -> AsyncIterator[Any]:
        """Run one stream and yield its chunks in lists, as many as have come (a Ray streaming
        generator); raise its error at the end. Stops reading the socket while the driver is
        behind: Ray holds the generator once the driver has that many lists unread (the
        cluster's `ITERATION_BACKLOG`), and then ``_HIGH_WATER`` chunks gather here."""
        streaming: Streaming = getattr(self.client, name)(stream=True, **params)
        batches = _Batches(asyncio.get_running_loop())
        try:
            streaming.start(batches)
            self._started(ref, streaming)
            batches.call = streaming._call
            while True:
                chunks, error, finished = await batches.next()
                if chunks:
                    yield chunks
                if error is not None:
                    raise error
                if finished:
                    return
        finally:
            self.streams.pop(ref, None)
            streaming.cancel("dropped")  # the driver stopped iterating

    def cancel(self, ref: Ref) -> None:
        """End one stream now (its recipient hears ``("error", StreamCancelled(...))``), or
        as soon as it starts here if its `run` or `iterate` has not come yet."""
        stream = self.streams.get(ref)
        if stream is not None:
            stream.cancel()
            return
        self.early_cancels[ref] = None  # or it has ended here: forgotten among the oldest
        if len(self.early_cancels) > _EARLY_CANCELS:
            del self.early_cancels[next(iter(self.early_cancels))]

    def _started(self, ref: Ref, stream: StreamHandle | Streaming) -> None:
        """``stream`` runs here now: cancelled at once if its cancel came first."""
        self.streams[ref] = stream
        if ref in self.early_cancels:
            del self.early_cancels[ref]
            stream.cancel()

    async def close(self, timeout: float) -> int:
        """Cancel every stream and wait (at most ``timeout`` s) until each has told its
        recipient its terminal message. Returns how many streams were still running."""
        running = len(self.streams)
        for stream in list(self.streams.values()):
            stream.cancel()
        if self.ends:
            await asyncio.wait(list(self.ends.values()), timeout=timeout)
        return running


def _settle_from(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[tuple[str, Any]],
    outcome: tuple[str, Any],
) -> None:
    """Settle ``future`` on its own loop, from any thread (a loop that has closed: no one waits)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, future, outcome)


def _settle(future: asyncio.Future[tuple[str, Any]], outcome: tuple[str, Any]) -> None:
    if not future.done():
        future.set_result(outcome)


class _Batches:
    """A `StreamSink` that hands chunks to a coroutine on another event loop, a list at a time.

    Chunks come on the node's loop thread; `next` runs on Ray's event loop. One wake-up per
    burst, not per chunk.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._chunks: list[Any] = []
        self._error: BaseException | None = None
        self._finished = False
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self.call: Running | None = None

    def on_chunk(self, chunk: Any) -> None:
        with self._lock:
            self._chunks.append(chunk)
            full = len(self._chunks) >= _HIGH_WATER and not self._paused
            if full:
                self._paused = True
        if full and self.call is not None:
            self.call.pause_reading()
        self._wake()

    def on_done(self, result: Any) -> None:
        with self._lock:
            self._finished = True
        self._wake()

    def on_error(self, exc: BaseException) -> None:
        with self._lock:
            self._error = exc
            self._finished = True
        self._wake()

    def _wake(self) -> None:
        with self._lock:
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._loop.call_soon_threadsafe(_wake_up, waiter)

    async def next(self) -> tuple[list[Any], BaseException | None, bool]:
        """The chunks so far, the error if it failed, and whether it has ended."""
        while True:
            with self._lock:
                chunks, self._chunks = self._chunks, []
                finished, error = self._finished, self._error
                if chunks or finished:
                    resume = self._paused
                    self._paused = False
                    break
                waiter = self._waiter = self._loop.create_future()
            await waiter
        if resume and self.call is not None:
            self.call.resume_reading()
        return chunks, error, finished


def _wake_up(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
