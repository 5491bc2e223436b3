"""Whole (non-streamed) responses, error bodies, and waiting for the loop from a caller thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from ollama_actor._errors import DecodeError, HTTPError, OllamaError
from ollama_actor._json_depth import MAX_DEPTH, too_deep_at

__all__ = ["BodyCollector", "ErrorBody", "wait_or_cancel"]

MAX_ERROR_BODY = 64 * 1024


class ErrorBody:
    """Collects a non-success response's body (bounded) and turns it into an `HTTPError`.

    Ollama's error bodies are ``{"error": "..."}``; unknown routes answer plain text such as
    ``404 page not found``. The error text is Ollama's own either way.
    """

    __slots__ = ("_parts", "_size", "method", "path", "reason", "status")

    def __init__(self, status: int, reason: str, method: str, path: str) -> None:
        self.status = status
        self.reason = reason
        self.method = method
        self.path = path
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, data: bytes) -> None:
        room = MAX_ERROR_BODY - self._size
        if room > 0:
            self._parts.append(data[:room])
            self._size += min(len(data), room)

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
        return HTTPError(
            self.status, text or self.reason or "no error text", method=self.method, path=self.path
        )


class BodyCollector:
    """Engine sink for a whole response: the status and the body, up to ``max_body`` bytes."""

    def __init__(self, method: str, path: str, max_body: int) -> None:
        self.method = method
        self.path = path
        self.max_body = max_body
        self.status = 0
        self.done = threading.Event()
        self.failure: OllamaError | None = None
        self._error_body: ErrorBody | None = None
        self._parts: list[bytes] = []
        self._size = 0

    def on_head(self, status: int, reason: str, headers: dict[str, str]) -> None:
        self.status = status
        if not 200 <= status < 300:
            self._error_body = ErrorBody(status, reason, self.method, self.path)

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
        self.failure = exc
        self.ended()

    def ended(self) -> None:
        """The response is over (``failure`` says if it failed): wake the waiting thread.

        Loop thread. A subclass that must act on the outcome before the caller wakes
        extends this.
        """
        self.done.set()

    @property
    def http_error(self) -> HTTPError | None:
        """The `HTTPError` when the status was not a success."""
        return self.failure if isinstance(self.failure, HTTPError) else None

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
            preview = body[:80].decode("utf-8", "replace")
            raise DecodeError(
                f"the response to {self.method} {self.path} is not JSON ({exc}): {preview!r}"
            ) from None
        except RecursionError:
            raise DecodeError(
                f"the response to {self.method} {self.path} is JSON nested too deeply"
            ) from None


def wait_or_cancel(done: threading.Event, cancel: Callable[[], None]) -> None:
    """Block until ``done``; if the wait is interrupted (Ctrl-C), cancel before re-raising.

    The engine's timers bound every call, so the wait ends once a bound passes.
    """
    try:
        while not done.wait(1.0):
            pass
    except BaseException:
        cancel()
        raise
