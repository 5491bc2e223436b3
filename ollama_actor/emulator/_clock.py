"""Time stamps as Ollama (Go) writes them, cached so that hot paths do not format dates per line."""

from __future__ import annotations

import time
from email.utils import formatdate

_NS_PER_S = 1_000_000_000
_NS_PER_MS = 1_000_000


def rfc3339_ns(ns: int) -> str:
    """Epoch nanoseconds as Go's ``time.Time`` JSON: UTC, fraction without trailing zeros, Z."""
    seconds, frac = divmod(ns, _NS_PER_S)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if frac:
        return f"{stamp}.{frac:09d}".rstrip("0") + "Z"
    return stamp + "Z"


class Clock:
    """Caches ``created_at`` (per millisecond) and the HTTP ``Date`` (per second) of one server."""

    __slots__ = ("_date", "_date_s", "_stamp", "_stamp_ms")

    def __init__(self) -> None:
        self._stamp_ms = -1
        self._stamp = b""
        self._date_s = -1
        self._date = b""

    def created_at(self) -> bytes:
        """Now, as the bytes inside a JSON string, e.g. ``2024-07-08T23:21:07.755286Z``."""
        ns = time.time_ns()
        ms = ns // _NS_PER_MS
        if ms != self._stamp_ms:
            self._stamp_ms = ms
            self._stamp = rfc3339_ns(ns).encode()
        return self._stamp

    def http_date(self) -> bytes:
        """The value of the ``Date`` response header."""
        now = int(time.time())
        if now != self._date_s:
            self._date_s = now
            self._date = formatdate(now, usegmt=True).encode()
        return self._date
