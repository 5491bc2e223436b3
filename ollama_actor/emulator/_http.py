"""HTTP/1.1 on the wire: an incremental request parser and Go ``net/http``-shaped response heads."""

from __future__ import annotations

import http
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

MAX_HEAD = 64 * 1024
MAX_BODY = 512 * 1024 * 1024
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


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
    keep_alive: bool

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
    length: int | None
    chunked: bool
    expect_continue: bool


def _find_head_end(buf: bytearray) -> tuple[int, int]:
    """(end of the head, start of the body), or (-1, -1); accepts bare LF line ends as Go does."""
    crlf = buf.find(b"\r\n\r\n")
    lf = buf.find(b"\n\n")
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf, lf + 2
    if crlf >= 0:
        return crlf, crlf + 4
    return -1, -1


def _parse_target(target: str) -> tuple[str, str]:
    if target.startswith("/"):
        path, _, query = target.partition("?")
        return unquote(path), query
    if target == "*":
        return "*", ""
    parts = urlsplit(target)
    if parts.scheme in ("http", "https") and parts.netloc:
        return unquote(parts.path or "/"), parts.query
    raise BadRequest(400, "Bad Request")


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
    values = dict(headers)
    connection = {token.strip().lower() for token in values.get("connection", "").split(",")}
    if version == b"HTTP/1.1":
        keep_alive = "close" not in connection
        if "host" not in values:
            raise BadRequest(400, "Bad Request: missing required Host header")
    else:
        keep_alive = "keep-alive" in connection
    encoding = values.get("transfer-encoding")
    length: int | None = None
    if encoding is not None:
        if encoding.lower() != "chunked":
            raise BadRequest(501, "Not Implemented: unsupported transfer encoding")
        if "content-length" in values:
            raise BadRequest(400, "Bad Request")
    elif "content-length" in values:
        text = values["content-length"]
        if not text.isdigit():
            raise BadRequest(400, "Bad Request")
        length = int(text)
        if length > MAX_BODY:
            raise BadRequest(413, "Request Entity Too Large")
    path, query = _parse_target(target.decode("latin-1"))
    return _Head(
        method=method.decode(),
        path=path,
        query=query,
        headers=headers,
        keep_alive=keep_alive,
        length=length,
        chunked=encoding is not None,
        expect_continue=values.get("expect", "").lower() == "100-continue",
    )


class RequestParser:
    """Turns the bytes of one connection into requests, one at a time (pipelined ones in order)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._head: _Head | None = None
        self._chunks: list[bytes] = []
        self._chunk_left: int | None = None
        self._in_trailer = False
        self._body_size = 0
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
        buf = self._buf
        if self._head is None:
            while buf[:2] == b"\r\n" or buf[:1] == b"\n":
                del buf[: 2 if buf[:1] == b"\r" else 1]
            end, body_start = _find_head_end(buf)
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise BadRequest(431, "Request Header Fields Too Large")
                return None
            if end > MAX_HEAD:
                raise BadRequest(431, "Request Header Fields Too Large")
            self._head = _parse_head(bytes(buf[:end]))
            del buf[:body_start]
            self.continue_due = self._head.expect_continue
        head = self._head
        if head.chunked:
            if not self._read_chunks():
                return None
            body = b"".join(self._chunks)
            self._chunks = []
            self._body_size = 0
        else:
            size = head.length or 0
            if len(buf) < size:
                return None
            body = bytes(buf[:size])
            del buf[:size]
        self._head = None
        self.continue_due = False
        return Request(head.method, head.path, head.query, head.headers, body, head.keep_alive)

    def _read_chunks(self) -> bool:
        buf = self._buf
        while True:
            if self._in_trailer:
                end = buf.find(b"\r\n")
                if end < 0:
                    return False
                del buf[: end + 2]
                if end == 0:
                    self._in_trailer = False
                    return True
            elif self._chunk_left is None:
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > 4096:
                        raise BadRequest(400, "Bad Request")
                    return False
                size_text = bytes(buf[:end]).split(b";")[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise BadRequest(400, "Bad Request") from None
                del buf[: end + 2]
                self._body_size += size
                if self._body_size > MAX_BODY:
                    raise BadRequest(413, "Request Entity Too Large")
                if size == 0:
                    self._in_trailer = True
                else:
                    self._chunk_left = size
            else:
                left = self._chunk_left
                if len(buf) < left + 2:
                    return False
                if buf[left : left + 2] != b"\r\n":
                    raise BadRequest(400, "Bad Request")
                self._chunks.append(bytes(buf[:left]))
                del buf[: left + 2]
                self._chunk_left = None


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
) -> bytes:
    """Status line and headers in the order Go writes them (handler headers, Date, length, ...)."""
    parts = [status_line(status)]
    if content_type is not None:
        parts.append(b"Content-Type: %b\r\n" % content_type.encode())
    parts.append(b"Date: %b\r\n" % date)
    if not chunked:
        parts.append(b"Content-Length: %d\r\n" % length)
    if close:
        parts.append(b"Connection: close\r\n")
    if chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def refusal(error: BadRequest) -> bytes:
    """Go's canned answer to a request it cannot parse (always followed by closing)."""
    text = f"{error.status} {error}".encode()
    return (
        b"HTTP/1.1 %b\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n%b"
        % (text, text)
    )
