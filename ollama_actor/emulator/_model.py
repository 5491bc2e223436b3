"""The fake model: deterministic text, thinking, tool calls and embeddings derived from the input.

Everything here is a pure function of the request, so tests can compute what the emulator will send
(``expected_reply``/``expected_tokens``) without talking to it. The vocabulary deliberately contains
tokens that exercise JSON escaping: HTML characters (which Go escapes), non-ASCII text (sent as raw
UTF-8), a quote and a newline.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._names import Name

_STARTERS = ("The", "Yes", "Well", "Sure", "Here", "In", "Today", "A")
_VOCAB = (
    " sky", " is", " blue", " because", " of", " light", " scattering", " in", " the", " air",
    " and", " a", " model", " answers", " quickly", " with", " small", " tokens", " that",
    " stream", " one", " by", " as", " fast", " it", " can", " over", " network", " sockets",
    " to", " actors", " who", " listen", " carefully", ",", " then", " reply",
    " <b>", " R&D", " x>y", " naïve", " 東京", " 🙂", ' "quoted"', "\n",
)  # fmt: skip
_THOUGHTS = (
    " the", " user", " asks", " about", " this", ",", " so", " I", " should", " think",
    " first", " and", " then", " answer", " briefly", " <step>", " carefully",
)  # fmt: skip
_MIX = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
THINKING_MODELS = frozenset({"qwen3"})
"""Seeded model names whose default (``think`` absent) is to think, as Ollama does for them."""
EMBEDDING_SIZE = 16


def _seed(*parts: str) -> int:
    data = "\x00".join(parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


def _draw(seed: int, i: int) -> int:
    """A splitmix64 value: the i-th pseudo-random number of the stream ``seed`` (stable forever)."""
    z = (seed + (i + 1) * _MIX) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


@dataclass(frozen=True)
class ExpectedReply:
    """What the emulator generates for one request: the chunks' texts and the final counts."""

    thinking: tuple[str, ...]
    content: tuple[str, ...]
    tool_calls: tuple[dict[str, Any], ...]
    done_reason: str
    prompt_eval_count: int

    @property
    def text(self) -> str:
        """The content as a non-streamed reply carries it."""
        return "".join(self.content)

    @property
    def thinking_text(self) -> str:
        """The thinking as a non-streamed reply carries it."""
        return "".join(self.thinking)

    @property
    def eval_count(self) -> int:
        """Tokens generated (``eval_count`` of the final chunk)."""
        calls = sum(4 + 3 * len(c["function"]["arguments"]) for c in self.tool_calls)
        return len(self.thinking) + len(self.content) + calls


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'-]+", text)


def _split_text(text: str) -> list[str]:
    """Tokens whose concatenation is exactly ``text``: the first word bare, then ``" word"``."""
    parts = text.split(" ")
    return [parts[0]] + [" " + part for part in parts[1:]]


def _fill(schema: Mapping[str, Any], words: list[str]) -> Any:
    """A value that fits a JSON-schema fragment, chosen from the prompt's words."""
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "integer":
        return len(words)
    if kind == "number":
        return len(words) + 0.5
    if kind == "boolean":
        return len(words) % 2 == 0
    if kind == "array":
        items = schema.get("items")
        return [_fill(items, words)] if isinstance(items, Mapping) else []
    if kind == "object":
        return _fill_object(schema, words)
    if kind == "null":
        return None
    return words[-1] if words else "value"


def _fill_object(schema: Mapping[str, Any], words: list[str]) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    required = schema.get("required")
    names = list(required) if isinstance(required, list) else list(properties)
    return {
        name: _fill(properties.get(name) or {}, words)
        for name in names
        if isinstance(name, str) and isinstance(properties.get(name, {}), Mapping)
    }


def _prompt_of(prompt_or_messages: str | Sequence[Mapping[str, Any]]) -> tuple[str, str, int]:
    """(text the answer derives from, role of the last message, prompt token count)."""
    if isinstance(prompt_or_messages, str):
        return prompt_or_messages, "user", len(prompt_or_messages.split()) + 10
    messages = list(prompt_or_messages)
    count = 6 + sum(4 + len(str(m.get("content") or "").split()) for m in messages)
    if not messages:
        return "", "user", count
    last_role = str(messages[-1].get("role") or "").lower()
    if last_role == "tool":
        return str(messages[-1].get("content") or ""), "tool", count
    for message in reversed(messages):
        if str(message.get("role") or "").lower() == "user":
            return str(message.get("content") or ""), last_role, count
    return str(messages[-1].get("content") or ""), last_role, count


def _limit(options: Mapping[str, Any] | None) -> int | None:
    value = (options or {}).get("num_predict")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return int(value)
    return None


def _tool_call(seed: int, tool: Mapping[str, Any], words: list[str]) -> dict[str, Any]:
    function = tool.get("function") or {}
    parameters = function.get("parameters") or {}
    arguments = _fill_object(parameters, words) if isinstance(parameters, Mapping) else {}
    call_id = "call_" + "".join(_ID_CHARS[_draw(seed, 100 + k) % 36] for k in range(8))
    return {
        "id": call_id,
        "function": {
            "index": 0,
            "name": str(function.get("name") or ""),
            "arguments": {key: arguments[key] for key in sorted(arguments)},
        },
    }


