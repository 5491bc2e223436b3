"""Timers: tell a message later (Erlang's ``send_after``), on the shared loop."""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

from pykka import ActorDeadError

from actors._loop import call_on_loop, event_loop
from actors._monitor import Recipient

__all__ = ["Timer", "send_after"]

logger = logging.getLogger(__name__)


class Timer:
    """A message that `send_after` will tell; `cancel` it until then."""

    __slots__ = ("_done", "_handle", "_lock", "message", "recipient")

    def __init__(self, recipient: Recipient, message: Any) -> None:
        self.recipient = recipient
        self.message = message
        self._lock = threading.Lock()
        self._done = False  # told or cancelled
        self._handle: Any = None

    @property
    def active(self) -> bool:
        """Whether the message is still to be told (not yet told, not cancelled)."""
        return not self._done

    def cancel(self) -> bool:
        """Make sure the message is never told; True if this call prevented it.

        Any thread; never blocks. False if it was already told (it may be in the
        recipient's mailbox) or cancelled.
        """
        with self._lock:
            if self._done:
                return False
            self._done = True
            handle = self._handle
        if handle is not None:
            call_on_loop(handle.cancel)
        return True

    def _arm(self, delay: float) -> None:
        with self._lock:
            if not self._done:
                self._handle = event_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        try:
            self.recipient.tell(self.message)
        except ActorDeadError:
            logger.debug("%r ended before its timer fired; message dropped", self.recipient)
        except Exception:
            logger.exception("telling %r a timer's message raised", self.recipient)

    def __repr__(self) -> str:
        state = "pending" if not self._done else "done"
        return f"<Timer {state} for {self.recipient!r}>"


def send_after(delay: float, recipient: Recipient, message: Any) -> Timer:
    """Tell ``message`` to ``recipient`` in ``delay`` seconds; the `Timer`, to cancel it.

    The timer runs on the shared loop: no thread per timer, and a million pending timers
    cost what a million asyncio timer handles cost. The ``tell`` happens on the loop thread
    (so it must not block: every recipient's ``tell`` is meant not to). A recipient that has
    ended by then (`pykka.ActorDeadError`) loses the message quietly, as Erlang's
    ``send_after`` to a dead process does. Any thread; never blocks. Raises `ValueError` for
    a negative or infinite delay, `TypeError` for a recipient without ``tell``.
    """
    if not (isinstance(delay, int | float) and 0 <= delay < math.inf):
        raise ValueError(f"send_after needs a delay in seconds >= 0, not {delay!r}")
    if not isinstance(recipient, Recipient):
        raise TypeError(f"send_after needs a recipient with a tell method, not {recipient!r}")
    timer = Timer(recipient, message)
    call_on_loop(timer._arm, delay)
    return timer
