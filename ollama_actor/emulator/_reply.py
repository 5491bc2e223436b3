"""What a handler answers: status, content type and a body, fixed or produced step by step.

A body is an iterator of steps. A ``bytes`` step is one line (one HTTP chunk when chunked): the unit
faults count and pacing spaces out. The other steps let faults shape the body without knowing how it
is written; the pump (`_pump`) writes them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from . import _gojson


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


JSON = "application/json; charset=utf-8"
NDJSON = "application/x-ndjson"
TEXT = "text/plain; charset=utf-8"
PLAIN = "text/plain"
"""gin's 404/405 bodies use a bare ``text/plain``."""

DEFAULT_FRAME: Frame = (b'{"status":"', b'"}\n')


@dataclass(slots=True)
class Reply:
    """One response, before it is written."""

    status: int
    content_type: str | None
    body: bytes | Callable[[], Iterator[Step]]
    """Fixed bytes, or a factory called once the response may start (after queueing)."""
    chunked: bool = False
    """Sent with ``Transfer-Encoding: chunked`` (NDJSON streams); else with Content-Length."""
    paced: bool = False
    """Lines are generated tokens, spaced by the token rate and the first-token delay."""
    slot: bool = False
    """Needs a generation slot (``num_parallel``/``max_queue``) before it starts."""
    frame: Frame = DEFAULT_FRAME
    """How a line of this response wraps its text, for faults that forge lines."""
    on_end: Callable[[str], None] | None = field(default=None)
    """Called with the outcome once the response is over."""
    headers: list[tuple[str, str]] = field(default_factory=list)
    """More header lines (CORS), besides those every response has."""

    def steps(self) -> Iterator[Step]:
        """The body as steps."""
        if isinstance(self.body, bytes):
            return iter((self.body,))
        return self.body()


def json_reply(status: int, value: object) -> Reply:
    """``c.JSON(status, value)``."""
    return Reply(status, JSON, _gojson.dumps(value))


def error(status: int, message: str) -> Reply:
    """Ollama's error shape: ``{"error": message}``."""
    return json_reply(status, {"error": message})


def empty(status: int = 200) -> Reply:
    """A handler that writes nothing: no content type, ``Content-Length: 0``."""
    return Reply(status, None, b"")


def text(status: int, body: str, content_type: str = TEXT) -> Reply:
    """A plain-text body."""
    return Reply(status, content_type, body.encode())


class ApiError(Exception):
    """Raised by handlers to answer with an error before any byte is sent."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def reply(self) -> Reply:
        """The error as a response."""
        return error(self.status, str(self))
