"""The vocabulary a response body is written in, shared by the endpoints, the faults and the pump.

A body is an iterator of steps. A ``bytes`` step is one line (one HTTP chunk when chunked): the unit
faults count and pacing spaces out. The other steps let faults shape the body without knowing how it
is written.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Piece:
    """Part of a line, written at once (its own HTTP chunk when chunked); never paced or counted."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Partial:
    """A line announced whole (its length in the headers) of which only the first ``sent``
    bytes are written: a reply that is not streamed, cut or stalled in the middle of its body."""

    data: bytes
    sent: int


@dataclass(frozen=True, slots=True)
class Wait:
    """Write nothing for this long."""

    seconds: float


class Signal(enum.Enum):
    """Steps that change how the body goes out rather than what it says."""

    TICK = "tick"
    """A paced step that writes nothing: one token of a reply that is not streamed."""
    CUT = "cut"
    """Abort the connection (no chunked terminator) after what was written."""
    DROP = "drop"
    """Abort the connection before writing anything, headers included."""
    STALL = "stall"
    """Write nothing more, keeping the connection open until the client leaves."""


Step = bytes | Piece | Partial | Wait | Signal

Frame = tuple[bytes, bytes]
"""The bytes before and after the text of one line of a response, for faults that forge lines."""
