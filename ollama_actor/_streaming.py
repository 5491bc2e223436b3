"""`Streaming`: one streaming request, run lazily, consumed by iteration or delivered to actors.

A chunk's path: the engine's connection reads bytes on the loop thread, the `ResponseParser`
removes the HTTP chunk framing, `_ChunkReader` splits and decodes NDJSON lines, checks for
Ollama's ``{"error": ...}`` line, adds the chunk to the `Accumulator`, and hands it to one
`StreamSink`: a `Delivery` that tells a recipient (`send_to`, `StreamWorker`), or the
`_IterationSink` that a consuming thread pulls from (`for chunk in streaming`).

Where the request goes is the stream's `Target`: `Direct` (one server, through its client's
`Engine`), or a pool's route, which picks a host each time a run starts (`ollama_actor._pool`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

import pykka

from actors import (
    Delivery,
    Recipient,
    Ref,
    StreamSink,
    WouldBlockLoop,
    call_on_loop,
    in_loop_thread,
)
from actors._loop import wake_waiter
from ollama_actor._accumulate import Accumulator, Kind
from ollama_actor._engine import Engine, Request, Sink
from ollama_actor._error_body import ErrorBody, hide_secrets
from ollama_actor._errors import (
    DecodeError,
    IncompleteStream,
    OllamaError,
    RecipientDead,
    ResponseError,
    UsageError,
    cancelled,
)
from ollama_actor._ndjson import LineDecoder
from ollama_actor._response import wait_or_cancel
from ollama_actor._stream_events import StreamSpan, wanted

__all__ = ["Direct", "Running", "Streaming", "Target"]

_HIGH_WATER = 4096
_LOW_WATER = 1024
_NO_DETAILS: Mapping[str, Any] = MappingProxyType({})


class Running(Protocol):
    """One run of a request under way (an engine's `Call`); each method works from any thread."""

    def cancel(self, reason: str = "caller") -> None: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class Target(Protocol):
    """Where a stream's request goes, run after run.

    ``method`` and ``path`` name the request in errors, which never show its ``secrets`` (its
    credentials: see `hide_secrets`); `start` sends one run (from any thread,
    without blocking) and reports to the sink on the loop thread; `again` is the target of the
    next run; ``details`` is what a restart message tells of this run (``{}`` for one server);
    ``hosts`` the hosts this run and the runs before it were sent to (``[]`` for one server);
    ``url`` the server this run goes to (a pool's: the host of the run once it has one).
    """

    @property
    def method(self) -> str: ...

    @property
    def hosts(self) -> list[str]: ...

    @property
    def path(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def secrets(self) -> tuple[str, ...]: ...

    @property
    def details(self) -> Mapping[str, Any]: ...

    def start(self, sink: Sink) -> Running: ...

    def again(self) -> Target: ...


@dataclass(frozen=True, slots=True)
class Direct:
    """The `Target` of a client of one server: the same request, run by its `Engine`."""

    engine: Engine
    request: Request

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def path(self) -> str:
        return self.request.path

    @property
    def url(self) -> str:
        return self.request.origin.url

    @property
    def secrets(self) -> tuple[str, ...]:
        return self.request.secrets

    @property
    def details(self) -> Mapping[str, Any]:
        return _NO_DETAILS

    @property
    def hosts(self) -> list[str]:
        return []

    def start(self, sink: Sink) -> Running:
        return self.engine.start(self.request, sink)

    def again(self) -> Direct:
        return self


class Streaming:
    """A streaming request; nothing is sent until it is iterated, delivered or started.

    Use it one way, once: iterate it (``for chunk in streaming`` yields each decoded chunk as a
    dict and raises an `OllamaError` on failure), `send_to` a recipient, or `start` it with a
    sink. `again` gives a fresh run of the same request under the same `ref`. `cancel` ends it
    from any thread, at once, closing the connection. After a successful end, `response` is
    the accumulated whole response.
    """

    def __init__(
        self,
        target: Target,
        kind: Kind,
        *,
        max_line: int,
        ref: Ref | None = None,
        model: str | None = None,
    ) -> None:
        self.ref = ref if ref is not None else Ref()
        self.model = model
        """The model the request names (for telemetry and status views), if any."""
        self.span: StreamSpan | None = None
        """The stream's telemetry (`ollama_actor._stream_events`), None when nobody listens."""
        self._target = target
        self._kind: Kind = kind
        self._max_line = max_line
        self._call: Running | None = None
        self._started = False
        self._cancelled: str | None = None
        self._iteration: _IterationSink | None = None
        self._async_iteration: _AsyncIterationSink | None = None
        self._response: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"<Streaming {self.ref} {self._target.method} {self._target.path}>"

    @property
    def restart_details(self) -> Mapping[str, Any]:
        """What the restart message of a supervised stream tells of this run, besides its
        number and error: ``{"host": url}`` for a pool's stream, nothing for one server's."""
        return self._target.details

    @property
    def hosts(self) -> list[str]:
        """The URLs of the hosts this request was sent to so far, in order, over every run
        (`again` included): a pool's stream; empty for a client of one server."""
        return self._target.hosts

    @property
    def response(self) -> dict[str, Any] | None:
        """The accumulated response once the stream ended normally, else ``None``."""
        return self._response

    def start(self, sink: StreamSink) -> None:
        """Send the request without blocking; ``sink`` is called back on the loop thread.

        The sink gets each chunk, then exactly one `on_done` (with the accumulated response)
        or `on_error` (with an `OllamaError`). Raises `UsageError` if already started.
        """
        if self._started:
            raise UsageError(f"{self!r} was already started; use .again() for a fresh run")
        self._started = True
        if self._cancelled is not None:  # cancelled before it began: nothing is sent
            call_on_loop(sink.on_error, cancelled(self._cancelled))
            return
        span = self.span
        if span is None and wanted():
            span = self.span = self.new_span(supervised=False)
        if span is not None:
            span.attempt_started()
        reader = _ChunkReader(self, sink)
        self._call = call = self._target.start(reader)
        if self._cancelled is not None:
            call.cancel(self._cancelled)

    def cancel(self, reason: str = "caller") -> None:
        """End the stream from any thread; the consumer sees `StreamCancelled` whose ``reason``
        is ``reason`` (see its doc; `RecipientDead` for ``"recipient_died"``). Idempotent.

        The connection is closed on the loop thread at once, even if a read is pending.
        """
        self._cancelled = reason
        call = self._call
        if call is not None:
            call.cancel(reason)

    def again(self) -> Streaming:
        """A fresh, unstarted run of the same request with the same `ref` (for retries)."""
        fresh = Streaming(
            self._target.again(),
            self._kind,
            max_line=self._max_line,
            ref=self.ref,
            model=self.model,
        )
        fresh.span = self.span
        return fresh

    def new_span(self, *, supervised: bool) -> StreamSpan:
        """Begin this stream's telemetry (emits its ``START``)."""
        target = self._target
        return StreamSpan(self.ref, self.model, target.url, target.path, supervised=supervised)

    def send_to(self, recipient: Recipient) -> dict[str, Any]:
        """Run the whole stream, telling ``recipient`` the message protocol; blocks until done.

        The recipient gets ``(ref, ("data", chunk))`` per chunk, then one ``("done", response)``
        or ``("error", exc)``. Returns the accumulated response, or raises the same error that
        was told. If the recipient dies, the stream ends and `RecipientDead` is raised.
        """
        _refuse_loop_thread("Streaming.send_to")
        done = threading.Event()
        outcome: list[Any] = []

        class _Sink(Delivery):
            def on_done(self, result: Any) -> None:
                super().on_done(result)
                outcome.append(result)
                done.set()

            def on_error(self, exc: BaseException) -> None:
                super().on_error(exc)
                outcome.append(exc)
                done.set()

        self.start(_Sink(self.ref, recipient))
        wait_or_cancel(done, self.cancel)
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result  # type: ignore[no-any-return]

    def __iter__(self) -> Streaming:
        return self

    def __next__(self) -> dict[str, Any]:
        sink = self._iteration
        if sink is None:
            _refuse_loop_thread("iterating a Streaming")
            self._iteration = sink = _IterationSink()
            self.start(sink)
            sink.attach(self._call)
        return sink.next()

    def __aiter__(self) -> Streaming:
        return self

    async def __anext__(self) -> dict[str, Any]:
        """The next chunk for ``async for``: awaited without blocking the event loop.

        Cancelling the awaiting task cancels the stream (the connection is closed).
        """
        sink = self._async_iteration
        if sink is None:
            self._async_iteration = sink = _AsyncIterationSink(asyncio.get_running_loop())
            self.start(sink)
            sink.attach(self._call)
        try:
            return await sink.next()
        except asyncio.CancelledError:
            self.cancel("caller")  # the task consuming it was cancelled
            raise

    async def aclose(self) -> None:
        """Cancel the stream if it is still running (for ``contextlib.aclosing``)."""
        self.cancel()

    def __enter__(self) -> Streaming:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Leaving a ``with`` block cancels the stream if it is still running."""
        self.cancel()

    def __del__(self) -> None:  # pragma: no mutate block (a finalizer cannot run mutmut's)
        """A stream dropped while running (a ``break`` out of a loop) closes its connection."""
        call = self._call
        if call is not None and self._response is None:
            with contextlib.suppress(Exception):
                call.cancel("dropped")

    def _finished(self, response: dict[str, Any]) -> None:
        self._response = response


class _ChunkReader:
    """Engine sink: HTTP body bytes in, decoded chunks out to a `StreamSink`.

    It holds its `Streaming` weakly, so that dropping a running stream lets it be collected
    (and cancelled).
    """

    __slots__ = (
        "_acc",
        "_decoder",
        "_error_body",
        "_kind",
        "_owner",
        "_ref",
        "_sink",
        "_span",
        "_target",
        "_waiting_first",
    )

    def __init__(self, stream: Streaming, sink: StreamSink) -> None:
        self._owner = weakref.ref(stream)
        self._ref = stream.ref
        self._target = stream._target
        self._sink = sink
        self._kind = stream._kind
        self._decoder = LineDecoder(stream._max_line)
        self._acc = Accumulator(stream._kind)
        self._error_body: ErrorBody | None = None
        self._span = stream.span
        # A stream with telemetry sends its chunks through `_first_chunk` until the first one
        # has come: a test per read, none per chunk. (Not a bound method kept in a slot: that
        # would be a cycle keeping the stream alive until the collector runs.)
        self._waiting_first = self._span is not None

    def on_head(self, status: int, reason: str, headers: dict[str, str]) -> None:
        if not 200 <= status < 300:
            target = self._target
            self._error_body = ErrorBody(status, reason, target.method, target.path, target.secrets)

    def on_body(self, data: bytes) -> None:
        if self._error_body is not None:
            self._error_body.add(data)
            return
        self._decoder.feed(data, self._first_chunk if self._waiting_first else self._chunk)

    def on_end(self) -> None:
        if self._error_body is not None:
            self._fail(self._error_body.error())
            return
        try:
            self._decoder.finish(self._first_chunk if self._waiting_first else self._chunk)
            self._check_complete()
        except OllamaError as exc:
            self.on_error(exc)
            return
        response = self._acc.result()
        owner = self._owner()
        if owner is not None:
            owner._finished(response)
        try:
            self._sink.on_done(response)
        finally:  # a sink that raises (a bug) still ends the stream's telemetry
            span = self._span
            if span is not None and not span.supervised:
                span.stop(response, None)

    def on_error(self, exc: OllamaError) -> None:
        self._fail(hide_secrets(exc, self._target.secrets))

    def _fail(self, error: OllamaError) -> None:
        span = self._span
        if span is not None:
            span.last_error = error
            span.host = self._target.url  # a pool's run may have failed before a chunk
        try:
            self._sink.on_error(error)
        finally:
            if span is not None and not span.supervised:
                span.stop(None, error)

    def _first_chunk(self, chunk: Any) -> None:
        at = time.monotonic()
        self._chunk(chunk)
        if self._waiting_first:  # the other lines of the same read come here too
            self._waiting_first = False
            span = self._span
            assert span is not None
            span.host = self._target.url  # a pool's run has its host by now
            span.first_chunk(at)

    def _chunk(self, chunk: Any) -> None:
        if not isinstance(chunk, dict):
            raise DecodeError(f"a streamed line is not a JSON object: {chunk!r:.80}")
        if "error" in chunk:
            raise ResponseError(str(chunk["error"]))
        self._acc.add(chunk)
        try:
            self._sink.on_chunk(chunk)
        except pykka.ActorDeadError:
            raise RecipientDead() from None

    def _check_complete(self) -> None:
        """A body that ended cleanly must still have carried Ollama's final chunk."""
        last = self._acc.last
        if self._kind == "progress":
            if last is None or last.get("status") != "success":
                raise IncompleteStream("the stream ended before Ollama's final 'success' status")
        elif last is None or last.get("done") is not True:
            raise IncompleteStream("the stream ended before Ollama's final chunk (done: true)")


class _Backpressure:
    """Pauses the socket of a stream whose consumer falls `_HIGH_WATER` chunks behind, and
    resumes it once the consumer has taken all but `_LOW_WATER` of them.

    The paused state changes on the loop thread only: the consumer asks for a resume
    (`_drained`) and the loop grants it if the queue is still low then. Were the consumer to
    resume the socket itself, the lines of the read being handed on meanwhile could fill the
    queue past the high mark again (a pause that changes nothing, the socket being paused),
    and its resume, landing after them, would leave the socket reading with nobody to pause it.
    """

    __slots__ = ("_items", "_paused", "_resuming", "call")

    def __init__(self) -> None:
        self.call: Running | None = None
        """The run whose socket is paused; set by `attach`."""
        self._items: deque[dict[str, Any]] = deque()
        self._paused = False  # written on the loop thread only
        self._resuming = False  # a resume is asked for and not yet looked at

    def attach(self, call: Running | None) -> None:
        """The consumer's thread, once the run has started: from now on its socket can be
        paused. Chunks may have come in before (the thread that started the run is not the
        one that reads): the loop looks at the queue then."""
        self.call = call
        if call is not None:
            call_on_loop(self._filled)

    def _filled(self) -> None:
        """Loop thread, after a chunk was queued."""
        if len(self._items) >= _HIGH_WATER and not self._paused and self.call is not None:
            self._paused = True
            self.call.pause_reading()

    def _drained(self) -> None:
        """The consumer's thread, after it took a chunk."""
        if self._paused and not self._resuming and len(self._items) <= _LOW_WATER:
            self._resuming = True
            call_on_loop(self._resume)

    def _resume(self) -> None:
        self._resuming = False
        if self._paused and len(self._items) <= _LOW_WATER and self.call is not None:
            self._paused = False
            self.call.resume_reading()


class _IterationSink(_Backpressure):
    """Hands chunks from the loop thread to one consuming thread, with backpressure."""

    __slots__ = ("_cond", "_end", "_ended", "_waiting")

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition(threading.Lock())
        self._end: BaseException | None = None
        self._ended = False
        self._waiting = False

    # loop thread

    def on_chunk(self, chunk: dict[str, Any]) -> None:
        items = self._items
        items.append(chunk)
        if self._waiting:
            with self._cond:
                self._cond.notify()
        if len(items) >= _HIGH_WATER:  # tested here: no call per chunk below the mark
            self._filled()

    def on_done(self, result: Any) -> None:
        self._finish(None)

    def on_error(self, exc: BaseException) -> None:
        self._finish(exc)

    def _finish(self, exc: BaseException | None) -> None:
        with self._cond:
            self._end = exc
            self._ended = True
            self._cond.notify()

    # consuming thread

    def next(self) -> dict[str, Any]:
        items = self._items
        while True:
            try:
                item = items.popleft()
            except IndexError:
                pass
            else:
                if self._paused:  # tested here: no call per chunk while reading
                    self._drained()
                return item
            if self._ended and not items:
                if self._end is not None:
                    raise self._end
                raise StopIteration
            with self._cond:
                self._waiting = True
                try:
                    while not items and not self._ended:
                        self._cond.wait(1.0)
                finally:
                    self._waiting = False


class _AsyncIterationSink(_Backpressure):
    """Hands chunks from the engine's loop thread to a task on another asyncio loop.

    The engine's thread wakes the consumer's loop only when the consumer waits, once per burst
    of chunks; the same watermarks as `_IterationSink` pause the socket for a slow consumer.
    """

    __slots__ = ("_end", "_ended", "_loop", "_waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self._end: BaseException | None = None
        self._ended = False
        self._waiter: asyncio.Future[None] | None = None

    # engine's loop thread

    def on_chunk(self, chunk: dict[str, Any]) -> None:
        items = self._items
        items.append(chunk)
        self._wake()
        if len(items) >= _HIGH_WATER:
            self._filled()

    def on_done(self, result: Any) -> None:
        self._ended = True
        self._wake()

    def on_error(self, exc: BaseException) -> None:
        self._end = exc
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            # RuntimeError: its loop has closed (asyncio.run ended), so nobody waits.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(wake_waiter, waiter)

    # the consumer's loop

    async def next(self) -> dict[str, Any]:
        items = self._items
        while True:
            if items:
                item = items.popleft()
                if self._paused:
                    self._drained()
                return item
            if self._ended:
                if self._end is not None:
                    raise self._end
                raise StopAsyncIteration
            waiter = self._loop.create_future()
            self._waiter = waiter
            if items or self._ended:  # arrived between the checks and the waiter
                self._waiter = None
                continue
            await waiter


class _BlockingOnLoop(UsageError, WouldBlockLoop):
    """A call that blocks, made on the shared loop thread it would wait for: a `UsageError`
    as every misuse is, and the runtime's own `actors.WouldBlockLoop`."""


def _refuse_loop_thread(
    what: str, instead: str = "use stream=recipient or StreamWorker from a loop actor instead"
) -> None:
    """Raise a `UsageError` (also an `actors.WouldBlockLoop`) on the shared loop thread."""
    if in_loop_thread():
        raise _BlockingOnLoop(
            f"{what} blocks, and this is the event loop thread it would wait for: {instead}"
        )
