"""Every error this package raises, as one shallow tree under `OllamaError`.

Foreign exceptions (socket errors, JSON errors, httpx's URL errors) are mapped to these types where
they enter the package, so callers only ever catch our own. Each class says whether retrying the
same request may help (`retryable`), which the supervised streams use to decide on a restart.
"""

from __future__ import annotations

import builtins

__all__ = [
    "ConnectError",
    "ConnectTimeout",
    "ConnectionLost",
    "DecodeError",
    "HTTPError",
    "LineTooLong",
    "OllamaError",
    "ProtocolError",
    "ReadTimeout",
    "RecipientDead",
    "RequestTimeout",
    "ResponseError",
    "StreamCancelled",
    "TotalTimeout",
    "TransportError",
    "ValidationError",
]


class OllamaError(Exception):
    """Base class of every error raised by `ollama_actor`."""

    retryable: bool = False
    """Whether sending the same request again may succeed."""


class ValidationError(OllamaError, ValueError):
    """A parameter is missing, unknown or of the wrong type; raised before any I/O."""

    def __init__(self, endpoint: str, field: str, problem: str) -> None:
        self.endpoint = endpoint
        self.field = field
        self.problem = problem
        super().__init__(f"{endpoint}: {field!r} {problem}")


class HTTPError(OllamaError):
    """Ollama answered with a non-success status; `error` is Ollama's own error text."""

    def __init__(self, status: int, error: str, *, method: str = "", path: str = "") -> None:
        self.status = status
        self.error = error
        self.method = method
        self.path = path
        where = f" from {method} {path}" if method else ""
        super().__init__(f"{error} (HTTP {status}{where})")

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        """Server errors, 408 (timeout) and 429 (rate limited) may pass; other 4xx will not."""
        return self.status >= 500 or self.status in (408, 429)


class ResponseError(OllamaError):
    """The server sent an ``{"error": ...}`` line in the middle of a stream."""

    retryable = True

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(error)


class TransportError(OllamaError):
    """The connection failed: nothing, or only part of the response, arrived."""

    retryable = True


class ConnectError(TransportError):
    """No connection could be made (refused, unreachable, name not resolved, TLS failed)."""


class ConnectionLost(TransportError):
    """The server closed or reset the connection before the response was complete."""


class ProtocolError(TransportError):
    """The server's reply broke HTTP/1.1 (bad status line, headers or chunk framing)."""


class RequestTimeout(TransportError, builtins.TimeoutError):
    """A time bound set by `Timeout` passed."""


class ConnectTimeout(RequestTimeout):
    """Connecting took longer than the connect bound."""


class ReadTimeout(RequestTimeout):
    """No byte arrived for longer than the read bound (a stalled server or stream)."""


class TotalTimeout(RequestTimeout):
    """The whole request took longer than the total bound."""


class DecodeError(OllamaError):
    """A response line or body is not valid UTF-8 JSON; retrying the same request will not help."""


class LineTooLong(DecodeError):
    """A streamed line exceeded the client's maximum line length."""


class StreamCancelled(OllamaError):
    """The stream was cancelled by the caller, by its handle or by stopping its worker."""


class RecipientDead(OllamaError):
    """The actor receiving a stream has stopped, so the stream was ended."""
