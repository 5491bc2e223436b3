"""HTTP/1.1 on the wire, without I/O: request bytes out, response events in.

The response parser is fed whatever each socket read returns and calls back with the final
status and headers once (interim 1xx responses are skipped), then with body bytes (chunked
framing removed, content coding undone, many HTTP chunks joined per read), then once at the end.
It does the least work it can per HTTP chunk, because Ollama sends one chunk per NDJSON line and
that framing is the hot path of every stream; a body that is not content-encoded goes to the
sink's own ``on_body``, with no layer between.

What it accepts follows RFC 9112 and, where that leaves a choice, h11 (the reference the tests
compare it with): bare LF ends a head line, obsolete line folding is unfolded, identical duplicate
Content-Length values are one value, only ``chunked`` is a transfer coding. Everything malformed
raises `ProtocolError` naming what was wrong, as soon as the bytes show it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable

from ollama_actor._errors import DecodeError, ProtocolError, UsageError

__all__ = [
    "ACCEPT_ENCODING",
    "ResponseParser",
    "encode_request",
    "header_problem",
    "shown_header_name",
]

MAX_HEAD = 64 * 1024
"""The most bytes a response head (or a chunked body's trailer section) may take."""
MAX_INTERIM = 5
"""The most 1xx responses before the final one (Go's bound; h11 has none)."""
ACCEPT_ENCODING = "gzip, deflate"
"""The content codings this client asks for and decodes."""

_MAX_SIZE_LINE = 1024
_MAX_DECODED_PIECE = 256 * 1024  # one decompression step's output, so a bomb cannot balloon
_HEX = b"0123456789abcdefABCDEF"
_HEAD_END = re.compile(rb"\n\r?\n")
_STATUS_LINE = re.compile(rb"HTTP/1\.([0-9]) ([0-9]{3})(?: ((?:[ \t]|[^\x00\s])*))?")
_TOKEN = rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+"
_HEADER_LINE = re.compile(rb"(" + _TOKEN + rb"):[ \t]*((?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?)[ \t]*")
_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,20})(?:;.*)?[ \t]*")
_HEADER_NAME = re.compile(_TOKEN.decode())
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
_MAX_LENGTH_DIGITS = 18
_OWS = " \t"  # HTTP's whitespace; str.strip() alone also takes \x1c-\x1f, \x85 and \xa0


def header_problem(name: str, value: str) -> str | None:
    """Why a request header cannot be sent as given, or ``None``; never quotes the value.

    Names must be tokens (RFC 9110), values printable ASCII (tab allowed), as h11 requires.
    """
    if not _HEADER_NAME.fullmatch(name):
        return "is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"
    if not _HEADER_VALUE.fullmatch(value):
        return "has a value with a control character or a character outside ASCII"
    return None


def shown_header_name(name: str) -> str:
    """A request header's name for an error: the name, or for one that is not a token only its
    valid start and the first character not allowed. Such a name is often a whole header line
    (``"Authorization: Bearer <key>"``), and what follows may be a secret.
    """
    start = _HEADER_NAME.match(name)
    valid = start.group() if start else ""
    if valid == name:
        return repr(name[:40])
    return f"{valid[:40]!r} (then {name[len(valid)]!r}, not allowed in a name)"


def encode_request(
    method: str,
    target: str,
    host: str,
    headers: list[tuple[str, str]],
    body: bytes | None,
    *,
    content_length: int | None = None,
) -> bytes:
    """Serialize one request: the head, then ``body`` if given.

    The engine alone writes ``Host`` and ``Content-Length`` (of ``body``, or ``content_length``
    for a body sent afterwards); ``headers`` must have been checked with `header_problem` and
    hold no framing header. Raises `UsageError`, never quoting the head, if a value is not ASCII.
    """
    if body is not None:
        content_length = len(body)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    text = "\r\n".join(lines) + "\r\n\r\n"
    if not text.isascii():  # checked, not caught: an encoding error would quote the whole head
        raise UsageError(f"the {method} request head is not ASCII")
    head = text.encode("ascii")
    return head + body if body else head