def _thinks(model: str, think: bool | str | None) -> bool:
    if think is None:
        return Name.parse(model).model.lower() in THINKING_MODELS
    return think is not False


def expected_reply(
    model: str,
    prompt_or_messages: str | Sequence[Mapping[str, Any]],
    options: Mapping[str, Any] | None = None,
    *,
    think: bool | str | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    format: str | Mapping[str, Any] | None = None,
    system: str = "",
    suffix: str = "",
) -> ExpectedReply:
    """The reply the emulator generates for a generate (str prompt) or chat (messages) request.

    ``think=None`` means the request left ``think`` out: seeded thinking models (qwen3) then
    think, as Ollama does. ``options["num_predict"] = N`` (N > 0) makes thinking plus content
    exactly N tokens with ``done_reason == "length"``; ``options["seed"]`` changes the text. With
    ``tools`` and a last message from the user the reply is one call of the first tool; after a
    ``tool`` message the reply quotes that message's content. ``format`` ("json" or a schema) makes
    the content a JSON document. The request is assumed valid (invalid ones get errors instead).
    """
    text, last_role, prompt_count = _prompt_of(prompt_or_messages)
    if system:
        prompt_count += len(system.split())
    chosen = (options or {}).get("seed")  # null: unset, as Ollama skips a null option
    seed = _seed(
        Name.parse(model).short.lower(), text, suffix, "" if chosen is None else str(chosen)
    )
    limit = _limit(options)

    thinking: list[str] = []
    if _thinks(model, think):
        size = 6 + (seed >> 8) % 5
        thinking = ["Okay"] + [
            _THOUGHTS[_draw(seed, 50 + i) % len(_THOUGHTS)] for i in range(size - 2)
        ]
        thinking.append(".")

    words = _words(text)
    calls: list[dict[str, Any]] = []
    if tools and last_role == "user":
        calls.append(_tool_call(seed, tools[0], words))
        content: list[str] = []
    elif last_role == "tool":
        content = [*_split_text(f"The result is {text}"), "."]
    elif format is not None and format != "":
        if isinstance(format, Mapping):
            document = _fill_object(format, words)
        else:
            document = {"response": " ".join(words) or "ok"}
        encoded = json.dumps(document, ensure_ascii=False)
        content = [encoded[i : i + 3] for i in range(0, len(encoded), 3)]
    else:
        size = limit if limit is not None else 12 + seed % 9
        content = [_STARTERS[seed % len(_STARTERS)]]
        content += [_VOCAB[_draw(seed, i) % len(_VOCAB)] for i in range(1, size)]
        if limit is None:
            content[-1] = "."

    done_reason = "stop"
    if limit is not None and not calls:
        budget = limit
        thinking = thinking[:budget]
        content = content[: max(0, budget - len(thinking))]
        done_reason = "length"
    return ExpectedReply(
        thinking=tuple(thinking),
        content=tuple(content),
        tool_calls=tuple(calls),
        done_reason=done_reason,
        prompt_eval_count=prompt_count,
    )


def expected_tokens(
    model: str,
    prompt_or_messages: str | Sequence[Mapping[str, Any]],
    options: Mapping[str, Any] | None = None,
) -> list[str]:
    """The content tokens, one per streamed chunk, for a plain request (no tools, format or think).

    For a thinking model the thinking chunks come first; see ``expected_reply`` for those.
    """
    return list(expected_reply(model, prompt_or_messages, options).content)


@functools.lru_cache(maxsize=8192)
def _token_id(token: str) -> int:
    return _seed(token) % 128_000


def context_tokens(prompt: str, reply: ExpectedReply) -> list[int]:
    """The ``context`` of a final generate chunk: token ids of the prompt and the reply."""
    ids = [_token_id(word) for word in prompt.split()]
    ids += [_token_id(token) for token in (*reply.thinking, *reply.content)]
    return ids or [1]


def embedding(model: str, text: str, size: int = EMBEDDING_SIZE, *, normalize: bool) -> list[float]:
    """A deterministic vector for ``text``.

    Values have at most 6 decimals (normalized) and magnitudes in [1e-4, 1), where Python and Go
    print floats identically, so the wire shows what Go would send.
    """
    raw: list[float] = []
    block = 0
    while len(raw) < size:
        digest = hashlib.sha512(f"{Name.parse(model).short}\x00{text}\x00{block}".encode()).digest()
        raw += [int.from_bytes(digest[i : i + 4], "big") / 2**31 - 1.0 for i in range(0, 64, 4)]
        block += 1
    raw = raw[:size]
    if normalize:
        norm = sum(v * v for v in raw) ** 0.5 or 1.0
        raw = [round(v / norm, 6) for v in raw]
    return [math.copysign(min(max(abs(v), 1e-4), 0.999999), v) for v in raw]
