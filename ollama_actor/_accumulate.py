"""Building the whole response from streamed chunks, as Ollama's non-streaming reply would be.

Ollama answers ``stream: false`` with its final chunk, the text (and thinking, and tool calls)
of all chunks joined into it. `Accumulator` does the same on the client side, so a stream's
result equals what the non-streaming call would have returned. Progress streams (pull, push,
create) have no text: their result is the last status object.
"""

from __future__ import annotations

from typing import Any, Literal

from ollama_actor._errors import DecodeError

__all__ = ["Accumulator", "Kind"]

Kind = Literal["generate", "chat", "progress"]


class Accumulator:
    """Collects chunks of one stream; `result` gives the accumulated response."""

    __slots__ = ("_images", "_kind", "_last", "_logprobs", "_text", "_thinking", "_tool_calls")

    def __init__(self, kind: Kind) -> None:
        self._kind = kind
        self._last: dict[str, Any] | None = None
        self._text: list[str] = []
        # Made by their first item: most streams have none (fewer objects for the collector).
        self._thinking: list[str] | None = None
        self._tool_calls: list[Any] | None = None
        self._logprobs: list[Any] | None = None
        self._images: Any = None

    def add(self, chunk: dict[str, Any]) -> None:
        """Take one decoded chunk, in stream order.

        Raises `DecodeError` for a field it joins that is of the wrong type (a server's error:
        the text must be a string, the tool calls an array of objects), before taking any of it.
        """
        kind = self._kind
        if kind == "progress":
            self._last = chunk
            return
        # Checked inline, type(x) is T, since this runs for every chunk of every stream.
        if kind == "chat":
            source, at = chunk.get("message"), "message."
            if source is not None and type(source) is not dict:
                raise _wrong(source, dict, "message")
        else:
            source, at = chunk, ""
        text = thinking = calls = None
        if source:
            text_key = "response" if kind == "generate" else "content"
            text, thinking = source.get(text_key), source.get("thinking")
            if text is not None and type(text) is not str:
                raise _wrong(text, str, at + text_key)
            if thinking is not None and type(thinking) is not str:
                raise _wrong(thinking, str, at + "thinking")
            calls = source.get("tool_calls")
            if calls is not None:
                if type(calls) is not list:
                    raise _wrong(calls, list, at + "tool_calls")
                for i, call in enumerate(calls):
                    if type(call) is not dict:
                        raise _wrong(call, dict, f"{at}tool_calls[{i}]")
        logprobs = chunk.get("logprobs")
        if logprobs is not None and type(logprobs) is not list:
            raise _wrong(logprobs, list, "logprobs")
        self._last = chunk
        if text:
            self._text.append(text)
        if thinking:
            if self._thinking is None:
                self._thinking = []
            self._thinking.append(thinking)
        if calls:
            if self._tool_calls is None:
                self._tool_calls = []
            self._tool_calls.extend(calls)
        if source and source.get("images"):
            self._images = source["images"]
        if logprobs:
            if self._logprobs is None:
                self._logprobs = []
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
        return "".join(self._thinking or ())

    @property
    def tool_calls(self) -> list[Any]:
        """The tool calls so far."""
        return list(self._tool_calls or ())

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


_JSON_TYPES = {
    str: "a string", int: "a number", float: "a number", bool: "a boolean",
    list: "an array", dict: "an object", type(None): "null",
}  # fmt: skip


def _wrong(value: Any, expected: type, field: str) -> DecodeError:
    """The error for a chunk's field that is not of the JSON type the stream needs."""
    return DecodeError(
        f"a streamed chunk's {field} is {_JSON_TYPES.get(type(value), 'a value')}, "
        f"not {_JSON_TYPES[expected]}"
    )