class ResponseParser:
    """Parses one response; `feed` bytes as they arrive, get the callbacks below.

    - ``on_head(status, reason, headers)``: once, for the final response, headers as lower-cased
      names (repeated ones joined with ``", "``).
    - ``on_body(data)``: body bytes, in order, content coding undone.
    - ``on_complete()``: once, when the body ended by its own framing.

    `feed` raises `ProtocolError` on malformed input (`DecodeError` for a content coding it
    cannot undo) and returns the bytes past the end of the response, which a correct server never
    sends. `keep_alive` tells, after completion, whether the connection may carry another
    request: not if the server said close, nor if bytes came past the end. `eof` handles the
    server closing the connection. ``head_only`` is for HEAD and CONNECT: the final head ends it.

    ``paused()``, if given, tells that the consumer wants no more body for now. Bytes that arrive
    then are read and their framing removed, but a content-encoded body is not decoded further
    (a few KiB can inflate to millions of lines) until `resume`, and its completion waits too.
    """

    __slots__ = (
        "_buf",
        "_chunk_left",
        "_complete",
        "_decoder",
        "_interim",
        "_length_left",
        "_mode",
        "_need_crlf",
        "_on_body",
        "_on_complete",
        "_on_head",
        "_paused",
        "_scan",
        "_status_checked",
        "head_only",
        "keep_alive",
    )

    _length_left: int  # set with the framing, read only in "length" mode

    def __init__(
        self,
        on_head: Callable[[int, str, dict[str, str]], None],
        on_body: Callable[[bytes], None],
        on_complete: Callable[[], None],
        *,
        head_only: bool = False,
        paused: Callable[[], bool] | None = None,
    ) -> None:
        self._on_head = on_head
        self._on_body = on_body
        self._on_complete = on_complete
        self.head_only = head_only
        self.keep_alive = False
        self._buf = b""
        self._scan = 0  # where the search for the head's end resumes
        self._status_checked = False
        self._mode = "head"  # head | chunked | trailers | length | close | done
        self._chunk_left = 0
        self._need_crlf = False
        self._interim = 0
        self._decoder: _Decoder | None = None
        self._paused = paused
        self._complete = False

    @property
    def complete(self) -> bool:
        """Whether the whole response has been parsed."""
        return self._complete

    def feed(self, data: bytes) -> bytes:
        """Consume bytes from the socket; see the class docstring for what it calls back."""
        mode = self._mode
        if mode == "chunked":
            return self._feed_chunked(data)
        if mode == "length":
            left = self._length_left
            if len(data) < left:
                self._length_left = left - len(data)
                if data:
                    self._on_body(data)
                return b""
            self._on_body(data[:left])  # the last of the body: `left` is never 0 here
            return self._finish(data[left:])
        if mode == "close":
            if data:
                self._on_body(data)
            return b""
        if mode == "head":
            return self._feed_head(data)
        if mode == "trailers":
            return self._feed_trailers(data)
        return data

    def eof(self) -> bool:
        """Note that the server closed the connection; True if the response's framing had ended
        or that ended it (its completion may still wait for `resume`).

        Raises `DecodeError` if the close ended a content-encoded body early.
        """
        if self._mode == "close":
            self._finish(b"")
        return self._mode == "done"

    def resume(self) -> None:
        """Decode what was held back while ``paused()``, and complete the response if its
        framing has ended; it may stop again if ``paused()`` turns true meanwhile."""
        decoder = self._decoder
        if decoder is not None:
            decoder.resume()
            if self._mode == "done" and not self._complete:
                self._finish(b"")

    def _finish(self, rest: bytes) -> bytes:
        self._mode = "done"
        if rest:
            self.keep_alive = False  # the server is out of step with us: never reuse
        if self._decoder is not None and not self._decoder.finish():
            return rest  # decoding was paused: the end comes with `resume`
        self._complete = True
        self._on_complete()
        return rest

    # -- the head -------------------------------------------------------------------------------

    def _feed_head(self, data: bytes) -> bytes:
        buf = self._buf + data if self._buf else data
        self._buf = b""
        while True:
            lines, rest = _take_head(buf, "response head", self._scan)
            if lines is None:
                if not self._status_checked:
                    self._status_checked = _check_status_prefix(buf)
                self._buf = buf
                self._scan = max(0, len(buf) - 2)
                return b""
            if not lines:
                raise ProtocolError("the response starts with an empty line, not a status line")
            status = self._parse_head(lines)
            if status >= 200:
                break
            buf = rest  # an interim response: the final one follows
            self._scan = 0
            self._status_checked = False
        if self._mode == "done":
            return self._finish(rest)
        return self.feed(rest) if rest else b""

    def _parse_head(self, lines: list[bytes]) -> int:
        match = _STATUS_LINE.fullmatch(lines[0])
        if match is None:
            raise ProtocolError(f"not an HTTP/1.x status line: {_preview(lines[0])}")
        minor, code, reason = match.groups()
        status = int(code)
        if status < 100:
            raise ProtocolError(f"status {status} is not a valid HTTP status code")
        headers = _parse_headers(lines[1:], "response header")
        if status < 200:
            if status == 101:
                raise ProtocolError("101 Switching Protocols, though no upgrade was asked for")
            self._interim += 1
            if self._interim > MAX_INTERIM:
                raise ProtocolError(f"more than {MAX_INTERIM} interim (1xx) responses")
            return status
        connection = _tokens(headers.get("connection", ""))
        self.keep_alive = "close" not in connection if minor != b"0" else "keep-alive" in connection
        self._frame_body(headers, self.head_only or status in (204, 304))
        self._on_head(status, (reason or b"").decode("latin-1"), headers)
        return status

    def _frame_body(self, headers: dict[str, str], no_body: bool) -> None:
        """Choose how the body ends (RFC 9112 section 6.3) and how it is decoded.

        The framing headers are checked even when the response has no body (``no_body``).
        """
        transfer = headers.get("transfer-encoding")
        length = headers.get("content-length")
        if length is not None:
            values = {part.strip(_OWS) for part in length.split(",")}
            value = values.pop()
            if values or not value.isascii() or not value.isdigit():
                raise ProtocolError(f"bad Content-Length: {_preview(length)}")
            if len(value) > _MAX_LENGTH_DIGITS:
                raise ProtocolError(f"Content-Length too large: {_preview(length)}")
            self._length_left = int(value)
            self._mode = "length" if self._length_left else "done"
        if transfer is not None:
            if transfer.lower() != "chunked":  # one coding, no list, as h11 (OWS is gone)
                raise ProtocolError(
                    f"unsupported Transfer-Encoding {_preview(transfer)}: only chunked is"
                )
            self._mode = "chunked"
            if length is not None:
                self.keep_alive = False  # both framings: a smuggling attempt; chunked wins
        elif length is None:
            self._mode = "close"
            self.keep_alive = no_body and self.keep_alive
        if no_body:
            self._mode = "done"
            return
        coding = headers.get("content-encoding")
        if coding is not None:
            codings = [c for c in _tokens(coding) if c != "identity"]
            if codings:
                self._decoder = decoder = _Decoder(codings, self._on_body, self._paused)
                self._on_body = decoder.feed

    # -- chunked framing: the hot path ----------------------------------------------------------

    def _feed_chunked(self, data: bytes) -> bytes:
        buf = self._buf + data if self._buf else data
        pos = 0
        end = len(buf)
        left = self._chunk_left  # the state lives in locals while the loop runs
        need_crlf = self._need_crlf
        pieces: list[bytes] = []
        while True:
            if left:
                if end - pos < left:  # the chunk goes on in the next read
                    if end > pos:
                        pieces.append(buf[pos:])
                    left -= end - pos
                    pos = end
                    break
                pieces.append(buf[pos : pos + left])
                pos += left
                left = 0
                need_crlf = True
            if need_crlf:
                if not buf.startswith(b"\r\n", pos):
                    if end - pos >= 2 or (end > pos and buf[pos] != 13):
                        raise ProtocolError("chunk data not followed by CRLF")
                    break
                pos += 2
                need_crlf = False
            line_end = buf.find(b"\r\n", pos, pos + _MAX_SIZE_LINE + 2)
            if line_end < 0:
                if end - pos > _MAX_SIZE_LINE + 1:
                    raise ProtocolError("chunk size line too long")
                break
            line = buf[pos:line_end]
            pos = line_end + 2
            if len(line) <= 16 and line and not line.strip(_HEX):
                left = int(line, 16)
            else:
                left = _chunk_size(line)
            if not left:
                if pieces:
                    self._on_body(b"".join(pieces))
                self._buf = b""
                self._scan = 0
                self._mode = "trailers"
                return self._feed_trailers(buf[pos:])
        self._chunk_left = left
        self._need_crlf = need_crlf
        self._buf = buf[pos:]
        if pieces:
            self._on_body(b"".join(pieces))  # one piece: the same bytes object, no copy
        return b""

    def _feed_trailers(self, data: bytes) -> bytes:
        buf = self._buf + data if self._buf else data
        lines, rest = _take_head(buf, "trailer section", self._scan)
        if lines is None:
            self._buf = buf
            self._scan = max(0, len(buf) - 2)
            return b""
        _parse_headers(lines, "trailer")
        return self._finish(rest)


