"""The pump: writes one response body to one connection, step by step, without a task per stream.

It is driven by loop callbacks only (the shared `Ticker` for paced steps, ``call_soon`` to stay
fair when unpaced), which is what lets one core serve thousands of concurrent streams. It stops
producing when the transport's write buffer is full (as Ollama's unbuffered channel blocks on a
slow socket) and the moment the client goes away.

Paced lines wait on one `Ticker` for every stream: with thousands of paced streams a loop timer
per token costs more than writing the token (a ``TimerHandle`` and heap operations that compare
handles in Python). The ticker keeps one bucket of callbacks per millisecond, ordered by a heap of
plain integers, and one loop timer for the earliest bucket. Callbacks cannot be cancelled: the
pumps ignore a wake-up after they ended.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import random
from collections.abc import Callable, Iterator
from typing import Protocol

from ._reply import Partial, Piece, Signal, Step, Wait

_log = logging.getLogger(__name__)

FAIR_BUDGET = 64
"""Steps written in one go before yielding to other connections."""
GO_BUFFER = 2048
"""Go sends a fixed body with Content-Length only when it fits its 2 KiB buffer; else chunked."""
SPLIT_PAUSE = 0.001
TERMINATOR = b"0\r\n\r\n"
RESOLUTION = 0.001
"""The ticker's grain: wake-ups are grouped by millisecond."""


