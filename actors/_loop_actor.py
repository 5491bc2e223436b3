"""`LoopActor`: an actor without a thread of its own, run on the shared event loop."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from pykka.messages import ProxyCall, ProxyGetAttr, ProxySetAttr

from actors._actor import ActorBase
from actors._deferred import Deferred
from actors._future import LoopReplyFuture
from actors._loop import event_loop, in_loop_thread
from actors._mailbox import Mailbox, refuse

if TYPE_CHECKING:
    from pykka import Future

    from actors._pykka import ActorInbox, Envelope

__all__ = ["LoopActor"]

logger = logging.getLogger(__name__)

BATCH = 64
"""Messages one actor handles per turn before it lets other loop work run."""

SLOW_HANDLER = 0.1
"""Seconds after which a handler is reported (WARNING) for holding up the shared loop."""


class _LoopMailbox(Mailbox):
    """A `LoopActor`'s inbox: a deque; the first message after a quiet spell schedules a turn.

    ``put`` from the loop thread schedules with ``call_soon`` (no wake-up); from any other
    thread with ``call_soon_threadsafe``, once per turn, however many messages arrive.
    """

    __slots__ = ("_lock", "_loop", "_queue", "_runner", "_scheduled")

    on_loop = True

    _runner: Callable[[], None]

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[Envelope[Any]] = deque()
        self._lock = threading.Lock()
        self._scheduled = True  # until start(): messages wait for on_start
        self._loop = event_loop()

    def start(self, first: Callable[[], None], runner: Callable[[], None]) -> None:
        """Schedule ``first`` now and ``runner`` whenever messages wait (called once)."""
        self._runner = runner
        self._call_soon(first)

    def _call_soon(self, callback: Callable[[], None]) -> None:
        if in_loop_thread():
            self._loop.call_soon(callback)
        else:
            self._loop.call_soon_threadsafe(callback)

    def put(self, envelope: Envelope[Any], /) -> None:
        with self._lock:
            label = self._label
            if label is None:
                self._queue.append(envelope)
                if self._scheduled:
                    return
                self._scheduled = True
        if label is not None:
            refuse(envelope, label)
            return
        self._call_soon(self._runner)

    def get(self) -> Envelope[Any]:
        """Take the oldest message (loop thread only; the mailbox must not be empty)."""
        return self._queue.popleft()

    def empty(self) -> bool:
        return not self._queue

    def end_turn(self) -> None:
        """Schedule another turn if messages wait, else go quiet (loop thread only)."""
        with self._lock:
            if not self._queue:
                self._scheduled = False
                return
        self._loop.call_soon(self._runner)

    def close(self, label: str) -> list[Envelope[Any]]:
        with self._lock:
            if self._label is None:
                self._label = label
            items = self._take_all()
            del self._runner  # break the mailbox -> actor cycle; nothing schedules it again
        return items

    def _queue_lock(self) -> Any:
        return self._lock

    def _take_all(self) -> list[Envelope[Any]]:
        # One popleft at a time: `take` runs on the loop thread without the lock.
        items = []
        queue = self._queue
        while True:
            try:
                items.append(queue.popleft())
            except IndexError:
                return items

    def _append(self, envelope: Envelope[Any]) -> None:
        self._queue.append(envelope)

    def _woken(self) -> None:
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        self._call_soon(self._runner)


class LoopActor(ActorBase):
    """An actor that owns no thread: its messages are handled on the shared event loop.

    It is a Pykka actor in every other respect: ``start()`` returns an `ActorRef`;
    ``tell``, ``ask(..., timeout=...)``, ``proxy()`` and ``stop()`` work from any thread and
    mean what they mean for ``pykka.ThreadingActor``; messages are handled one at a time in
    the order they arrived; ``on_start``, ``on_stop``, ``on_failure`` run as in Pykka. Exit
    reasons, monitors, `actors.Deferred` replies, BaseException handling and refused late
    messages are as documented on `actors.Actor`.

    .. warning::
        **Handlers must never block.** ``on_start``, ``on_receive``, proxied methods,
        ``on_stop`` and ``on_failure`` all run on the one loop thread that every
        ``LoopActor`` (and the package's non-blocking I/O) shares: a handler that sleeps,
        waits on a lock, does blocking I/O or calls ``ask(...)``/``future.get()`` stalls
        them all. To answer a long operation, start it elsewhere and return an
        `actors.Deferred`; a handler runs inside the loop, so it may also start asyncio
        work (``asyncio.get_running_loop().create_task(...)``) that settles the Deferred
        when done. Waiting on the loop thread for an actor's reply raises
        `actors.WouldBlockLoop` at once instead of deadlocking. A handler taking more than
        `SLOW_HANDLER` seconds is logged at WARNING.

    Cost: starting one takes no thread (a few tens of microseconds), so tens of thousands
    can exist at once. A busy actor handles up to `BATCH` messages per turn, then yields
    to the rest of the loop. Messages told from the loop thread itself cost no cross-thread
    wake-up. The loop thread is a daemon: at interpreter exit, running loop actors are
    abandoned without ``on_stop``.
    """

    @staticmethod
    def _create_actor_inbox() -> ActorInbox:
        return _LoopMailbox()

    @staticmethod
    def _create_future() -> Future[Any]:
        return LoopReplyFuture()

    def _start_actor_loop(self) -> None:
        self._leave_registry_if_supervised()
        cast("_LoopMailbox", self.actor_inbox).start(self._first_turn, self._turn)

    def _first_turn(self) -> None:
        self._run_on_start()
        if self.actor_stopped.is_set():
            self._finish(None)
        else:
            self._turn()

    def _turn(self) -> None:
        mailbox = cast("_LoopMailbox", self.actor_inbox)
        # Without the lock: only `kill` (from another thread, one atomic popleft at a time)
        # takes messages besides this loop, so each is either handled here or refused there.
        popleft = mailbox._queue.popleft
        stopped = self.actor_stopped
        handle = self._handle_receive
        clock = time.perf_counter
        for _ in range(BATCH):
            try:
                envelope = popleft()
            except IndexError:
                break
            started = clock()
            try:
                response = handle(envelope.message)
            except BaseException:
                self._handle_error(envelope)
            else:
                if envelope.reply_to is not None:
                    if isinstance(response, Deferred):
                        self._reply_later(response, envelope.reply_to)
                    else:
                        envelope.reply_to.set(response)
            elapsed = clock() - started
            if elapsed > SLOW_HANDLER:
                logger.warning(
                    "%s held up the shared loop for %.0f ms handling %s; "
                    "LoopActor handlers must not block",
                    self,
                    elapsed * 1000,
                    describe_message(envelope.message),
                )
            if stopped.is_set():
                self._finish(envelope)
                return
        mailbox.end_turn()


def describe_message(message: Any) -> str:
    """Name a message for a log line without printing its (possibly huge) contents."""
    if isinstance(message, ProxyCall | ProxyGetAttr | ProxySetAttr):
        return f"{type(message).__name__} {'.'.join(message.attr_path)}"
    return type(message).__name__
