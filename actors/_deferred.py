"""Deferred replies: answer an ``ask`` later, from any thread, without blocking the actor."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Deferred"]

T = TypeVar("T")


class Deferred(Generic[T]):
    """A one-shot reply that a handler returns now and settles later.

    When a handler of `actors.Actor` or `actors.LoopActor` returns a ``Deferred`` for an
    ``ask`` (or a proxy call), the caller's future completes when the ``Deferred`` is settled,
    not when the handler returns; the actor meanwhile handles its next messages::

        def send_to(self, recipient):
            reply = Deferred()
            start_stream(on_done=reply.resolve, on_error=reply.fail)   # returns at once
            return reply

    `resolve` and `fail` may be called from any thread; the first call wins and later calls
    return False and change nothing. If the actor ends while the reply is still unsettled,
    the runtime fails it with `pykka.ActorDeadError` (so a caller never hangs) and the late
    `resolve` returns False: long operations may check `done` to stop early.

    A ``Deferred`` returned for a ``tell`` is ignored, as any value returned for a ``tell``
    is: nobody waits for it and its outcome is not watched.
    """

    __slots__ = ("_callbacks", "_done", "_error", "_lock", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._value: T | None = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[T | None, BaseException | None], None]] | None = None

    def resolve(self, value: T) -> bool:
        """Settle with ``value``; True if this call settled it. Never blocks."""
        return self._settle(value, None)

    def fail(self, exception: BaseException) -> bool:
        """Settle with ``exception``, raised to the caller; True if this call settled it."""
        return self._settle(None, exception)

    def done(self) -> bool:
        """Whether the reply is settled (resolved, failed, or failed by the actor's end)."""
        return self._done

    def _settle(self, value: T | None, error: BaseException | None) -> bool:
        with self._lock:
            if self._done:
                return False
            self._done, self._value, self._error = True, value, error
            callbacks, self._callbacks = self._callbacks, None
        for callback in callbacks or ():
            callback(value, error)
        return True

    def _subscribe(self, callback: Callable[[T | None, BaseException | None], None]) -> None:
        """Call ``callback(value, error)`` once settled: now, if it already is.

        The callback runs in the thread that settles the reply (or here, if settled).
        """
        with self._lock:
            if not self._done:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(callback)
                return
        callback(self._value, self._error)

    def __repr__(self) -> str:
        if not self._done:
            return "<Deferred pending>"
        if self._error is not None:
            return f"<Deferred failed: {self._error!r}>"
        return f"<Deferred resolved: {self._value!r}>"
