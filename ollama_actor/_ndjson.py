"""Newline-delimited JSON framing with a bound on line length.

Bytes arrive in whatever pieces the network gives: a line cut across reads, many lines in one
read, blank lines between them. `LineDecoder` hands each decoded object to a callback in order,
keeps at most one partial line (never more than the limit plus one read), and raises as soon as
a line is too long or is not UTF-8 JSON, after the good lines before it have been handed on.

Lines are decoded with ``orjson`` (a runtime dependency; about five times faster per chunk than
``json``), or with the standard library where orjson is missing (a platform it has no wheel
for). A line ``orjson`` refuses is decoded again by ``json``, so both paths accept and reject the
same lines with the same errors (``NaN``, lone surrogates and the like included); the one
difference is that ``orjson`` reads an integer beyond 64 bits as a float, which Ollama (Go)
never sends. A line nested deeper than
`MAX_DEPTH` levels is a `DecodeError` before either decoder sees it, never a ``RecursionError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ollama_actor._errors import LINE_FIX, DecodeError, LineTooLong
from ollama_actor._json_depth import MAX_DEPTH, too_deep_at

__all__ = ["DEFAULT_MAX_LINE", "JSON_DECODER", "LineDecoder"]

DEFAULT_MAX_LINE = 16 * 1024 * 1024

_loads = json.loads


class LineDecoder:
    """Decodes NDJSON incrementally; blank lines are skipped."""

    __slots__ = ("_max_line", "_partial", "_partial_len")

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self._max_line = max_line
        self._partial: list[bytes] = []
        self._partial_len = 0

    def feed(self, data: bytes, emit: Callable[[Any], None]) -> None:
        """Call ``emit`` with each object that ``data`` completes, in order.

        Raises `LineTooLong` when a line passes the limit, `DecodeError` for a line that is not
        valid UTF-8 JSON; the objects of the lines before it have been emitted.
        """
        newline = data.find(b"\n")
        if newline < 0:
            self._keep(data)
            return
        if self._partial:
            head = b"".join(self._partial) + data[:newline]
            self._partial.clear()
            self._partial_len = 0
            lines = data[newline + 1 :].split(b"\n")
            lines[0:0] = [head]
        else:
            lines = data.split(b"\n")
        tail = lines.pop()
        limit = self._max_line
        decode = _decode
        for line in lines:
            if len(line) > limit:
                raise LineTooLong(
                    f"a streamed line of {len(line)} bytes exceeds the {limit}-byte limit{LINE_FIX}"
                )
            if line and not line.isspace():
                emit(decode(line))
        if tail:
            self._keep(tail)

    def finish(self, emit: Callable[[Any], None]) -> None:
        """Emit a last line that had no newline before the end of the body."""
        if not self._partial:
            return
        line = b"".join(self._partial)
        self._partial.clear()
        self._partial_len = 0
        if not line.isspace():
            emit(_decode(line))

    def _keep(self, piece: bytes) -> None:
        self._partial_len += len(piece)
        if self._partial_len > self._max_line:
            raise LineTooLong(
                f"a streamed line exceeds the {self._max_line}-byte limit "
                f"({self._partial_len} bytes without a newline){LINE_FIX}"
            )
        self._partial.append(piece)


def _too_deep(line: bytes) -> DecodeError | None:
    if len(line) <= MAX_DEPTH or too_deep_at(line) < 0:
        return None
    return DecodeError(
        f"a streamed line of {len(line)} bytes is nested too deeply (more than {MAX_DEPTH} levels)"
    )


def _decode_json(line: bytes) -> Any:
    """Decode one line with the standard library; `DecodeError` says why it failed."""
    too_deep = _too_deep(line)
    if too_deep is not None:
        raise too_deep
    # Each error is raised after its `except`: the decoder's own (its __context__) would carry
    # the whole line, which may quote anything, credentials included.
    try:
        return _loads(line)
    except UnicodeDecodeError as exc:
        problem = f"a streamed line is not valid UTF-8: {exc.reason}"
    except ValueError as exc:
        preview = line[:80].decode("utf-8", "replace")
        problem = f"a streamed line is not valid JSON ({exc}): {preview!r}"
    except RecursionError:
        problem = f"a streamed line of {len(line)} bytes is nested too deeply"
    raise DecodeError(problem)


try:
    import orjson
except ImportError:  # only where orjson could not be installed: the tested fallback
    _decode = _decode_json
    JSON_DECODER = "json"
else:
    _orjson_loads = orjson.loads
    _OrjsonError = orjson.JSONDecodeError

    def _decode_orjson(line: bytes) -> Any:
        """Decode one line with orjson; a line it refuses gets the stdlib's verdict."""
        too_deep = _too_deep(line)
        if too_deep is not None:
            raise too_deep
        try:
            return _orjson_loads(line)
        except _OrjsonError:
            pass
        return _decode_json(line)  # outside the `except`, for the reason `_decode_json` gives

    _decode = _decode_orjson
    JSON_DECODER = "orjson"
