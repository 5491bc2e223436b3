"""Whole (non-streamed) responses: collected on the loop thread, waited for by the caller's
thread (`wait_or_cancel`, which streams consumed from a thread use too)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from ollama_actor._error_body import ErrorBody, hide_secrets
from ollama_actor._errors import DecodeError, OllamaError
from ollama_actor._json_depth import MAX_DEPTH, too_deep_at

__all__ = ["BodyCollector", "wait_or_cancel"]


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
