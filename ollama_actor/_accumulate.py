"""Building the whole response from streamed chunks, as Ollama's non-streaming reply would be.

Ollama answers ``stream: false`` with its final chunk, the text (and thinking, and tool calls)
of all chunks joined into it. `Accumulator` does the same on the client side, so a stream's
result equals what the non-streaming call would have returned. Progress streams (pull, push,
create) have no text: their result is the last status object.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["Accumulator", "Kind"]

Kind = Literal["generate", "chat", "progress"]


class Accumulator:
    """Collects chunks of one stream; `result` gives the accumulated response."""

    __slots__ = ("_images", "_kind", "_last", "_logprobs", "_text", "_thinking", "_tool_calls")

    def __init__(self, kind: Kind) -> None:
        self._kind = kind
        self._last: dict[str, Any] | None = None
        self._text: list[str] = []
        self._thinking: list[str] = []
        self._tool_calls: list[Any] = []
        self._logprobs: list[Any] = []
        self._images: Any = None

    def add(self, chunk: dict[str, Any]) -> None:
        """Take one decoded chunk, in stream order."""
        self._last = chunk
        kind = self._kind
        if kind == "progress":
            return
        source = chunk.get("message") if kind == "chat" else chunk
        if isinstance(source, dict):
            text = source.get("response" if kind == "generate" else "content")
            if text:
                self._text.append(text)
            thinking = source.get("thinking")
            if thinking:
                self._thinking.append(thinking)
            calls = source.get("tool_calls")
            if calls:
                self._tool_calls.extend(calls)
            if source.get("images"):
                self._images = source["images"]
        logprobs = chunk.get("logprobs")
        if logprobs:
            self._logprobs.extend(logprobs)

    @property
    def last(self) -> dict[str, Any] | None:
        """The most recent chunk, if any."""
        return self._last

    @property
    def text(self) -> str:
        """The text so far (``response``, or ``message.content`` for chat)."""
        return "".join(self._text)

    @property
    def thinking(self) -> str:
        """The thinking so far."""
        return "".join(self._thinking)

    @property
    def tool_calls(self) -> list[Any]:
        """The tool calls so far."""
        return list(self._tool_calls)

    def result(self) -> dict[str, Any]:
        """The response so far: the last chunk with text, thinking and tool calls joined in."""
        last = self._last
        if last is None:
            return {}
        if self._kind == "progress":
            return dict(last)
        result = dict(last)
        if self._kind == "generate":
            self._merge(result, "response")
        else:
            message = dict(last.get("message") or {})
            message.setdefault("role", "assistant")
            self._merge(message, "content")
            if self._images is not None:
                message["images"] = self._images
            result["message"] = message
        if self._logprobs:
            result["logprobs"] = list(self._logprobs)
        return result

    def _merge(self, target: dict[str, Any], text_key: str) -> None:
        target[text_key] = "".join(self._text)
        if self._thinking:
            target["thinking"] = "".join(self._thinking)
        if self._tool_calls:
            target["tool_calls"] = list(self._tool_calls)
