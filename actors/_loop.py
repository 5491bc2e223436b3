"""The process-wide event loop thread that loop actors and non-blocking I/O share.

One thread runs one asyncio loop for everything that must not own a thread of its own: actors
whose handlers never block (`LoopActor`) and the I/O of thousands of concurrent streams. The loop
starts on first use, runs in a daemon thread named ``actors-loop``, and is started afresh in a
child process after ``fork``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from actors._watchdog import Watchdog

__all__ = [
    "WouldBlockLoop",
    "call_on_loop",
    "event_loop",
    "in_loop_thread",
    "permit_blocking",
    "refuse_blocking",
    "set_loop_watchdog",
    "waiting_on_loop",
    "wake_waiter",
]

FIXES = (
    "tell the message instead and have the answer told back (an actors.Inbox, or the "
    "actor's own mailbox), return an actors.Deferred from the handler to answer later, or "
    "in asyncio code await the answer (for example Inbox.areceive)"
)
"""What to do instead of waiting on the loop thread: the end of every `WouldBlockLoop`."""


class WouldBlockLoop(RuntimeError):
    """A blocking wait was refused on the shared loop thread.

    Every `actors.LoopActor`, every stream and every timer runs on that one thread: a wait
    there for something that needs the loop (a loop actor's reply, a supervisor starting loop
    children, a child restarting) can only deadlock it, so it raises this at once instead.
    The message says what to do instead. Only the wait is refused: an ``ask`` or ``stop``
    has sent its message by then (Pykka sends before it waits). The reply of a plain Pykka
    actor is not refused (its futures are Pykka's own).
    """


logger = logging.getLogger(__name__)


class _Shared:
    """The loop, its thread's id and the process it belongs to."""

    lock = threading.Lock()
    loop: asyncio.AbstractEventLoop | None = None
    thread_id: int | None = None
    pid: int | None = None
    permitted = 0
    """Blocking waits the loop thread is in that `permit_blocking` allowed (its own count)."""
    watchdog: Watchdog | None = None


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


def refuse_blocking(what: str) -> None:
    """Raise `WouldBlockLoop` naming ``what`` if called on the loop thread (unless within
    `permit_blocking`); else do nothing. Call it before any wait that may need the loop."""
    if _Shared.thread_id == threading.get_ident() and not _Shared.permitted:
        raise WouldBlockLoop(f"{what} would block the shared loop thread: {FIXES}")


@contextlib.contextmanager
def permit_blocking() -> Iterator[None]:
    """Let the caller block within the block, even on the loop thread (where it is known to
    be safe: a wait that does not need the loop). `waiting_on_loop` tells others meanwhile."""
    if not in_loop_thread():
        yield
        return
    _Shared.permitted += 1
    try:
        yield
    finally:
        _Shared.permitted -= 1


def waiting_on_loop() -> bool:
    """Whether the loop thread is blocked in a wait that `permit_blocking` allowed: work
    that needs the loop (a loop actor's ``on_start``) cannot happen until it returns."""
    return _Shared.permitted > 0


def _report(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's exception handler: what a callback let escape goes to this package's logger,
    not asyncio's, so that a process that never configured logging prints nothing."""
    where = context.get("handle") or context.get("future") or context.get("task")
    message = context.get("message") or "an exception on the shared loop"
    logger.error("%s: %r", message, where, exc_info=context.get("exception"))


class _Loop(asyncio.SelectorEventLoop):
    """asyncio's selector loop, woken from other threads through an eventfd where the system
    has one: one write to wake it and one read when it wakes, where asyncio's socket pair
    takes a send, then receives until one would block (two reads and an exception per
    wake-up). A `LoopActor` asked from a plain thread pays that wake-up on every ask.

    These override asyncio's private self-pipe methods (the same from 3.11 to 3.13);
    ``tests/actors/test_loop_wakeup.py`` checks that the loop uses them. The eventfd is never
    closed: another thread may be writing to it while the loop closes (the shared loop never
    does), and a closed descriptor's number can be reused for another file.
    """

    _wake_fd: int | None = None

    def _make_self_pipe(self) -> None:
        if not hasattr(os, "eventfd"):
            super()._make_self_pipe()  # type: ignore[misc]
            return
        self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._internal_fds += 1  # type: ignore[attr-defined]
        self._add_reader(self._wake_fd, self._read_from_self)  # type: ignore[attr-defined]

    def _close_self_pipe(self) -> None:
        fd = self._wake_fd
        if fd is None:
            super()._close_self_pipe()  # type: ignore[misc]
            return
        self._remove_reader(fd)  # type: ignore[attr-defined]
        self._internal_fds -= 1  # type: ignore[attr-defined]

    def _read_from_self(self) -> None:
        fd = self._wake_fd
        if fd is None:
            super()._read_from_self()  # type: ignore[misc]
            return
        with contextlib.suppress(BlockingIOError, InterruptedError):
            os.eventfd_read(fd)

    def _write_to_self(self) -> None:
        fd = self._wake_fd
        if fd is None:
            super()._write_to_self()  # type: ignore[misc]
            return
        with contextlib.suppress(OSError):
            os.eventfd_write(fd, 1)


def _start() -> asyncio.AbstractEventLoop:
    with _Shared.lock:
        if _Shared.loop is not None and _Shared.pid == os.getpid():
            return _Shared.loop
        loop = _Loop()
        loop.set_exception_handler(_report)
        ready = threading.Event()

        def run() -> None:
            _Shared.thread_id = threading.get_ident()
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            while True:
                try:
                    loop.run_forever()  # never stopped: it returns only by raising
                except BaseException:
                    # asyncio lets SystemExit and KeyboardInterrupt out of a callback; here
                    # they would end the one loop every loop actor, stream and timer needs.
                    logger.exception("a callback on the shared loop raised; the loop goes on")

        thread = threading.Thread(target=run, name="actors-loop", daemon=True)
        thread.start()
        ready.wait()
        assert thread.ident is not None
        watchdog = Watchdog(loop, thread.ident)
        if _Shared.watchdog is not None:  # a forked child keeps its parent's setting
            watchdog.threshold = _Shared.watchdog.threshold
        watchdog.start()
        _Shared.loop, _Shared.pid, _Shared.watchdog = loop, os.getpid(), watchdog
        return loop


def _forget_the_loop_thread() -> None:
    """After ``fork``, in the child: the parent's loop thread does not exist here, and a new
    thread may get its identity (thread ids are reused), which would then pass for the loop
    thread. `event_loop` starts a new loop on first use."""
    _Shared.lock = threading.Lock()
    _Shared.thread_id = None
    _Shared.permitted = 0


os.register_at_fork(after_in_child=_forget_the_loop_thread)


def set_loop_watchdog(threshold: float | None) -> None:
    """Report a shared loop blocked for more than ``threshold`` seconds, while it lasts.

    The watchdog logs one WARNING (logger ``actors.loop``) while the loop thread is blocked,
    with what it runs (a loop actor's handler or ``on_start``, a stream sink, a timer) and
    its stack, and one when it runs again. Default: `DEFAULT_THRESHOLD` seconds. None turns
    it off. Raises `ValueError` for a threshold that is not a finite number of seconds > 0.
    Takes effect at once. Any thread; starts the loop if it has not started yet.
    """
    event_loop()
    assert _Shared.watchdog is not None
    _Shared.watchdog.configure(threshold)


def wake_waiter(waiter: asyncio.Future[None]) -> None:
    """Resolve the future an ``await`` waits on, unless it is done (cancelled, say) already.

    Run it on the waiter's own loop (``loop.call_soon_threadsafe(wake_waiter, waiter)``)."""
    if not waiter.done():
        waiter.set_result(None)
