"""HTTP/1.1 on the wire: an incremental request parser and Go ``net/http``-shaped response heads."""

from __future__ import annotations

import hashlib
import http
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

MAX_HEAD = 64 * 1024
MAX_LINE = 4096
"""A chunk-size or trailer line longer than this is refused."""
MAX_BODY = 512 * 1024 * 1024
"""A body kept for its handler (all but blob uploads) larger than this is refused."""
_ALNUM = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~" + _ALNUM)
_HOST_BYTES = frozenset(b"!$%&'()*+,-.:;=[]_~" + _ALNUM)
"""The bytes Go's ``httpguts.ValidHostHeader`` allows in a ``Host`` header."""
_HEX = frozenset(b"0123456789abcdefABCDEF")


class BadRequest(Exception):
    """A request Go's server refuses before any handler runs; ``str(exc)`` is the status text."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


@dataclass(slots=True)
class Request:
    """One parsed request."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    """The body, unless it was hashed as it arrived (then empty: see ``sha256``) or dropped (a
    request answered before routing: empty too, ``size`` says how much came)."""
    keep_alive: bool
    host: str = ""
    """The host asked for, as Go's ``Request.Host``: an absolute target's, else the Host header."""
    size: int = 0
    """Bytes of body received."""
    sha256: str | None = None
    """``sha256:<hex>`` of a body hashed as it arrived instead of kept (blob uploads)."""

    def header(self, name: str) -> str | None:
        """The first value of a header (name in lower case)."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass(slots=True)
class _Head:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    keep_alive: bool
    host: str
    length: int | None
    chunked: bool
    expect_continue: bool


def _find_head_end(buf: bytearray, start: int) -> tuple[int, int]:
    """(end of the head, start of the body), or (-1, -1); accepts bare LF line ends as Go does.

    The search begins at ``start``: the bytes before it were searched already.
    """
    crlf = buf.find(b"\r\n\r\n", start)
    lf = buf.find(b"\n\n", start)
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf, lf + 2
    if crlf >= 0:
        return crlf, crlf + 4
    return -1, -1


def _parse_target(target: str) -> tuple[str, str, str | None]:
    """(path, query, the authority of an absolute-form target or None)."""
    if target.startswith("/"):
        path, _, query = target.partition("?")
        return unquote(path), query, None
    if target == "*":
        return "*", "", None
    parts = urlsplit(target)
    if parts.scheme in ("http", "https") and parts.netloc:
        return unquote(parts.path or "/"), parts.query, parts.netloc
    raise BadRequest(400, "Bad Request")


def _values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key == name]


def _content_length(values: list[str]) -> int | None:
    """Go's ``fixLength``: digits only, within 63 bits; several lines only if all are equal."""
    if not values:
        return None
    text = values[0]
    if any(value != text for value in values) or not (text.isascii() and text.isdigit()):
        raise BadRequest(400, "Bad Request")
    length = int(text)
    if length >= 1 << 63:
        raise BadRequest(400, "Bad Request")
    return length


def _chunk_size(line: bytes) -> int:
    """Go's chunk-size line: trailing blanks and an extension cut off, then 1 to 16 hex digits."""
    digits = line.rstrip(b" \t").partition(b";")[0]
    if not digits or len(digits) > 16 or not set(digits) <= _HEX:
        raise BadRequest(400, "Bad Request")
    return int(digits, 16)


