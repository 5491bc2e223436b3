"""Sizes, durations and tables, shown as Ollama's own command line shows them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

__all__ = ["ago", "go_duration", "go_g", "human_bytes", "parse_time", "table", "until"]

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


def go_duration(nanoseconds: int | float) -> str:
    """A duration given in nanoseconds, exactly as Go's ``time.Duration.String`` writes it.

    ``1.5s``, ``174.560334ms``, ``2m3.000000001s``, ``1h0m0s``, ``0s``: a whole number of
    nanoseconds in the largest unit below a second, or hours, minutes and seconds with their
    fraction, trailing zeros trimmed (``ollama run --verbose`` prints its timings so).
    """
    ns = int(nanoseconds)
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000_000_000:
        for unit, scale in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= scale:
                return f"{sign}{_fraction(ns, scale)}{unit}"
    hours, ns = divmod(ns, 3_600_000_000_000)
    minutes, ns = divmod(ns, 60_000_000_000)
    text = f"{_fraction(ns, 1_000_000_000)}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _fraction(value: int, scale: int) -> str:
    whole, rest = divmod(value, scale)
    if not rest:
        return str(whole)
    digits = len(str(scale)) - 1
    return f"{whole}.{rest:0{digits}d}".rstrip("0")


def go_g(value: float) -> str:
    """A float64 as Go's ``%g`` (and ``%v``) writes it: the shortest digits that read back as
    the same number, in exponent form below 1e-4 and from 1e+06 (``4096``, ``1e+06``)."""
    if not math.isfinite(value):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(float(value))]
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(float(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent - 1  # the exponent of the first digit
    minus = "-" if sign else ""
    if point < -4 or point >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if point < 0 else '+'}{abs(point):02d}"
    if point < 0:
        return f"{minus}0.{'0' * (-point - 1)}{text}"
    whole = text[: point + 1].ljust(point + 1, "0")
    rest = text[point + 1 :]
    return f"{minus}{whole}.{rest}" if rest else f"{minus}{whole}"


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
