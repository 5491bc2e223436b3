"""Generation slots: at most ``num_parallel`` generations at once, a bounded queue behind them.

Mirrors ``OLLAMA_NUM_PARALLEL`` (requests beyond it wait, in order) and ``OLLAMA_MAX_QUEUE``
(past it, new requests get 503 before any byte is streamed). Used from the server loop only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

QUEUE_FULL = "server busy, please try again.  maximum pending requests exceeded"


class Ticket:
    """A place in the queue; ``cancel`` it when the waiting client goes away."""

    __slots__ = ("_slots", "granted", "on_grant")

    def __init__(self, slots: Slots, on_grant: Callable[[Ticket], None]) -> None:
        self._slots = slots
        self.on_grant = on_grant
        self.granted = False

    def cancel(self) -> None:
        """Leave the queue, or give the slot back if it was granted."""
        self._slots.leave(self)


class Slots:
    """Counts running generations and queues the rest."""

    def __init__(
        self,
        schedule: Callable[[Callable[[], None]], object],
        num_parallel: int | None = None,
        max_queue: int = 512,
    ) -> None:
        self._schedule = schedule
        self.num_parallel = num_parallel
        self.max_queue = max_queue
        self.running = 0
        self._waiting: deque[Ticket] = deque()

    def acquire(self, on_grant: Callable[[Ticket], None]) -> Ticket | None:
        """A ticket (``on_grant(ticket)`` runs now or when a slot frees up), or None if the queue is
        full."""
        ticket = Ticket(self, on_grant)
        if self.num_parallel is None or self.running < self.num_parallel:
            self._grant(ticket, now=True)
            return ticket
        if len(self._waiting) >= self.max_queue:
            return None
        self._waiting.append(ticket)
        return ticket

    def _grant(self, ticket: Ticket, *, now: bool) -> None:
        self.running += 1
        ticket.granted = True
        if now:
            ticket.on_grant(ticket)
        else:
            # Not from inside the releasing response's own teardown.
            self._schedule(lambda: ticket.on_grant(ticket))

    def leave(self, ticket: Ticket) -> None:
        """Release a granted slot (waking the next in line) or drop a waiting ticket."""
        if ticket.granted:
            ticket.granted = False
            self.running -= 1
            while self._waiting and (self.num_parallel is None or self.running < self.num_parallel):
                self._grant(self._waiting.popleft(), now=False)
        elif ticket in self._waiting:
            self._waiting.remove(ticket)
