"""Error bodies: a failed response's body, bounded, turned into Ollama's `HTTPError`; and the
request's credentials kept out of every error's text."""

from __future__ import annotations

import json
from typing import TypeVar

from ollama_actor._errors import HTTPError, OllamaError
from ollama_actor._json_depth import too_deep_at

__all__ = ["MAX_ERROR_BODY", "ErrorBody", "hide_secrets"]

MAX_ERROR_BODY = 64 * 1024

E = TypeVar("E", bound=OllamaError)


def hide_secrets(exc: E, secrets: tuple[str, ...]) -> E:
    """``exc``, each of ``secrets`` in its text replaced by ``<hidden>`` (in place).

    A server may quote the request it got, credentials included (an echo endpoint, a debugging
    proxy, an error page), and its words end up in our errors; the credentials must not.
    """
    if secrets:
        exc.args = tuple(_hide(arg, secrets) if isinstance(arg, str) else arg for arg in exc.args)
        error = getattr(exc, "error", None)
        if isinstance(error, str):
            exc.error = _hide(error, secrets)  # type: ignore[attr-defined]
    return exc


def _hide(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "<hidden>")
    return text


class ErrorBody:
    """Collects a non-success response's body (bounded) and turns it into an `HTTPError`.

    Ollama's error bodies are ``{"error": "..."}``; unknown routes answer plain text such as
    ``404 page not found``. The error text is Ollama's own either way.
    """

    __slots__ = ("_parts", "_size", "method", "path", "reason", "secrets", "status")

    def __init__(
        self, status: int, reason: str, method: str, path: str, secrets: tuple[str, ...] = ()
    ) -> None:
        self.status = status
        self.reason = reason
        self.method = method
        self.path = path
        self.secrets = secrets  # hidden in the error's text
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, data: bytes) -> None:
        """Keep the body; once it passes `MAX_ERROR_BODY`, raise the `HTTPError` from what
        came (the call ends and its connection is closed, the rest unread: an endless or
        decompression-bomb error body cannot hold the call or the loop)."""
        room = MAX_ERROR_BODY - self._size
        if len(data) > room:
            self._parts.append(data[:room])
            self._size = MAX_ERROR_BODY
            raise self.error()
        self._parts.append(data)
        self._size += len(data)

    @property
    def data(self) -> bytes:
        """The body as collected (at most `MAX_ERROR_BODY` bytes)."""
        return b"".join(self._parts)

    def error(self) -> HTTPError:
        body = self.data
        text = body.decode("utf-8", "replace").strip()
        try:
            decoded = None if too_deep_at(body) >= 0 else json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested too deeply: show it as text
            decoded = None
        if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
            text = decoded["error"]
        error = HTTPError(
            self.status, text or self.reason or "no error text", method=self.method, path=self.path
        )
        return hide_secrets(error, self.secrets)
