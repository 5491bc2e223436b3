"""Sizes, durations and tables, shown as Ollama's own command line shows them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

__all__ = ["ago", "human_bytes", "human_ns", "parse_time", "table", "until"]

_UNITS = (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("KB", 1000))


def human_bytes(size: int | float) -> str:
    """``2.0 GB``, ``637 MB``, ``487 B``: decimal units, one decimal below 10 (as Ollama)."""
    for unit, scale in _UNITS:
        if size >= scale:
            value = size / scale
            if value >= 10:
                return f"{int(value)} {unit}"
            return f"{value:.1f} {unit}"
    return f"{int(size)} B"


def human_ns(nanoseconds: int | float) -> str:
    """A duration given in nanoseconds, as Go prints one: ``1.2s``, ``250ms``, ``1.1ms``."""
    seconds = nanoseconds / 1e9
    if seconds >= 60:
        minutes, rest = divmod(seconds, 60)
        return f"{int(minutes)}m{rest:.1f}s"
    if seconds >= 1:
        return f"{seconds:.3g}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g}ms"
    return f"{seconds * 1e6:.3g}µs"


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time as Ollama sends it (nanoseconds and ``Z`` included); None if unreadable."""
    if not text:
        return None
    head, _, zone = text.replace("Z", "+00:00").partition("+")
    if "." in head:
        whole, fraction = head.split(".", 1)
        head = f"{whole}.{fraction[:6]}"
    try:
        parsed = datetime.fromisoformat(f"{head}+{zone}" if zone else head)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _span(seconds: float) -> str:
    """A duration in words, with the steps of Docker's ``units.HumanDuration`` (as Ollama)."""
    if seconds < 1:
        return "Less than a second"
    if seconds < 2:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = int(seconds // 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // (24 * 7)} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // (24 * 30)} months"
    return f"{int(seconds // 3600) // (24 * 365)} years"


def ago(text: str, now: datetime | None = None) -> str:
    """``2 days ago`` for a past RFC 3339 time (the text itself if it cannot be read)."""
    when = parse_time(text)
    if when is None:
        return text
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    return f"{_span(max(0.0, seconds))} ago"


def until(text: str, now: datetime | None = None) -> str:
    """``4 minutes from now`` for a future RFC 3339 time; ``Forever`` for a far one."""
    when = parse_time(text)
    if when is None:
        return text
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds > 100 * 365 * 86400:
        return "Forever"
    if seconds <= 0:
        return "Stopping..."
    return f"{_span(seconds)} from now"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by at least four spaces (the last one not padded)."""
    lines = [list(header), *[list(row) for row in rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=False)]
        out.append("    ".join([*cells, line[-1]]).rstrip())
    return "\n".join(out)
