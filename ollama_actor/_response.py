"""Whole (non-streamed) responses, error bodies, and waiting for the loop from a caller thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ollama_actor._errors import DecodeError, HTTPError, OllamaError
from ollama_actor._json_depth import MAX_DEPTH, too_deep_at

__all__ = ["BodyCollector", "ErrorBody", "hide_secrets", "wait_or_cancel"]

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


class BodyCollector:
    """Engine sink for a whole response: the status and the body, up to ``max_body`` bytes.

    ``secrets`` (the request's credentials) are hidden in every error it gives.
    """

    def __init__(
        self, method: str, path: str, max_body: int, secrets: tuple[str, ...] = ()
    ) -> None:
        self.method = method
        self.path = path
        self.max_body = max_body
        self.secrets = secrets
        self.status = 0
        self.done = threading.Event()
        self.failure: OllamaError | None = None
        self._error_body: ErrorBody | None = None
        self._parts: list[bytes] = []
        self._size = 0

    def on_head(self, status: int, reason: str, headers: dict[str, str]) -> None:
        self.status = status
        if not 200 <= status < 300:
            self._error_body = ErrorBody(status, reason, self.method, self.path, self.secrets)

    def on_body(self, data: bytes) -> None:
        if self._error_body is not None:
            self._error_body.add(data)
            return
        self._size += len(data)
        if self._size > self.max_body:
            raise DecodeError(
                f"the response to {self.method} {self.path} exceeds the {self.max_body}-byte limit"
            )
        self._parts.append(data)

    def on_end(self) -> None:
        if self._error_body is not None:
            self.failure = self._error_body.error()
        self.ended()

    def on_error(self, exc: OllamaError) -> None:
        self.failure = hide_secrets(exc, self.secrets)
        self.ended()

    def ended(self) -> None:
        """The response is over (``failure`` says if it failed): wake the waiting thread.

        Loop thread. A subclass that must act on the outcome before the caller wakes
        extends this.
        """
        self.done.set()

    def body(self) -> bytes:
        return b"".join(self._parts)

    def json(self) -> Any:
        """The body decoded as JSON; `DecodeError` if it is not (or nests past `MAX_DEPTH`)."""
        body = self.body()
        if too_deep_at(body) >= 0:
            raise DecodeError(
                f"the response to {self.method} {self.path} is JSON nested too deeply "
                f"(more than {MAX_DEPTH} levels)"
            )
        try:
            return json.loads(body)
        except ValueError as exc:
            problem = str(exc)  # raised below: the JSON error holds the whole body (its .doc)
        except RecursionError:
            problem = ""
        if not problem:
            raise DecodeError(
                f"the response to {self.method} {self.path} is JSON nested too deeply"
            )
        preview = body[:80].decode("utf-8", "replace")
        error = DecodeError(
            f"the response to {self.method} {self.path} is not JSON ({problem}): {preview!r}"
        )
        raise hide_secrets(error, self.secrets)


def wait_or_cancel(done: threading.Event, cancel: Callable[[str], None]) -> None:
    """Block until ``done``; if the wait is interrupted (Ctrl-C), cancel (reason
    ``"interrupted"``) before re-raising.

    The engine's timers bound every call, so the wait ends once a bound passes.
    """
    try:
        while not done.wait(1.0):
            pass
    except BaseException:
        cancel("interrupted")
        raise
