"""Restart intensity: how many restarts happened within a sliding time window."""

from __future__ import annotations

from collections import deque

__all__ = ["RestartWindow"]


class RestartWindow:
    """The restarts of the last ``max_seconds`` seconds, checked against ``max_restarts``.

    OTP's algorithm (``supervisor:add_restart/1``) on a monotonic clock in float seconds:
    each restart drops the timestamps older than ``now - max_seconds``, adds ``now``, and is
    refused when that leaves *more than* ``max_restarts`` of them. So ``max_restarts=0``
    refuses the first restart, and the default 3 in 5 s refuses the fourth restart within
    5 s. ``max_restarts=None`` refuses nothing (the window is still kept, for `len`).

    Not thread-safe: one owner (a supervisor's own thread) uses it.
    """

    __slots__ = ("_times", "max_restarts", "max_seconds")

    def __init__(self, max_restarts: int | None, max_seconds: float) -> None:
        if max_restarts is not None and max_restarts < 0:
            msg = f"max_restarts must be >= 0 or None, not {max_restarts!r}"
            raise ValueError(msg)
        if not max_seconds > 0:
            msg = f"max_seconds must be > 0, not {max_seconds!r}"
            raise ValueError(msg)
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self._times: deque[float] | None = None  # made at the first restart: most never restart

    def add(self, now: float) -> bool:
        """Record a restart at ``now`` (``time.monotonic()``); False if it is one too many."""
        times = self._times
        if times is None:
            times = self._times = deque()
        threshold = now - self.max_seconds
        while times and times[0] < threshold:
            times.popleft()
        times.append(now)
        return self.max_restarts is None or len(times) <= self.max_restarts

    def __len__(self) -> int:
        """Restarts within the window as of the last `add`, that one included."""
        return 0 if self._times is None else len(self._times)