class Ticker:
    """Calls callbacks at (or up to a millisecond after) the loop time they ask for."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._buckets: dict[int, list[Callable[[], None]]] = {}
        self._slots: list[int] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_slot = -1

    def call_at(self, when: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the loop time reaches ``when``."""
        slot = math.ceil(when / RESOLUTION)
        bucket = self._buckets.get(slot)
        if bucket is not None:
            bucket.append(callback)
            return
        self._buckets[slot] = [callback]
        heapq.heappush(self._slots, slot)
        if self._timer is None or slot < self._timer_slot:
            self._arm(slot)

    def _arm(self, slot: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_slot = slot
        self._timer = self.loop.call_at(slot * RESOLUTION, self._fire)

    def _fire(self) -> None:
        self._timer = None
        slots = self._slots
        now = self.loop.time()
        while slots and slots[0] * RESOLUTION <= now + RESOLUTION / 2:
            for callback in self._buckets.pop(heapq.heappop(slots)):
                callback()
        if slots:
            self._arm(slots[0])


class Sink(Protocol):
    """The connection side of a pump."""

    @property
    def writing_paused(self) -> bool:
        """True while the transport's write buffer is above its high-water mark."""
        ...

    def write(self, data: bytes) -> None:
        """Hand bytes to the transport."""

    def abort(self) -> None:
        """Close the connection at once, discarding buffered data."""


HeadBuilder = Callable[[bool, int], bytes]
"""Builds the status line and headers given (chunked, content length)."""


class Pacing:
    """How a pump spaces its lines: a first delay, then an interval between lines."""

    __slots__ = ("first_delay", "interval")

    def __init__(self, interval: float = 0.0, first_delay: float = 0.0) -> None:
        self.interval = interval
        self.first_delay = first_delay

    @property
    def active(self) -> bool:
        """Whether any waiting is involved at all."""
        return self.interval > 0 or self.first_delay > 0


class Pump:
    """Writes the steps of one response; calls ``on_end`` once with how it ended."""

    def __init__(
        self,
        ticker: Ticker,
        sink: Sink,
        steps: Iterator[Step],
        head: HeadBuilder,
        on_end: Callable[[str], None],
        *,
        chunked: bool,
        pacing: Pacing | None = None,
        head_only: bool = False,
        split: int | None = None,
        coalesce: bool = False,
    ) -> None:
        self._loop = ticker.loop
        self._ticker = ticker
        self._sink = sink
        self._steps = steps
        self._head: HeadBuilder | None = head
        self._on_end = on_end
        self._chunked = chunked
        self._pacing = pacing if pacing is not None and pacing.active else None
        self._head_only = head_only
        self._split = split
        self._split_queue = bytearray()
        self._random = random.Random(split)
        self._coalesced: bytearray | None = bytearray() if coalesce else None
        self._held: Step | None = None
        self._handle: asyncio.Handle | None = None
        self._closing: str | None = None
        self._blocked = False
        self._rebase = False
        self._ended = False
        self._due = 0.0
        self.lines = 0
        """Lines written so far (the unit faults count)."""
        self.bytes = 0
        """Bytes handed to the transport so far."""

    def start(self) -> None:
        """Begin writing (the first paced line waits for the first delay)."""
        if self._pacing is not None:
            self._due = self._loop.time() + self._pacing.first_delay
        self._run()

    def resume(self) -> None:
        """The transport drained below its low-water mark: carry on if we stopped for it."""
        if self._blocked and not self._ended:
            self._blocked = False
            self._rebase = True
            self._run()

    def abort(self) -> None:
        """The client went away (or the server is stopping): stop producing now."""
        if not self._ended:
            self._end("client_closed")

    def _run(self) -> None:
        self._handle = None
        if self._ended:
            return
        try:
            self._work()
        except Exception:
            _log.exception("emulator response failed")
            self._sink.abort()
            self._end("error")

    def _work(self) -> None:
        if self._split_queue:
            self._drain_piece()
            return
        if self._closing is not None:
            self._close()
            return
        budget = FAIR_BUDGET
        while True:
            if self._sink.writing_paused:
                self._blocked = True
                return
            step = self._held
            if step is None:
                try:
                    step = next(self._steps)
                except StopIteration:
                    self._terminal("finish")
                    return
            else:
                self._held = None
            kind = step.__class__
            if kind is bytes or step is Signal.TICK:
                pacing = self._pacing
                if pacing is not None:
                    now = self._loop.time()
                    if self._rebase:
                        # After a stop (backpressure, a delay), go on at the pace, not in a burst.
                        self._rebase = False
                        self._due = max(self._due, now)
                    if now < self._due:
                        self._held = step
                        self._ticker.call_at(self._due, self._run)
                        return
                    # Strict schedule: a late loop catches up instead of stretching the stream.
                    self._due += pacing.interval
                if kind is bytes:
                    self.lines += 1
                    self._line(step)  # type: ignore[arg-type]
            elif kind is Piece:
                self._piece(step.data)  # type: ignore[union-attr]
            elif kind is Partial:
                self._partial(step)  # type: ignore[arg-type]
            elif kind is Wait:
                self._rebase = True
                self._handle = self._loop.call_later(step.seconds, self._run)  # type: ignore[union-attr]
                return
            elif step is Signal.CUT:
                self._terminal("cut")
                return
            elif step is Signal.STALL:
                self._terminal("stall")
                return
            elif step is Signal.DROP:
                self._sink.abort()
                self._end("fault")
                return
            if self._split_queue:
                self._handle = self._loop.call_soon(self._run)
                return
            budget -= 1
            if not budget:
                self._handle = self._loop.call_soon(self._run)
                return

    def _take_head(self, length: int) -> bytes:
        head = self._head
        if head is None:
            return b""
        self._head = None
        if not self._chunked and length > GO_BUFFER:
            self._chunked = True
        return head(self._chunked, length)

    def _line(self, data: bytes) -> None:
        head = self._take_head(len(data)) if self._head is not None else b""
        if self._head_only:
            if head:
                self._out(head)
            return
        if self._chunked:
            self._out(b"%b%x\r\n%b\r\n" % (head, len(data), data))
        else:
            self._out(head + data if head else data)

    def _piece(self, data: bytes) -> None:
        if self._head is not None:
            self._chunked = True
            self._out(self._take_head(0))
        if not self._head_only:
            self._out(b"%x\r\n%b\r\n" % (len(data), data) if self._chunked else data)

    def _partial(self, step: Partial) -> None:
        """Headers for the whole line, then only its first ``step.sent`` bytes."""
        head = self._take_head(len(step.data)) if self._head is not None else b""
        if self._head_only:
            self._out(head)
            return
        part = step.data[: step.sent]
        if self._chunked:
            self._out(b"%b%x\r\n%b" % (head, len(step.data), part))
        else:
            self._out(head + part)

    def _out(self, data: bytes) -> None:
        if self._coalesced is not None:
            self._coalesced += data
        elif self._split is not None:
            self._split_queue += data
        else:
            self._send(data)

    def _send(self, data: bytes) -> None:
        self.bytes += len(data)
        self._sink.write(data)

    def _drain_piece(self) -> None:
        if self._sink.writing_paused:
            self._blocked = True
            return
        size = self._random.randint(1, self._split or 1)
        piece = bytes(self._split_queue[:size])
        del self._split_queue[:size]
        self._send(piece)
        self._handle = self._loop.call_later(SPLIT_PAUSE, self._run)

    def _flush_coalesced(self) -> None:
        buffered, self._coalesced = self._coalesced, None
        if buffered:
            self._out(bytes(buffered))

    def _terminal(self, how: str) -> None:
        """Write the closing bytes (all of a coalesced body in one write), then close as ``how``."""
        if how == "finish":
            if self._head is not None:
                self._out(self._take_head(0))
            if self._chunked and not self._head_only:
                self._out(TERMINATOR)
        elif self._head is not None and self._chunked:
            # Cut or stall before the first line: the client still gets the headers.
            self._out(self._take_head(0))
        self._flush_coalesced()
        self._closing = how
        if self._split_queue:
            self._handle = self._loop.call_soon(self._run)
        else:
            self._close()

    def _close(self) -> None:
        if self._closing == "finish":
            self._end("complete")
        elif self._closing == "cut":
            self._sink.abort()
            self._end("fault")
        # A stall writes nothing more: ``abort`` ends it when the client leaves.

    def _end(self, outcome: str) -> None:
        if self._ended:
            return
        self._ended = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        close = getattr(self._steps, "close", None)
        if close is not None:
            close()
        self._on_end(outcome)
