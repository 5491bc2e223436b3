"""The loop watchdog: reports, while it lasts, a shared loop that does not come back.

Everything on the shared loop thread (loop actors, streams, timers) stalls while one callback
blocks. A heartbeat on the loop notes the time every `Watchdog.threshold` / 4 seconds; a
daemon thread, ``actors-loop-watchdog``, looks at it as often. When the loop has not beaten
for ``threshold`` seconds, it logs one WARNING while the loop is still blocked, with what the
loop thread is running (a loop actor's handler or ``on_start``, a stream sink, a timer) and
its current stack; and one WARNING when the loop beats again, with how long it was blocked.

Nothing runs per message or per chunk: the cost is the heartbeat (4 callbacks per threshold)
and the watchdog thread waking as often.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import threading
import time
import traceback
from types import FrameType
from typing import Any

__all__ = ["DEFAULT_THRESHOLD", "Watchdog", "describe_frame"]

logger = logging.getLogger("actors.loop")

DEFAULT_THRESHOLD = 1.0
"""Seconds without a heartbeat before the loop counts as blocked. The whole test suite on a
loaded 2-core machine never came near it (see docs/supervision.md); a loop actor handler
slower than 0.1 s is already reported, after it returns, by the loop actor itself."""


_LONGEST = threading.TIMEOUT_MAX
"""The longest wait a thread can make: a huge threshold is watched at this pace."""


class Watchdog:
    """Watches one loop thread (see the module docstring). Start it with `start`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, thread_id: int) -> None:
        self._loop = loop
        self._thread_id = thread_id
        self.threshold: float | None = DEFAULT_THRESHOLD
        self._beat = time.monotonic()  # the last heartbeat
        self._configured = self._beat  # the last change of threshold: no lag counts before
        self._next: asyncio.TimerHandle | None = None  # the next heartbeat (loop thread only)
        self._lock = threading.Lock()  # a report is made, or the threshold changed, at once
        self._changed = threading.Event()  # wakes the watchdog thread when settings change

    def start(self) -> None:
        """Begin the heartbeat (on the loop) and the watchdog thread. Any thread, once."""
        self._loop.call_soon_threadsafe(self._heartbeat)
        threading.Thread(target=self._watch, name="actors-loop-watchdog", daemon=True).start()

    def configure(self, threshold: float | None) -> None:
        """Set the threshold in seconds (finite, > 0), or None to stop watching. Any thread.

        Takes effect at once: no report is begun after this returns with None, and a
        lower threshold is not measured against a heartbeat paced for the old one.
        """
        if threshold is not None and not 0 < threshold < math.inf:
            msg = f"the loop watchdog threshold must be > 0 seconds or None, not {threshold!r}"
            raise ValueError(msg)
        with self._lock:
            self.threshold = threshold
            self._configured = time.monotonic()
        self._loop.call_soon_threadsafe(self._repace)
        self._changed.set()

    def _heartbeat(self) -> None:
        self._beat = time.monotonic()
        threshold = self.threshold or DEFAULT_THRESHOLD
        self._next = self._loop.call_later(threshold / 4, self._heartbeat)

    def _repace(self) -> None:
        """Beat now, and from now on at the pace of the current threshold."""
        if self._next is not None:
            self._next.cancel()
        self._heartbeat()

    def _watch(self) -> None:
        blocked_since: float | None = None  # the last beat before a reported block
        while True:
            threshold = self.threshold
            self._changed.wait(None if threshold is None else min(threshold / 4, _LONGEST))
            self._changed.clear()
            with self._lock:
                threshold = self.threshold
                if threshold is None:
                    blocked_since = None
                    continue
                beat = self._beat
                if blocked_since is not None:
                    if beat != blocked_since:
                        logger.warning(
                            "the shared loop thread runs again after being blocked for %.1f s",
                            beat - blocked_since,
                        )
                        blocked_since = None
                    continue
                if time.monotonic() - max(beat, self._configured) > threshold:
                    blocked_since = beat
                    self._report(time.monotonic() - beat)

    def _report(self, lag: float) -> None:
        frame = sys._current_frames().get(self._thread_id)
        if frame is None:
            return
        stack = "".join(traceback.format_stack(frame))
        logger.warning(
            "the shared loop thread has been blocked for %.1f s, running %s; nothing else "
            "on the loop (loop actors, streams, timers) runs meanwhile. Its stack:\n%s",
            lag,
            describe_frame(frame),
            stack,
        )


def describe_frame(frame: FrameType) -> str:
    """Say what the loop thread is running, from its innermost frame ``frame``.

    Looks, from the innermost frame outward, for a loop actor's turn (its handler and the
    message) or first turn (``on_start``), a stream sink's callback, and else the asyncio
    callback or timer the loop is running.
    """
    handle: Any = None
    current: FrameType | None = frame
    while current is not None:
        code = current.f_code
        local = current.f_locals
        owner = local.get("self")
        if code.co_name == "_turn" and "envelope" in local and owner is not None:
            from actors._loop_actor import describe_message

            return f"a handler of {owner} for {describe_message(local['envelope'].message)}"
        if code.co_name == "_first_turn" and owner is not None:
            return f"the on_start of {owner}"
        if code.co_name in ("on_chunk", "on_done", "on_error") and owner is not None:
            return f"the stream sink {type(owner).__name__}.{code.co_name}"
        if code.co_name == "_run" and isinstance(owner, asyncio.Handle) and handle is None:
            handle = owner
        current = current.f_back
    if isinstance(handle, asyncio.TimerHandle):
        return f"a timer's callback {_callback(handle)}"
    if handle is not None:
        return f"the callback {_callback(handle)}"
    return "something outside any callback"


def _callback(handle: asyncio.Handle) -> str:
    callback = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None)  # a task's step: name the task's coroutine
    if isinstance(task, asyncio.Task):
        return f"of the task {task.get_name()} running {task.get_coro()!r}"
    return getattr(callback, "__qualname__", None) or repr(callback)
