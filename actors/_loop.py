"""The process-wide event loop thread that loop actors and non-blocking I/O share.

One thread runs one asyncio loop for everything that must not own a thread of its own: actors
whose handlers never block (`LoopActor`) and the I/O of thousands of concurrent streams. The loop
starts on first use, runs in a daemon thread named ``actors-loop``, and is started afresh in a
child process after ``fork``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["call_on_loop", "event_loop", "in_loop_thread"]

logger = logging.getLogger(__name__)


class _Shared:
    """The loop, its thread's id and the process it belongs to."""

    lock = threading.Lock()
    loop: asyncio.AbstractEventLoop | None = None
    thread_id: int | None = None
    pid: int | None = None


def event_loop() -> asyncio.AbstractEventLoop:
    """Return the shared loop, starting its thread if this process has none yet.

    Safe to call from any thread. The loop runs until the process exits.
    """
    loop = _Shared.loop
    if loop is not None and _Shared.pid == os.getpid():
        return loop
    return _start()


def in_loop_thread() -> bool:
    """Whether the caller runs on the shared loop's thread."""
    return _Shared.thread_id == threading.get_ident()


def call_on_loop(callback: Callable[..., Any], *args: Any) -> None:
    """Run ``callback(*args)`` on the loop thread: at once if already there, else soon.

    From the loop thread the call is direct (no wake-up); from any other thread it is scheduled
    with ``call_soon_threadsafe``. Exceptions raised by the callback go to the loop's exception
    handler when scheduled (logged to ``actors._loop``), and to the caller when direct.
    """
    if _Shared.thread_id == threading.get_ident():
        callback(*args)
    else:
        event_loop().call_soon_threadsafe(callback, *args)


def _report(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's exception handler: what a callback let escape goes to this package's logger,
    not asyncio's, so that a process that never configured logging prints nothing."""
    where = context.get("handle") or context.get("future") or context.get("task")
    message = context.get("message") or "an exception on the shared loop"
    logger.error("%s: %r", message, where, exc_info=context.get("exception"))


def _start() -> asyncio.AbstractEventLoop:
    with _Shared.lock:
        if _Shared.loop is not None and _Shared.pid == os.getpid():
            return _Shared.loop
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_report)
        ready = threading.Event()

        def run() -> None:
            _Shared.thread_id = threading.get_ident()
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        thread = threading.Thread(target=run, name="actors-loop", daemon=True)
        thread.start()
        ready.wait()
        _Shared.loop, _Shared.pid = loop, os.getpid()
        return loop
