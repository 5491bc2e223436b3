"""JSON encoding byte-for-byte like Go's ``encoding/json``: compact, HTML-safe, raw UTF-8.

Go escapes ``<``, ``>``, ``&``, U+2028 and U+2029 inside strings and writes other non-ASCII text as
UTF-8; it replaces invalid UTF-8 (here: lone surrogates) with U+FFFD. Python's encoder with
``ensure_ascii=False`` agrees on everything else, so its output is post-processed. Field order is
the caller's: build dicts in Go's struct order (maps, which Go sorts, go through ``sorted_map``).

Floats are the caller's concern: Python and Go print the same shortest digits for magnitudes in
[1e-4, 1e16) that are not whole numbers, which is all the emulator ever produces.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

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
