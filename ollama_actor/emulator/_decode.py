"""Request decoding that fails the way Ollama's Go server does, with the same error texts.

Ollama binds bodies with ``json.NewDecoder(body).Decode(&req)``: the first JSON value is read
and anything after it is ignored; an empty body is ``io.EOF`` ("missing request body"); syntax
errors and type mismatches carry Go's ``encoding/json`` messages; ``think`` and ``keep_alive`` have
their own ``UnmarshalJSON`` with their own messages. This module reproduces those rules for the
request structs the emulator serves.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from ollama_actor._json_depth import too_deep_at

MAX_DURATION_NS = (1 << 63) - 1
_WS = b" \t\r\n"


class MissingBody(Exception):
    """The body held no JSON value at all (Go's ``io.EOF``)."""


class DecodeError(Exception):
    """A body Go's decoder rejects; ``str(exc)`` is Go's message."""


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


_python_decoder = json.JSONDecoder(parse_constant=_reject_constant)


def depth_error(body: bytes, start: int = 0) -> str | None:
    """Go's error if the first JSON value from ``start`` nests past `MAX_DEPTH`, or None.

    ``MAX_DEPTH`` is the client's bound too (`ollama_actor._json_depth`); Go's own is 10,000.
    Linear time, no recursion: safe on any input.
    """
    at = too_deep_at(body, start)
    return None if at < 0 else f"invalid character {_quote_char(body[at])} exceeded max depth"


def lenient_json(body: bytes) -> Any:
    """The body as JSON, or None when it is empty, not JSON, or nested too deeply (for the log)."""
    if not body or depth_error(body) is not None:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def decode_json(body: bytes) -> Any:
    """Decode the first JSON value of ``body`` as Go's ``json.Decoder`` would, or raise."""
    start = 0
    while start < len(body) and body[start] in _WS:
        start += 1
    if start == len(body):
        raise MissingBody
    too_deep = depth_error(body, start)
    if too_deep is not None:
        raise DecodeError(too_deep)
    text = body.decode("utf-8", "surrogateescape")
    try:
        value, _ = _python_decoder.raw_decode(text, start)  # leading bytes are ASCII
    except ValueError:
        raise DecodeError(_go_syntax_error(body, start)) from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Python stops a number before "1." or "1e"; Go's scanner rejects them.
        try:
            _Scanner(body).value(start)
        except _Syntax as exc:
            raise DecodeError(str(exc)) from None
    return value


# --- Go's scanner messages -----------------------------------------------------------------------


class _Syntax(Exception):
    pass


def _quote_char(c: int) -> str:
    """Go's ``quoteChar``: how a bad byte is shown in a syntax error."""
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    special = {0x07: "\\a", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}
    if c in special:
        return f"'{special[c]}'"
    if c == 0x5C:
        return "'\\\\'"
    if c < 0x20 or c == 0x7F:
        return f"'\\x{c:02x}'"
    if 0x80 <= c < 0xA0:
        return f"'\\u{c:04x}'"
    return f"'{chr(c)}'"


def _bad(c: int, context: str) -> _Syntax:
    return _Syntax(f"invalid character {_quote_char(c)} {context}")


class _Scanner:
    """Walks one JSON value byte by byte and raises Go's message at the first error."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def byte(self, i: int) -> int:
        if i >= len(self.data):
            raise _Syntax("unexpected EOF")
        return self.data[i]

    def skip_ws(self, i: int) -> int:
        while i < len(self.data) and self.data[i] in _WS:
            i += 1
        return i

    def value(self, i: int) -> int:
        i = self.skip_ws(i)
        c = self.byte(i)
        if c == 0x7B:
            return self.object(i + 1)
        if c == 0x5B:
            return self.array(i + 1)
        if c == 0x22:
            return self.string(i + 1)
        if c == 0x2D or 0x30 <= c <= 0x39:
            return self.number(i)
        for word in (b"true", b"false", b"null"):
            if c == word[0]:
                return self.literal(i, word)
        raise _bad(c, "looking for beginning of value")

    def object(self, i: int) -> int:
        i = self.skip_ws(i)
        if self.byte(i) == 0x7D:
            return i + 1
        while True:
            c = self.byte(i)
            if c != 0x22:
                raise _bad(c, "looking for beginning of object key string")
            i = self.skip_ws(self.string(i + 1))
            c = self.byte(i)
            if c != 0x3A:
                raise _bad(c, "after object key")
            i = self.skip_ws(self.value(i + 1))
            c = self.byte(i)
            if c == 0x7D:
                return i + 1
            if c != 0x2C:
                raise _bad(c, "after object key:value pair")
            i = self.skip_ws(i + 1)

    def array(self, i: int) -> int:
        i = self.skip_ws(i)
        if self.byte(i) == 0x5D:
            return i + 1
        while True:
            i = self.skip_ws(self.value(i))
            c = self.byte(i)
            if c == 0x5D:
                return i + 1
            if c != 0x2C:
                raise _bad(c, "after array element")
            i += 1

    def string(self, i: int) -> int:
        while True:
            c = self.byte(i)
            if c == 0x22:
                return i + 1
            if c == 0x5C:
                e = self.byte(i + 1)
                if e == 0x75:
                    for k in range(i + 2, i + 6):
                        h = self.byte(k)
                        if chr(h) not in "0123456789abcdefABCDEF":
                            raise _bad(h, "in \\u hexadecimal character escape")
                    i += 6
                    continue
                if chr(e) not in '"\\/bfnrt':
                    raise _bad(e, "in string escape code")
                i += 2
                continue
            if c < 0x20:
                raise _bad(c, "in string literal")
            i += 1

    def digits(self, i: int) -> int:
        while i < len(self.data) and 0x30 <= self.data[i] <= 0x39:
            i += 1
        return i

    def number(self, i: int) -> int:
        if self.data[i] == 0x2D:
            i += 1
            c = self.byte(i)
            if not 0x30 <= c <= 0x39:
                raise _bad(c, "in numeric literal")
        i = i + 1 if self.data[i] == 0x30 else self.digits(i)
        if i < len(self.data) and self.data[i] == 0x2E:
            c = self.byte(i + 1)
            if not 0x30 <= c <= 0x39:
                raise _bad(c, "after decimal point in numeric literal")
            i = self.digits(i + 1)
        if i < len(self.data) and self.data[i] in b"eE":
            i += 1
            if self.byte(i) in b"+-":
                i += 1
            c = self.byte(i)
            if not 0x30 <= c <= 0x39:
                raise _bad(c, "in exponent of numeric literal")
            i = self.digits(i)
        return i

    def literal(self, i: int, word: bytes) -> int:
        for k in range(1, len(word)):
            c = self.byte(i + k)
            if c != word[k]:
                name = word.decode()
                raise _bad(c, f"in literal {name} (expecting {_quote_char(word[k])})")
        return i + len(word)


def _go_syntax_error(body: bytes, start: int) -> str:
    try:
        _Scanner(body).value(start)
    except _Syntax as exc:
        return str(exc)
    # Only NaN-like constants reach here (valid for Python, not for Go).
    return f"invalid character {_quote_char(body[start])} looking for beginning of value"


# --- Go types of the request structs -------------------------------------------------------------

_GO_TYPES = {
    "string": "string",
    "bool": "bool",
    "int": "int",
    "float": "float64",
    "map": "map[string]interface {}",
    "strmap": "map[string]string",
    "ints": "[]int",
    "images": "[]api.ImageData",
    "messages": "[]api.Message",
    "tools": "api.Tools",
    "tool_calls": "[]api.ToolCall",
}

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


class _TypeCheck:
    """Checks one decoded body against a struct, keeping Go's first type error."""

    def __init__(self, struct: str) -> None:
        self.struct = struct
        self.first: str | None = None

    def mismatch(self, value: Any, path: str, gotype: str, kind: str | None = None) -> None:
        if self.first is None:
            shown = kind or _json_kind(value)
            self.first = (
                f"json: cannot unmarshal {shown} into Go struct field {self.struct}.{path} "
                f"of type {gotype}"
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
            out[name] = self.field(value, schema[name], prefix + name)
        return out

    def field(self, value: Any, kind: str, path: str) -> Any:
        if kind == "any":
            return value
        if kind == "think":
            return parse_think(value)
        if kind == "duration":
            return parse_keep_alive(value)
        if kind == "string":
            return value if isinstance(value, str) else self.wrong(value, path, kind, "")
        if kind == "bool":
            return value if isinstance(value, bool) else self.wrong(value, path, kind, False)
        if kind in ("int", "float"):
            return self.number(value, path, kind)
        if kind in ("map", "strmap"):
            if not isinstance(value, dict):
                return self.wrong(value, path, kind, {})
            if kind == "strmap":
                return {k: v for k, v in value.items() if self.string_item(v, path, kind)}
            return value
        if not isinstance(value, list):
            return self.wrong(value, path, kind, [])
        return self.items(value, kind, path)

    def items(self, values: list[Any], kind: str, path: str) -> list[Any]:
        if kind == "ints":
            return [self.number(v, path, "int") for v in values]
        if kind == "images":
            return [self.image(v, path) for v in values]
        if kind == "messages":
            out = []
            for v in values:
                if isinstance(v, dict):
                    out.append(self.fields(v, MESSAGE, path + "."))
                else:
                    self.mismatch(v, path, "api.Message")
            return out
        good = [v for v in values if isinstance(v, dict)]
        if len(good) != len(values):
            self.mismatch(next(v for v in values if not isinstance(v, dict)), path, "api.Tool")
        return good

    def wrong(self, value: Any, path: str, kind: str, zero: Any) -> Any:
        self.mismatch(value, path, _GO_TYPES[kind])
        return zero

    def number(self, value: Any, path: str, kind: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self.wrong(value, path, kind, 0)
        if kind == "int" and isinstance(value, float):
            self.mismatch(value, path, "int", f"number {value!r}")
            return 0
        return value

    def string_item(self, value: Any, path: str, kind: str) -> bool:
        if isinstance(value, str):
            return True
        self.mismatch(value, path, "string")
        return False

    def image(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            self.mismatch(value, path, "api.ImageData")
            return ""
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            if self.first is None:
                self.first = f"illegal base64 data at input byte {_base64_error_at(value)}"
        return value


def _base64_error_at(text: str) -> int:
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for i, ch in enumerate(text):
        if ch not in alphabet:
            return i
    return len(text) - len(text) % 4


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
    check = _TypeCheck(struct)
    fields = check.fields(value, schema, "")
    if check.first is not None:
        raise DecodeError(check.first)
    return fields


# --- custom unmarshalers -------------------------------------------------------------------------


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


def go_quote(text: str) -> str:
    """Go's %q for the texts at hand."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


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


def _leading_digits(text: str) -> tuple[str, str]:
    i = 0
    while i < len(text) and "0" <= text[i] <= "9":
        i += 1
    return text[:i], text[i:]


def parse_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds, with its error messages."""
    invalid = DecodeError(f"time: invalid duration {go_quote(text)}")
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    while rest:
        if not (rest[0] == "." or "0" <= rest[0] <= "9"):
            raise invalid
        whole, rest = _leading_digits(rest)
        fraction = ""
        if rest.startswith("."):
            fraction, rest = _leading_digits(rest[1:])
        if not whole and not fraction:
            raise invalid
        end = 0
        while end < len(rest) and rest[end] != "." and not "0" <= rest[end] <= "9":
            end += 1
        if end == 0:
            raise DecodeError(f"time: missing unit in duration {go_quote(text)}")
        unit, rest = rest[:end], rest[end:]
        scale = _UNITS_NS.get(unit)
        if scale is None:
            raise DecodeError(f"time: unknown unit {go_quote(unit)} in duration {go_quote(text)}")
        total += int(whole or "0") * scale
        if fraction:
            total += int(int(fraction) * scale / 10 ** len(fraction))
        if total > MAX_DURATION_NS:
            raise invalid
    return -total if negative else total