class _Decoder:
    """Undoes gzip and deflate content codings incrementally, in bounded pieces.

    Before each piece it asks ``paused()``; while that is true, each stage keeps its input
    undecoded (its backlog) until `resume`.
    """

    __slots__ = ("_backlog", "_codings", "_held", "_out", "_paused", "_stages")

    def __init__(
        self,
        codings: list[str],
        out: Callable[[bytes], None],
        paused: Callable[[], bool] | None,
    ) -> None:
        for coding in codings:
            if coding not in ("gzip", "x-gzip", "deflate"):
                raise DecodeError(
                    f"the response is encoded with {_preview(coding)}, which was not asked for "
                    f"(Accept-Encoding: {ACCEPT_ENCODING})"
                )
        self._codings = codings[::-1]  # the last coding applied is undone first
        self._stages: list[zlib._Decompress | None] = [None] * len(codings)
        self._held = [b""] * len(codings)  # a stage's first byte, until its second comes
        self._backlog = [b""] * len(codings)  # a stage's input, held while paused
        self._out = out
        self._paused = paused or _never

    def feed(self, data: bytes) -> None:
        self._push(0, data)

    def resume(self) -> None:
        """Decode the backlogs, the last stage's first (its input came out of the others)."""
        for index in reversed(range(len(self._stages))):
            if self._backlog[index]:
                self._push(index, b"")
                if self._backlog[index]:
                    return  # paused again

    def finish(self) -> bool:
        """The body's framing ended: every stage must reach its stream's end (`DecodeError`
        if one cannot). False if decoding is paused: call it again after `resume`."""
        if any(self._backlog):
            return False
        for index, stage in enumerate(self._stages):
            if stage is None and not self._held[index]:
                continue  # no byte ever reached it: an empty body
            if stage is not None:
                self._push(index + 1, stage.flush())
                if any(self._backlog):
                    return False
            if stage is None or not stage.eof:
                raise DecodeError(f"the {self._codings[index]}-encoded body was cut short")
        return True

    def _push(self, index: int, data: bytes) -> None:
        if index == len(self._stages):
            if data:
                self._out(data)
            return
        if self._backlog[index]:
            data = self._backlog[index] + data
            self._backlog[index] = b""
        stage = self._stages[index]
        while data:
            if self._paused():
                self._backlog[index] = data
                return
            if stage is None:
                data = self._held[index] + data
                if len(data) < 2:  # too little to tell a zlib header from raw deflate
                    self._held[index] = data
                    return
                self._held[index] = b""
                stage = self._stages[index] = self._start(index, data)
            elif stage.eof:
                if self._codings[index] == "deflate" or not data.strip(b"\0"):
                    return  # padding after the end of the stream: ignored, as gzip does
                stage = self._stages[index] = None  # a further gzip member
                continue
            try:
                piece = stage.decompress(data, _MAX_DECODED_PIECE)
            except zlib.error as exc:
                raise DecodeError(
                    f"the {self._codings[index]}-encoded body is corrupt: {exc}"
                ) from None
            if stage.unconsumed_tail:
                data = stage.unconsumed_tail
            elif stage.eof:
                data = stage.unused_data
            else:
                data = b""
            self._push(index + 1, piece)

    def _start(self, index: int, data: bytes) -> zlib._Decompress:
        if self._codings[index] != "deflate":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # "deflate" is zlib-wrapped by the RFC, but some servers send raw deflate.
        wrapped = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)


