"""`Inbox`: a mailbox that a plain thread can receive from."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from actors._loop import refuse_blocking, wake_waiter

__all__ = ["Inbox"]


class Inbox:
    """A mailbox for a plain thread: any thread may ``tell``; `receive` takes messages out.

    It is a recipient like any `ActorRef` (it can be an `actors.monitor` watcher or a stream
    recipient) but has no thread of its own: the thread that calls `receive` takes the
    messages out, in the order they were told (per sender thread), optionally choosing by
    a predicate as Erlang's selective ``receive`` does::

        inbox = Inbox()
        ref = client.chat(..., stream=inbox).ref
        while True:
            match inbox.receive(timeout=30.0):
                case (r, ("data", chunk)) if r == ref: ...
                case (r, ("done", response)) if r == ref: break

    Unbounded, like a Pykka inbox: a fast sender and a slow receiver grow it without limit.
    Several threads may receive from one inbox; each message goes to exactly one of them.
    asyncio code uses `areceive`, which waits without blocking its event loop.
    """

    __slots__ = ("_async_waiters", "_cond", "_matching", "_queue", "_selective", "_taken")

    def __init__(self) -> None:
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # receivers without ``match`` wait here
        self._selective = threading.Condition(lock)  # receivers with a ``match`` wait here
        self._queue: deque[Any] = deque()
        self._taken = 0  # messages removed so far; tells a scanning receiver to start over
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._matching: int | None = None  # the thread running a ``match`` (holds the lock)

    def tell(self, message: Any, /) -> None:
        """Queue ``message`` and wake the receivers that may take it. Any thread; it waits for
        no receiver, only (briefly) for a selective receiver's ``match`` running under the
        inbox's lock.

        One receiver without ``match`` is woken (it takes any message), and every selective
        receiver, since only its own predicate can say whether it wants the message: waking
        just one of them could wake one that does not, and leave the one that does asleep.
        """
        matching = self._matching  # inline `_check_reentry`: a per-message path
        if matching is not None and matching == threading.get_ident():
            self._check_reentry("tell")
        with self._cond:
            self._queue.append(message)
            self._cond.notify()
            self._selective.notify_all()
            if self._async_waiters:
                for loop, waiter in self._async_waiters:
                    # A loop closed with its receiver still waiting will never run it.
                    with contextlib.suppress(RuntimeError):
                        loop.call_soon_threadsafe(wake_waiter, waiter)
                self._async_waiters.clear()

    async def areceive(
        self,
        timeout: float | None = None,
        match: Callable[[Any], bool] | None = None,
    ) -> Any:
        """`receive` for asyncio: the same semantics, awaited without blocking the loop.

        As with `receive`, each message is offered to ``match`` once per call (after a
        wake-up only the newly arrived ones are), unless another receiver removed messages
        meanwhile: then the queue is examined again from its start.
        Raises the builtin `TimeoutError` when nothing (that ``match`` accepts) arrives within
        ``timeout`` seconds. Cancelling the awaiting task leaves every message queued.
        """
        self._check_reentry("areceive")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        scanned, taken = 0, self._taken
        while True:
            with self._cond:
                if self._taken != taken:  # another receiver removed messages: rescan
                    scanned, taken = 0, self._taken
                found, message = self._scan(match, scanned)
                if found:
                    return message
                scanned = len(self._queue)
                waiter: asyncio.Future[None] = loop.create_future()
                self._async_waiters.append((loop, waiter))
            remaining = None if deadline is None else deadline - loop.time()
            try:
                if remaining is not None and remaining <= 0:
                    raise TimeoutError
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                what = "no message" if match is None else "no matching message"
                raise TimeoutError(f"{what} arrived within {timeout} s") from None
            finally:
                with self._cond:
                    if (loop, waiter) in self._async_waiters:
                        self._async_waiters.remove((loop, waiter))

    def receive(
        self,
        timeout: float | None = None,
        match: Callable[[Any], bool] | None = None,
    ) -> Any:
        """Remove and return the next message, or the first one that ``match`` accepts.

        Blocks the calling thread up to ``timeout`` seconds (0 only looks; None waits
        forever, which a caller should rarely want: pass a bound). Raises the builtin
        `TimeoutError` when no message (that ``match`` accepts) arrives in time. On the shared
        loop thread, a call that would have to wait raises `actors.WouldBlockLoop` instead
        (use `areceive` there).

        With ``match``, the messages it rejects stay queued in their order for later
        ``receive`` calls. Each message is offered to ``match`` once per call: after a
        wake-up only newly arrived messages are examined. ``match`` runs in the calling
        thread while the inbox is locked (``tell`` waits meanwhile): keep it quick. Calling
        this inbox's ``tell``, ``receive``, ``areceive`` or ``drain`` from it raises
        `RuntimeError` (it would wait for itself). If it raises, the exception propagates
        and no message is removed.
        """
        matching = self._matching  # inline `_check_reentry`: a per-message path
        if matching is not None and matching == threading.get_ident():
            self._check_reentry("receive")
        deadline = None if timeout is None else time.monotonic() + timeout
        queue = self._queue
        with self._cond:
            if match is None:
                while not queue:
                    self._wait(self._cond, deadline, timeout, "no message")
                self._taken += 1
                return queue.popleft()
            scanned, taken = 0, self._taken
            while True:
                if self._taken != taken:  # another receiver removed messages: rescan
                    scanned, taken = 0, self._taken
                found, message = self._scan(match, scanned)
                if found:
                    return message
                scanned = len(queue)
                self._wait(self._selective, deadline, timeout, "no matching message")

    def _scan(self, match: Callable[[Any], bool] | None, start: int) -> tuple[bool, Any]:
        """Remove and return the first message from ``start`` on that ``match`` accepts, as
        ``(True, message)``; ``(False, None)`` if none does. The lock is held."""
        queue = self._queue
        self._matching = threading.get_ident()
        try:
            for index, message in enumerate(itertools.islice(queue, start, None), start):
                if match is None or match(message):
                    del queue[index]
                    self._taken += 1
                    return True, message
        finally:
            self._matching = None
        return False, None

    def _check_reentry(self, what: str) -> None:
        """Refuse a call from inside a ``match`` of this inbox (it holds the lock: the
        call would wait for itself, and every later ``tell`` with it)."""
        matching = self._matching
        if matching is not None and matching == threading.get_ident():
            msg = f"Inbox.{what} called from a match function of the same inbox"
            raise RuntimeError(msg)

    @staticmethod
    def _wait(
        cond: threading.Condition, deadline: float | None, timeout: float | None, what: str
    ) -> None:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            msg = f"{what} arrived within {timeout} s"
            raise TimeoutError(msg)
        refuse_blocking("Inbox.receive")
        cond.wait(remaining)

    def drain(self) -> list[Any]:
        """Remove and return every queued message, oldest first, without waiting."""
        self._check_reentry("drain")
        with self._cond:
            messages = list(self._queue)
            self._queue.clear()
            self._taken += len(messages)
        return messages

    def __len__(self) -> int:
        """The number of queued messages (a snapshot: others may tell or take meanwhile)."""
        return len(self._queue)

    def __bool__(self) -> bool:
        """Always true, even when empty: an inbox is a recipient, not a container."""
        return True

    def __repr__(self) -> str:
        return f"<Inbox with {len(self._queue)} queued>"
