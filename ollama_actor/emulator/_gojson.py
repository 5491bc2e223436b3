"""JSON as Go's ``encoding/json`` writes and reads it, byte for byte and message for message.

Writing: compact, HTML-safe, raw UTF-8. Go escapes ``<``, ``>``, ``&``, U+2028 and U+2029 inside
strings and writes other non-ASCII text as UTF-8; it replaces invalid UTF-8 (here: lone
surrogates) with U+FFFD. Python's encoder with ``ensure_ascii=False`` agrees on everything else,
so its output is post-processed. Field order is the caller's: build dicts in Go's struct order
(maps, which Go sorts, go through ``sorted_map``). Floats are the caller's concern: Python and Go
print the same shortest digits for magnitudes in [1e-4, 1e16) that are not whole numbers, which
is all the emulator ever produces.

Reading: Ollama binds bodies with ``json.NewDecoder(body).Decode(&req)``: the first JSON value is
read and anything after it is ignored; an empty body is ``io.EOF`` (`MissingBody`); a syntax error
carries the scanner's message (`DecodeError`), which a byte-by-byte scanner reproduces when
Python's decoder refuses a body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ollama_actor._json_depth import too_deep_at

_WS = b" \t\r\n"


_HTML_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _to_utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        # Lone surrogates: Go writes U+FFFD for invalid UTF-8.
        fixed = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return fixed.encode()


def dumps(value: Any) -> bytes:
    """Encode ``value`` as Go would (without the trailing newline)."""
    return _to_utf8(_encoder.encode(value).translate(_HTML_SAFE))


def line(value: Any) -> bytes:
    """One NDJSON line: the encoded value and ``\\n``."""
    return dumps(value) + b"\n"


def string(text: str) -> bytes:
    """A JSON string literal (with quotes), escaped as Go does."""
    return dumps(text)


def sorted_map(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with keys in Go's map order (sorted), for values that are Go maps."""
    return {key: mapping[key] for key in sorted(mapping)}


def go_quote(text: str) -> str:
    """Go's ``%q`` for the texts at hand (model names, units): what error messages quote with."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- reading -------------------------------------------------------------------------------------


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
        raise _syntax_error(body, start) from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        _Scanner(body).value(start)  # Python stops a number before "1." or "1e"; Go refuses them
    return value


_SHOWN = {0x27: "\\'", 0x22: '"', 0x5C: "\\\\", 0x07: "\\a", 0x08: "\\b", 0x0C: "\\f"}
_SHOWN |= {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}


def _quote_char(c: int) -> str:
    """Go's ``quoteChar``: how a bad byte is shown in a syntax error."""
    if c in _SHOWN:
        return f"'{_SHOWN[c]}'"
    if c < 0x20 or c == 0x7F:
        return f"'\\x{c:02x}'"
    if 0x80 <= c < 0xA0:
        return f"'\\u{c:04x}'"
    return f"'{chr(c)}'"


def _bad(c: int, context: str) -> DecodeError:
    return DecodeError(f"invalid character {_quote_char(c)} {context}")


class _Scanner:
    """Walks one JSON value byte by byte; raises Go's message (`DecodeError`) at the first error."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def byte(self, i: int) -> int:
        if i >= len(self.data):
            raise DecodeError("unexpected EOF")
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


def _syntax_error(body: bytes, start: int) -> DecodeError:
    """Go's error for a body Python's decoder refused."""
    try:
        _Scanner(body).value(start)
    except DecodeError as exc:
        return exc
    # Only NaN-like constants get here: JSON to Python, not to Go.
    return _bad(body[start], "looking for beginning of value")
