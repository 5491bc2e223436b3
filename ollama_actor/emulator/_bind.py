"""Request bodies bound to Ollama's request structs, failing as its Go server does, same texts.

Ollama reads a body with ``c.ShouldBindJSON(&req)``: Go's decoder (`_gojson.decode_json`) reads
the first JSON value, then fills the struct's fields, matched by name without regard to case.
A value of the wrong JSON type is a type error, the first of which is reported once the whole
body is read (``json: cannot unmarshal string into Go struct field ChatRequest.model of type
bool``); ``think`` and ``keep_alive`` have their own ``UnmarshalJSON``, whose error stops the
decoding at once. `read_fields` answers either as Ollama does: 400 with Go's message.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from ._gojson import DecodeError, MissingBody, decode_json, go_quote
from ._reply import ApiError

MAX_DURATION_NS = (1 << 63) - 1

# A struct is a dict of its JSON field names to their kinds: a Go type below, or "any"
# (``format``, ``input``: checked by the handler), "think" or "duration" (``keep_alive``).
MESSAGE = {
    "role": "string",
    "content": "string",
    "thinking": "string",
    "images": "images",
    "tool_calls": "tool_calls",
    "tool_name": "string",
    "tool_call_id": "string",
}
GENERATE = {
    "model": "string",
    "prompt": "string",
    "suffix": "string",
    "system": "string",
    "template": "string",
    "context": "ints",
    "stream": "bool",
    "raw": "bool",
    "format": "any",
    "keep_alive": "duration",
    "images": "images",
    "options": "map",
    "think": "think",
    "truncate": "bool",
    "shift": "bool",
    "logprobs": "bool",
    "top_logprobs": "int",
}
CHAT = {
    "model": "string",
    "messages": "messages",
    "stream": "bool",
    "format": "any",
    "keep_alive": "duration",
    "tools": "tools",
    "options": "map",
    "think": "think",
    "truncate": "bool",
    "shift": "bool",
    "logprobs": "bool",
    "top_logprobs": "int",
}
EMBED = {
    "model": "string",
    "input": "any",
    "keep_alive": "duration",
    "truncate": "bool",
    "dimensions": "int",
    "options": "map",
}
EMBEDDINGS = {"model": "string", "prompt": "string", "keep_alive": "duration", "options": "map"}
SHOW = {"model": "string", "name": "string", "system": "string", "template": "string"}
SHOW |= {"verbose": "bool", "options": "map"}
CREATE = {
    "model": "string",
    "name": "string",
    "stream": "bool",
    "quantize": "string",
    "from": "string",
    "files": "strmap",
    "adapters": "strmap",
    "template": "string",
    "license": "any",
    "system": "string",
    "parameters": "map",
    "messages": "messages",
    "renderer": "string",
    "parser": "string",
    "requires": "string",
    "remote_host": "string",
    "draft_files": "strmap",
    "draft_quantize": "string",
    "info": "map",
    "quantization": "string",
}
COPY = {"source": "string", "destination": "string"}
DELETE = {"model": "string", "name": "string"}
PULL = {"model": "string", "name": "string", "insecure": "bool", "stream": "bool"}
PULL |= {"username": "string", "password": "string"}
WEB_SEARCH = {"query": "string", "max_results": "int"}
WEB_FETCH = {"url": "string"}


_GO_TYPES = {
    "string": "string",
    "bool": "bool",
    "int": "int",
    "map": "map[string]interface {}",
    "strmap": "map[string]string",
    "ints": "[]int",
    "image": "api.ImageData",
    "images": "[]api.ImageData",
    "message": "api.Message",
    "messages": "[]api.Message",
    "tool": "api.Tool",
    "tools": "api.Tools",
    "tool_call": "api.ToolCall",
    "tool_calls": "[]api.ToolCall",
}
"""How Go names each kind in a type error."""
_ITEMS = {"ints": "int", "images": "image", "messages": "message", "tools": "tool"}
_ITEMS["tool_calls"] = "tool_call"
"""The kind of each list kind's items."""
_PYTHON_TYPES = {"string": str, "bool": bool, "map": dict, "strmap": dict, "message": dict}
_PYTHON_TYPES |= {"tool": dict, "tool_call": dict}


def read_fields(body: bytes, schema: Mapping[str, str], struct: str) -> dict[str, Any]:
    """Bind a request body as Ollama's ``c.ShouldBindJSON`` does, answering 400 as Ollama does."""
    try:
        return bind(decode_json(body), schema, struct)
    except MissingBody:
        raise ApiError(400, "missing request body") from None
    except DecodeError as exc:
        raise ApiError(400, str(exc)) from None


