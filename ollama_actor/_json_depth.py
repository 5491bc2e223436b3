"""How deeply a JSON text nests, found without decoding it: linear time, no recursion.

Decoders disagree on how deep they follow (``orjson`` 1,024 levels; ``json`` as far as the
recursion limit less the caller's stack, so a line decoded on one thread fails on another),
and what decodes must then be encoded, copied and printed, which recurse too. So JSON nested
deeper than `MAX_DEPTH` is refused before it is decoded: by the client in every response, and
by the emulator in every request (with Go's text).
"""

from __future__ import annotations

import re

__all__ = ["MAX_DEPTH", "too_deep_at"]

MAX_DEPTH = 256
"""Levels of arrays and objects a JSON value may nest (Go's encoding/json allows 10,000)."""
_NESTING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
"""A string (skipped whole, even unterminated) or a bracket."""


def too_deep_at(data: bytes, start: int = 0) -> int:
    """Where the JSON value from ``start`` opens a level past `MAX_DEPTH` (that bracket's offset),
    or -1 if it nests no deeper.

    Brackets in strings do not count, and the scan ends where the first array or object closes.
    A text of at most `MAX_DEPTH` bytes or brackets is answered at once, without a scan.
    """
    if (
        len(data) - start <= MAX_DEPTH
        or data.count(b"[", start) + data.count(b"{", start) <= MAX_DEPTH
    ):
        return -1
    depth = 0
    for match in _NESTING.finditer(data, start):
        at = match.start()
        c = data[at]
        if c in b"[{":
            depth += 1
            if depth > MAX_DEPTH:
                return at
        elif c in b"]}":
            depth -= 1
            if depth <= 0:
                return -1  # the first value ended: what follows is not read
    return -1