def _never() -> bool:
    return False


def _take_head(buf: bytes, what: str, scan: int) -> tuple[list[bytes] | None, bytes]:
    """Split a head (or trailer section) off ``buf``: its lines, and the bytes after it.

    Lines end in LF, an optional CR before it removed; ``None`` while the blank line that ends
    the head has not arrived (searched for from ``scan`` on: the bytes before were searched
    already). Raises `ProtocolError` once the head passes `MAX_HEAD`.
    """
    if buf[:1] == b"\n":
        return [], buf[1:]
    if buf[:2] == b"\r\n":
        return [], buf[2:]
    match = _HEAD_END.search(buf, scan)
    if match is None:
        if len(buf) > MAX_HEAD:
            raise ProtocolError(f"{what} larger than {MAX_HEAD} bytes")
        return None, b""
    end = match.end()
    if end > MAX_HEAD:
        raise ProtocolError(f"{what} larger than {MAX_HEAD} bytes")
    lines = buf[: match.start()].split(b"\n")
    return [line.removesuffix(b"\r") for line in lines], buf[end:]


def _check_status_prefix(buf: bytes) -> bool:
    """Refuse at once a head that cannot become a status line, rather than wait for more.

    Returns whether the whole status line has arrived (and so needs no further check).
    """
    if not b"HTTP/".startswith(buf[:5]):
        raise ProtocolError(f"not an HTTP/1.x status line: {_preview(buf)}")
    newline = buf.find(b"\n")
    if newline < 0:
        return False
    first = buf[:newline].removesuffix(b"\r")
    if not _STATUS_LINE.fullmatch(first):
        raise ProtocolError(f"not an HTTP/1.x status line: {_preview(first)}")
    return True


