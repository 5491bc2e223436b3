"""Time bounds for a request, as one small value object."""

from __future__ import annotations

import math
from dataclasses import dataclass

import httpx

__all__ = ["DEFAULT_TIMEOUT", "Timeout", "TimeoutLike"]


@dataclass(frozen=True, slots=True)
class Timeout:
    """Bounds in seconds; ``None`` means unbounded.

    - ``connect``: making the TCP (and TLS) connection.
    - ``read``: the longest silence while waiting for the next byte; a stalled stream ends with
      `ReadTimeout` once it passes. A model that loads slowly sends nothing until its first token,
      so the default is generous (Ollama's own load timeout is five minutes).
    - ``total``: one attempt of the request, from sending it until its last byte. Each attempt
      has its own: a supervised stream's retry (`RetryPolicy`) and a pool's move to another
      host start it afresh, so what bounds a retried stream as a whole is its retry budget.
      A wait in a pool's queue is bounded apart, by the smaller of ``read`` and ``total``.
    """

    connect: float | None = 10.0
    read: float | None = 300.0
    total: float | None = None

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"Timeout.{name} must be a number of seconds or None")
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"Timeout.{name} must be a positive finite number, got {value}")

    @classmethod
    def coerce(cls, value: TimeoutLike) -> Timeout:
        """Accept a `Timeout`, ``None`` (unbounded), seconds (bounds connect and read), or an
        ``httpx.Timeout`` as ollama-python users pass one (its connect and read bounds)."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(None, None, None)
        if isinstance(value, httpx.Timeout):
            return cls(connect=value.connect, read=value.read, total=None)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(
                f"timeout must be seconds, a Timeout or None, not {type(value).__name__}"
            )
        return cls(connect=value, read=value, total=None)


TimeoutLike = Timeout | float | int | httpx.Timeout | None

DEFAULT_TIMEOUT = Timeout()
