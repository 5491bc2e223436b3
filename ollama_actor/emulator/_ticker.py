"""One loop timer for every paced stream: wake-ups grouped by millisecond.

With thousands of paced streams a loop timer per token costs more than writing the token (a
``TimerHandle`` and heap operations that compare handles in Python). The ticker keeps one bucket of
callbacks per millisecond, ordered by a heap of plain integers, and one loop timer for the earliest
bucket. Callbacks cannot be cancelled: the pumps ignore a wake-up after they ended.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections.abc import Callable

RESOLUTION = 0.001


class Ticker:
    """Calls callbacks at (or up to a millisecond after) the loop time they ask for."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._buckets: dict[int, list[Callable[[], None]]] = {}
        self._slots: list[int] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_slot = -1

    def call_at(self, when: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the loop time reaches ``when``."""
        slot = math.ceil(when / RESOLUTION)
        bucket = self._buckets.get(slot)
        if bucket is not None:
            bucket.append(callback)
            return
        self._buckets[slot] = [callback]
        heapq.heappush(self._slots, slot)
        if self._timer is None or slot < self._timer_slot:
            self._arm(slot)

    def _arm(self, slot: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_slot = slot
        self._timer = self.loop.call_at(slot * RESOLUTION, self._fire)

    def _fire(self) -> None:
        self._timer = None
        slots = self._slots
        now = self.loop.time()
        while slots and slots[0] * RESOLUTION <= now + RESOLUTION / 2:
            for callback in self._buckets.pop(heapq.heappop(slots)):
                callback()
        if slots:
            self._arm(slots[0])
