"""What a handler answers: status, content type and a body, fixed or produced step by step."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _gojson
from ._decode import DecodeError, MissingBody, bind, decode_json
from ._steps import Frame, Step

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


def read_fields(body: bytes, schema: Mapping[str, str], struct: str) -> dict[str, Any]:
    """Bind a request body as Ollama's ``c.ShouldBindJSON`` does, answering 400 as Ollama does."""
    try:
        return bind(decode_json(body), schema, struct)
    except MissingBody:
        raise ApiError(400, "missing request body") from None
    except DecodeError as exc:
        raise ApiError(400, str(exc)) from None
