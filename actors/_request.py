"""Requests whose reply calls back: an ``ask`` that nobody waits for."""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from typing import Any

from pykka import ActorDeadError, ActorRef, Future

from actors._pykka import Envelope, OptExcInfo

__all__ = ["OnReply", "send_request"]

OnReply = Callable[[Any, BaseException | None], None]
"""``on_reply(value, error)``: error is None when the handler returned ``value``."""


class _Reply(Future[Any]):
    """A reply future that calls ``on_reply`` the moment the answer is set.

    Nobody waits on it, so it is a bare `pykka.Future` (no condition variable: fewer objects
    per request for the collector); it is set once, as any reply future, and a second set
    raises `queue.Full` as Pykka's does.
    """

    def __init__(self, on_reply: OnReply) -> None:
        super().__init__()
        self._on_reply: OnReply | None = on_reply

    def set(self, value: Any | None = None) -> None:
        self._take()(value, None)

    def set_exception(self, exc_info: OptExcInfo | None = None) -> None:
        if exc_info is None:
            exc_info = sys.exc_info()
        self._take()(None, exc_info[1])

    def _take(self) -> OnReply:
        with _setting:
            on_reply, self._on_reply = self._on_reply, None
        if on_reply is None:
            raise queue.Full
        return on_reply


_setting = threading.Lock()
"""Makes each reply's set-once check atomic (held for a few bytecodes only)."""


def send_request(ref: ActorRef[Any], message: Any, on_reply: OnReply) -> None:
    """Send ``message`` as an ``ask`` and call ``on_reply(value, error)`` once answered.

    For the many requests whose answer nobody waits for: no thread blocks, nothing polls.
    ``on_reply`` runs once, in the thread that answers (the actor's own, or here at once with
    `pykka.ActorDeadError` if the actor has ended), so it must be quick and must not block.
    A reply the handler defers (`actors.Deferred`) calls it when settled. Any thread.
    """
    if not ref.is_alive():
        on_reply(None, ActorDeadError(f"{ref} not found"))
        return
    ref.actor_inbox.put(Envelope(message, reply_to=_Reply(on_reply)))
