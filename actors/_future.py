"""Reply futures that refuse to block the shared loop thread."""

from __future__ import annotations

from typing import Any, TypeVar

from pykka import ThreadingFuture, Timeout

from actors._loop import in_loop_thread, refuse_blocking

__all__ = ["ReplyFuture"]

T = TypeVar("T")


class ReplyFuture(ThreadingFuture[T]):
    """The reply future of `actors.Actor` and `actors.LoopActor` (``ask``, ``stop``, proxies).

    A Pykka ``ThreadingFuture``, except on the shared loop thread: there ``get()`` returns
    a value that is already in, and otherwise raises `actors.WouldBlockLoop` at once rather
    than wait (the reply may need the very loop it would block). Elsewhere it costs one
    thread-identity check more than Pykka's.
    """

    def get(self, *, timeout: float | None = None) -> Any:
        if not in_loop_thread():
            return super().get(timeout=timeout)
        try:
            return super().get(timeout=0)
        except Timeout:
            refuse_blocking("waiting for an actor's reply")
            return super().get(timeout=timeout)  # blocking was permitted here