def _parse_headers(lines: list[bytes], what: str) -> dict[str, str]:
    """Header lines to a dict of lower-cased names; folded lines are unfolded first."""
    unfolded: list[bytes] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if not unfolded:
                raise ProtocolError(f"{what} section starts with a continuation line")
            unfolded[-1] += b" " + line.lstrip(b" \t")
        else:
            unfolded.append(line)
    headers: dict[str, str] = {}
    for line in unfolded:
        match = _HEADER_LINE.fullmatch(line)
        if match is None:
            raise ProtocolError(f"malformed {what} line: {_preview(line)}")
        key = match[1].decode("ascii").lower()
        value = match[2].decode("latin-1")
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _chunk_size(line: bytes) -> int:
    """The size from a chunk line with extensions or trailing spaces (the uncommon case)."""
    match = _CHUNK_LINE.fullmatch(line)
    if match is None:
        raise ProtocolError(f"bad chunk size line: {_preview(line)}")
    return int(match[1], 16)


def _preview(text: bytes | str) -> str:
    """The start of what was wrong, for an error message."""
    return repr(text[:60])


def _tokens(value: str) -> list[str]:
    """A comma-separated header value as lower-cased tokens, empty elements dropped."""
    return [token for part in value.split(",") if (token := part.strip(_OWS).lower())]