def _parse_head(raw: bytes) -> _Head:
    lines = [line.rstrip(b"\r") for line in raw.split(b"\n")]
    request_line = lines[0].split(b" ")
    if len(request_line) != 3:
        raise BadRequest(400, "Bad Request")
    method, target, version = request_line
    if not method or not set(method) <= _TOKEN:
        raise BadRequest(400, "Bad Request")
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        if version.startswith(b"HTTP/") and version[5:6].isdigit() and version[5:6] != b"1":
            raise BadRequest(505, "HTTP Version Not Supported")
        raise BadRequest(400, "Bad Request")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or not set(name) <= _TOKEN:
            raise BadRequest(400, "Bad Request")
        headers.append((name.decode("latin-1").lower(), value.strip(b" \t").decode("latin-1")))
    connection = {
        token.strip().lower()
        for value in _values(headers, "connection")
        for token in value.split(",")
    }
    hosts = _values(headers, "host")
    if version == b"HTTP/1.1":
        keep_alive = "close" not in connection
        if not hosts:
            raise BadRequest(400, "Bad Request: missing required Host header")
    else:
        keep_alive = "keep-alive" in connection
    if len(hosts) > 1:
        raise BadRequest(400, "Bad Request: too many Host headers")
    if hosts and not set(hosts[0].encode("latin-1")) <= _HOST_BYTES:
        raise BadRequest(400, "Bad Request: malformed Host header")
    encodings = _values(headers, "transfer-encoding")
    lengths = _values(headers, "content-length")
    length: int | None = None
    if encodings:
        if len(encodings) > 1 or encodings[0].lower() != "chunked":
            raise BadRequest(501, "Not Implemented: unsupported transfer encoding")
        if lengths:
            raise BadRequest(400, "Bad Request")
    else:
        length = _content_length(lengths)
    path, query, authority = _parse_target(target.decode("latin-1"))
    expect = _values(headers, "expect")
    return _Head(
        method=method.decode(),
        path=path,
        query=query,
        headers=headers,
        keep_alive=keep_alive,
        host=(hosts[0] if hosts else "") if authority is None else authority,
        length=length,
        chunked=bool(encodings),
        expect_continue=bool(expect) and expect[0].lower() == "100-continue",
    )


class RequestParser:
    """Turns the bytes of one connection into requests, one at a time (pipelined ones in order).

    A search for a line end that fails resumes where it stopped once more bytes come, so a head
    or a line sent a byte at a time costs linear time. Heads are bounded by ``MAX_HEAD``,
    chunk-size and trailer lines by ``MAX_LINE`` and a whole trailer by ``MAX_HEAD``, kept bodies
    by ``MAX_BODY``. A body that ``hashed(method, path)`` selects (blob uploads) is hashed as it
    arrives instead of kept, and one of a request ``dropped(request)`` selects when its head is
    read (one that will be refused) is counted and let go: either may be of any size in constant
    memory.
    """

    def __init__(
        self,
        hashed: Callable[[str, str], bool] = lambda method, path: False,
        dropped: Callable[[Request], bool] = lambda request: False,
    ) -> None:
        self._hashed = hashed
        self._dropped = dropped
        self._buf = bytearray()
        self._scanned = 0
        """Bytes at the start of the buffer already searched for the line end awaited."""
        self._head: _Head | None = None
        self._request: Request | None = None
        """The request being read, its body still to come."""
        self._parts: list[bytes] = []
        self._keep = True
        """Whether the body being read is kept (not hashed, not dropped)."""
        self._digest: hashlib._Hash | None = None
        self._size = 0
        self._left: int | None = None
        """Bytes still due of the current chunk, or of a Content-Length body."""
        self._chunk_end_due = False
        self._trailer: int | None = None
        """Bytes of trailer read so far, while reading a chunked body's trailer."""
        self.continue_due = False
        """True once when the client asked for ``100 Continue`` and awaits it to send the body."""

    @property
    def buffered(self) -> int:
        """Bytes received and not yet consumed."""
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        """Add received bytes."""
        self._buf += data

    def next(self) -> Request | None:
        """The next complete request, or None until more bytes arrive; raises ``BadRequest``."""
        if self._head is None:
            head = self._read_head()
            if head is None:
                return None
            pending = Request(
                head.method, head.path, head.query, head.headers, b"", head.keep_alive, head.host
            )
            if self._hashed(head.method, head.path):
                self._digest, self._keep = hashlib.sha256(), False
            elif self._dropped(pending):
                self._keep = False
            elif head.length is not None and head.length > MAX_BODY:
                raise BadRequest(413, "Request Entity Too Large")
            self._head, self._request = head, pending
            self._left = None if head.chunked else head.length or 0
            self.continue_due = head.expect_continue
        head, request = self._head, self._request
        assert request is not None
        if not (self._read_chunks() if head.chunked else self._take()):
            return None
        request.body, request.size = b"".join(self._parts), self._size
        if self._digest is not None:
            request.sha256 = "sha256:" + self._digest.hexdigest()
        self._head, self._request, self._parts, self._size, self._left = None, None, [], 0, None
        self._keep, self._digest = True, None
        self.continue_due = False
        return request

    def _consume(self, n: int) -> bytes:
        data = bytes(self._buf[:n])
        del self._buf[:n]
        self._scanned = 0
        return data

    def _read_head(self) -> _Head | None:
        buf = self._buf
        skip = 0
        while buf[skip : skip + 2] == b"\r\n" or buf[skip : skip + 1] == b"\n":
            skip += 2 if buf[skip : skip + 1] == b"\r" else 1
        if skip:
            self._consume(skip)
        end, body_start = _find_head_end(buf, max(0, self._scanned - 3))
        if end < 0:
            if len(buf) > MAX_HEAD:
                raise BadRequest(431, "Request Header Fields Too Large")
            self._scanned = len(buf)
            return None
        if end > MAX_HEAD:
            raise BadRequest(431, "Request Header Fields Too Large")
        return _parse_head(self._consume(body_start)[:end])

    def _take(self) -> bool:
        """Take what has come of the current chunk or body; True once all of it is taken."""
        assert self._left is not None
        piece = self._consume(self._left)
        self._left -= len(piece)
        self._size += len(piece)
        if self._digest is not None:
            self._digest.update(piece)
        elif piece and self._keep:
            self._parts.append(piece)
        return self._left == 0

    def _line(self) -> bytes | None:
        """The next CRLF-ended line (consumed, without its CRLF), or None until it is all here."""
        buf = self._buf
        end = buf.find(b"\r\n", max(0, self._scanned - 1))
        if end < 0:
            if len(buf) > MAX_LINE:
                raise BadRequest(400, "Bad Request")
            self._scanned = len(buf)
            return None
        if end > MAX_LINE:
            raise BadRequest(400, "Bad Request")
        return self._consume(end + 2)[:end]

    def _read_chunks(self) -> bool:
        """Read chunks as far as the bytes go; True once the trailer's empty line is read."""
        while True:
            if self._trailer is not None:
                line = self._line()
                if line is None:
                    return False
                self._trailer += len(line) + 2
                if self._trailer > MAX_HEAD:
                    raise BadRequest(400, "Bad Request")
                if not line:
                    self._trailer = None
                    return True
            elif self._chunk_end_due:
                if len(self._buf) < 2:
                    return False
                if self._buf[:2] != b"\r\n":
                    raise BadRequest(400, "Bad Request")
                self._consume(2)
                self._chunk_end_due = False
            elif self._left is None:
                line = self._line()
                if line is None:
                    return False
                size = _chunk_size(line)
                if self._keep and self._size + size > MAX_BODY:
                    raise BadRequest(413, "Request Entity Too Large")
                if size == 0:
                    self._trailer = 0
                else:
                    self._left = size
            else:
                if not self._take():
                    return False
                self._left = None
                self._chunk_end_due = True