def bind(value: Any, schema: Mapping[str, str], struct: str) -> dict[str, Any]:
    """Check a decoded body against a request struct; return its known fields (case-folded names).

    Raises ``DecodeError`` with Go's message for a non-object body, a type mismatch, or a field
    whose own decoder fails (``think``, ``keep_alive``).
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DecodeError(
            f"json: cannot unmarshal {_json_kind(value)} into Go value of type api.{struct}"
        )
    binder = _Binder(struct)
    fields = binder.fields(value, schema, "")
    if binder.first is not None:
        raise DecodeError(binder.first)
    return fields


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _Binder:
    """Binds one decoded body to a struct, keeping Go's first type error.

    What a field becomes after a type error does not matter: the bind then fails.
    """

    def __init__(self, struct: str) -> None:
        self.struct = struct
        self.first: str | None = None

    def refuse(self, value: Any, path: str, kind: str, shown: str | None = None) -> None:
        if self.first is None:
            self.first = (
                f"json: cannot unmarshal {shown or _json_kind(value)} into Go struct field "
                f"{self.struct}.{path} of type {_GO_TYPES[kind]}"
            )

    def fields(
        self, obj: Mapping[str, Any], schema: Mapping[str, str], prefix: str
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        folded = {name.lower(): name for name in schema}
        for key, value in obj.items():
            name = key if key in schema else folded.get(key.lower())
            if name is None:
                continue
            if value is None:
                out.pop(name, None)
                continue
            out[name] = self.value(value, schema[name], prefix + name)
        return out

    def value(self, value: Any, kind: str, path: str) -> Any:
        if kind == "any":
            return value
        if kind == "think":
            return parse_think(value)
        if kind == "duration":
            return parse_keep_alive(value)
        if kind == "int":
            if isinstance(value, float):
                self.refuse(value, path, kind, f"number {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int):
                self.refuse(value, path, kind)
            return value
        if kind == "image":
            self.image(value, path)
            return value
        item = _ITEMS.get(kind)
        expected: Any = list if item is not None else _PYTHON_TYPES[kind]
        if not isinstance(value, expected):
            self.refuse(value, path, kind)
            return value
        if item is not None:
            return [self.value(each, item, path) for each in value]
        if kind == "message":
            return self.fields(value, MESSAGE, path + ".")
        if kind == "strmap":
            for each in value.values():
                self.value(each, "string", path)
        return value

    def image(self, value: Any, path: str) -> None:
        """``api.ImageData`` is ``[]byte``: a base64 string."""
        if not isinstance(value, str):
            self.refuse(value, path, "image")
            return
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            if self.first is None:
                self.first = f"illegal base64 data at input byte {_base64_error_at(value)}"


_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _base64_error_at(text: str) -> int:
    for i, ch in enumerate(text):
        if ch not in _BASE64:
            return i
    return len(text) - len(text) % 4


# --- the fields with their own decoders ----------------------------------------------------------


def parse_think(value: Any) -> bool | str:
    """``api.ThinkValue.UnmarshalJSON``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value not in ("high", "medium", "low", "max"):
            raise DecodeError(
                f"invalid think value: {go_quote(value)} "
                '(must be "high", "medium", "low", "max", true, or false)'
            )
        return value
    raise DecodeError("think must be a boolean or string")


def parse_keep_alive(value: Any) -> int:
    """``api.Duration.UnmarshalJSON``: nanoseconds; negative means forever (``MAX_DURATION_NS``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        gotype = {bool: "bool", list: "[]interface {}", dict: "map[string]interface {}"}
        raise DecodeError(f"Unsupported type: '{gotype.get(type(value), 'string')}'")
    if isinstance(value, str):
        ns = parse_duration(value)
    elif value < 0:
        ns = -1
    else:
        ns = int(value * 1_000_000_000)
    return MAX_DURATION_NS if ns < 0 else ns


_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")
"""One ``[digits][.digits]unit`` of a duration (the unit: up to the next digit or dot)."""


def parse_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds, with its error messages."""
    invalid = DecodeError(f"time: invalid duration {go_quote(text)}")
    negative = text.startswith("-")
    rest = text[1:] if text[:1] in ("-", "+") else text
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total, at = 0, 0
    while at < len(rest):
        part = _DURATION_PART.match(rest, at)
        assert part is not None  # every group may be empty
        at = part.end()
        whole, fraction, unit = part.groups()
        if not whole and not fraction:
            raise invalid
        if not unit:
            raise DecodeError(f"time: missing unit in duration {go_quote(text)}")
        scale = _UNITS_NS.get(unit)
        if scale is None:
            raise DecodeError(f"time: unknown unit {go_quote(unit)} in duration {go_quote(text)}")
        total += int(whole or "0") * scale
        if fraction:
            total += int(int(fraction) * scale / 10 ** len(fraction))
        if total > MAX_DURATION_NS:
            raise invalid
    return -total if negative else total
