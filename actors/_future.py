"""Reply futures that refuse to block the shared loop thread."""

from __future__ import annotations

from typing import Any, TypeVar

from pykka import ThreadingFuture, Timeout

from actors._loop import FIXES, WouldBlockLoop, in_loop_thread, refuse_blocking, waiting_on_loop
from actors._mailbox import running_here

__all__ = ["LoopReplyFuture", "ReplyFuture"]

T = TypeVar("T")


class ReplyFuture(ThreadingFuture[T]):
    """The reply future of `actors.Actor` and `actors.LoopActor` (``ask``, ``stop``, proxies).

    A Pykka ``ThreadingFuture``, except where waiting could only deadlock: on the shared
    loop thread, ``get()`` returns a value that is already in, and otherwise raises
    `actors.WouldBlockLoop` at once rather than wait (the reply may need the very loop it
    would block). The same holds for the reply of a `LoopActor` awaited by a thread actor
    that the loop thread itself waits for (it is starting under a ``Supervisor.start``
    made on the loop thread). Elsewhere it costs one thread-identity check more than
    Pykka's.
    """

    on_loop = False
    """Whether the reply comes from a `LoopActor` (whose replies need the loop thread)."""

    def get(self, *, timeout: float | None = None) -> Any:
        if not in_loop_thread():
            if self.on_loop and waiting_on_loop():
                try:
                    return super().get(timeout=0)
                except Timeout:
                    mailbox = running_here()
                    if mailbox is not None and mailbox.loop_waits_above():
                        raise WouldBlockLoop(
                            "waiting for a LoopActor's reply while the shared loop thread "
                            "waits for this actor to start (in Supervisor.start) would "
                            f"deadlock: {FIXES}, or start the supervisor from another thread"
                        ) from None
            return super().get(timeout=timeout)
        try:
            return super().get(timeout=0)
        except Timeout:
            refuse_blocking("waiting for an actor's reply")
            return super().get(timeout=timeout)  # blocking was permitted here


class LoopReplyFuture(ReplyFuture[T]):
    """The reply future of a `LoopActor`."""

    on_loop = True
