"""How one stream's messages are shown: a `View` hears them from the printing actor.

`TokenView` prints a generation's tokens the moment they arrive, thinking framed by
``Thinking...`` and ``...done thinking.`` (and dimmed on a terminal), tool calls as lines, and
with ``--verbose`` Ollama's timing figures at the end, and the time to the first token.
`JsonView` prints each chunk as it came, one JSON document a line. On a terminal the streams
they write to show control characters visibly (see `_terminal`).
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal, Protocol, TextIO

from ollama_actor._cli._exit import one_line
from ollama_actor._cli._format import go_duration
from ollama_actor._cli._terminal import write_control

__all__ = ["JsonView", "TokenView", "View", "shows_text", "stats"]

DIM = "\x1b[2m"
RESET = "\x1b[0m"


class View(Protocol):
    """Shows one stream; called on the printing actor's thread, one call at a time."""

    def data(self, chunk: dict[str, Any]) -> None:
        """A chunk, exactly as Ollama sent it."""

    def restart(self, attempt: int, error: BaseException) -> None:
        """A retry begins; the chunks that follow start the response again."""

    def done(self, response: dict[str, Any]) -> None:
        """The stream ended normally with this accumulated response."""

    def error(self, exc: BaseException) -> None:
        """The stream failed (the command reports the error itself, once)."""


def shows_text(chunk: Any, *, thinking: bool = True) -> bool:
    """Whether a generation's chunk carries text to show (an answer, thinking or a tool call)."""
    if not isinstance(chunk, dict):
        return False
    message = chunk.get("message")
    source: dict[str, Any] = message if isinstance(message, dict) else chunk
    return bool(
        source.get("response")
        or source.get("content")
        or source.get("tool_calls")
        or (thinking and source.get("thinking"))
    )


_ESCAPES = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}


def dumps(value: Any) -> str:
    """One JSON line: compact, UTF-8 text kept as it is but for controls.

    JSON escapes C0 controls; DEL and C1 controls, which it may leave raw, are escaped too (the
    same JSON value), so that no line of JSON carries a raw control character.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.translate(_ESCAPES)


class JsonView:
    """``--json``: each chunk as one JSON line; a retry as ``{"restart": {...}}``."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def data(self, chunk: dict[str, Any]) -> None:
        self.out.write(dumps(chunk) + "\n")
        self.out.flush()

    def restart(self, attempt: int, error: BaseException) -> None:
        self.out.write(dumps({"restart": {"attempt": attempt, "error": one_line(str(error))}}))
        self.out.write("\n")
        self.out.flush()

    def done(self, response: dict[str, Any]) -> None:
        pass

    def error(self, exc: BaseException) -> None:
        pass


class TokenView:
    """A generation as a person reads it: tokens as they come, thinking set apart."""

    def __init__(
        self,
        kind: Literal["generate", "chat"],
        out: TextIO,
        err: TextIO,
        *,
        color: bool = False,
        hide_thinking: bool = False,
        verbose: bool = False,
        started: float | None = None,
    ) -> None:
        self.kind = kind
        self.out = out
        self.err = err
        self.color = color
        self.hide_thinking = hide_thinking
        self.verbose = verbose
        self.started = time.monotonic() if started is None else started
        """When the request was sent (`time.monotonic`), for the time to the first token."""
        self.first_token: float | None = None
        """When the first token was shown."""
        self._thinking = False
        self._at_line_start = True

    def _write(self, text: str, *, dim: bool = False) -> None:
        if not text:
            return
        if dim and self.color:
            write_control(self.out, DIM)
            self.out.write(text)
            write_control(self.out, RESET)
        else:
            self.out.write(text)
        self._at_line_start = text.endswith("\n")

    def _end_line(self) -> None:
        if self._thinking:
            self._end_thinking()
        if not self._at_line_start:
            self._write("\n")
        self.out.flush()

    def _end_thinking(self) -> None:
        self._thinking = False
        self._write("\n...done thinking.\n\n", dim=True)

    def data(self, chunk: dict[str, Any]) -> None:
        if self.first_token is None and shows_text(chunk, thinking=not self.hide_thinking):
            self.first_token = time.monotonic()
        if self.kind == "generate":
            text, thought, calls = chunk.get("response"), chunk.get("thinking"), None
        else:
            message = chunk.get("message") or {}
            text, thought = message.get("content"), message.get("thinking")
            calls = message.get("tool_calls")
        if thought and not self.hide_thinking:
            if not self._thinking:
                self._thinking = True
                self._write("Thinking...\n", dim=True)
            self._write(thought, dim=True)
        if text:
            if self._thinking:
                self._end_thinking()
            self._write(text)
        for call in calls or ():
            if self._thinking:
                self._end_thinking()
            function = call.get("function") or {}
            arguments = dumps(function.get("arguments", {}))
            if not self._at_line_start:
                self._write("\n")
            self._write(f"[tool call] {function.get('name')}({arguments})\n")
        self.out.flush()

    def restart(self, attempt: int, error: BaseException) -> None:
        self._end_line()
        self._thinking = False
        self.err.write(f"[retry {attempt} after: {one_line(str(error))}; the answer starts over]\n")
        self.err.flush()

    def done(self, response: dict[str, Any]) -> None:
        self._end_line()
        if self.verbose:
            first = None if self.first_token is None else self.first_token - self.started
            self.err.write(stats(response, first))
            self.err.flush()

    def error(self, exc: BaseException) -> None:
        self._end_line()


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def stats(response: dict[str, Any], first_token: float | None = None) -> str:
    """What ``ollama run --verbose`` prints of a finished generation (the figures that are not
    zero, durations as Go writes them), and then the client's own time to the first token:
    from sending the request (the first attempt, if it was retried) to showing that token."""
    figure = {name: _number(response.get(name)) for name in _FIGURES}
    rows = []
    if figure["total_duration"] > 0:
        rows.append(("total duration", go_duration(figure["total_duration"])))
    if figure["load_duration"] > 0:
        rows.append(("load duration", go_duration(figure["load_duration"])))
    for kind in ("prompt eval", "eval"):
        key = kind.replace(" ", "_")
        count, duration = figure[f"{key}_count"], figure[f"{key}_duration"]
        if count > 0:
            rows.append((f"{kind} count", f"{count} token(s)"))
        if duration > 0:
            rows.append((f"{kind} duration", go_duration(duration)))
            rows.append((f"{kind} rate", f"{count / (duration / 1e9):.2f} tokens/s"))
    if first_token is not None:
        rows.append(("time to first token", go_duration(round(first_token * 1e9))))
    return "".join(f"{name + ':':<22}{value}\n" for name, value in rows)


_FIGURES = (
    "total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count",
    "eval_duration",
)  # fmt: skip
