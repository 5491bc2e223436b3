"""`RetryPolicy`: how a supervised stream retries (which failures, how often, how spaced)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from actors import Backoff
from ollama_actor._errors import is_retryable

__all__ = ["DEFAULT_RETRY", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a supervised stream retries: its own restart budget and the wait between tries.

    ``restart="transient"`` retries the failures ``retryable(exc)`` accepts (default:
    `is_retryable`, the table in docs/protocol.md), at most ``max_restarts`` times within
    ``max_seconds``; ``"temporary"`` never retries. ``backoff`` spaces the attempts
    (exponential, with jitter) so that a busy server is not hammered. ``retryable`` is called on
    the shared loop thread when an attempt fails, after every chunk of that attempt was told:
    it must be quick and must not block. If it raises, the failure is not retried (the stream
    ends with it) and the exception is logged.
    """

    max_restarts: int = 3
    max_seconds: float = 5.0
    backoff: Backoff | None = field(default_factory=lambda: Backoff(min=0.05, max=2.0))
    restart: Literal["transient", "temporary"] = "transient"
    retryable: Callable[[BaseException], bool] = is_retryable

    def __post_init__(self) -> None:
        """Refuse what a stream cannot run with, here rather than at the call that uses it
        (a ``"permanent"`` stream would be restarted for ever after it ended)."""
        if self.restart not in ("transient", "temporary"):
            raise ValueError(
                f"RetryPolicy.restart must be 'transient' or 'temporary', not {self.restart!r}"
            )
        restarts = self.max_restarts
        if not isinstance(restarts, int) or isinstance(restarts, bool) or restarts < 0:
            raise ValueError(f"RetryPolicy.max_restarts must be an int >= 0, not {restarts!r}")
        seconds = self.max_seconds
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not seconds > 0:
            raise ValueError(f"RetryPolicy.max_seconds must be a number > 0, not {seconds!r}")
        if self.backoff is not None and not isinstance(self.backoff, Backoff):
            raise TypeError(f"RetryPolicy.backoff must be a Backoff or None, not {self.backoff!r}")
        if not callable(self.retryable):
            raise TypeError(f"RetryPolicy.retryable must be callable, not {self.retryable!r}")


DEFAULT_RETRY = RetryPolicy()