def status_line(status: int) -> bytes:
    """``HTTP/1.1 200 OK``, with Go's text for codes it has no phrase for."""
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = f"status code {status}"
    return f"HTTP/1.1 {status} {phrase}\r\n".encode()


def response_head(
    status: int,
    content_type: str | None,
    date: bytes,
    *,
    chunked: bool,
    length: int,
    close: bool,
    headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """Status line and headers in the order Go writes them.

    First the handler's headers sorted by name (``Content-Type`` among them; a name's values in
    the order set), then ``Date``, the length (none for 204), ``Connection`` and the encoding.
    """
    own = [*headers, *((("Content-Type", content_type),) if content_type is not None else ())]
    parts = [status_line(status)]
    parts += [b"%b: %b\r\n" % (k.encode(), v.encode()) for k, v in sorted(own, key=_name)]
    parts.append(b"Date: %b\r\n" % date)
    if not chunked and status != 204:
        parts.append(b"Content-Length: %d\r\n" % length)
    if close:
        parts.append(b"Connection: close\r\n")
    if chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def _name(header: tuple[str, str]) -> str:
    return header[0]


def refusal(error: BadRequest) -> bytes:
    """Go's canned answer to a request it cannot parse (always followed by closing)."""
    text = f"{error.status} {error}".encode()
    return (
        b"HTTP/1.1 %b\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n%b"
        % (text, text)
    )
