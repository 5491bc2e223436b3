"""HTTP/1.1 on the wire, without I/O: request bytes out, response events in.

The response parser is fed whatever each socket read returns and calls back with the status and
headers once, then with body bytes (chunked framing already removed, many HTTP chunks joined per
read), then once at the end. It does the least work it can per HTTP chunk, because Ollama sends
one chunk per NDJSON line and that framing is the hot path of every stream.
"""

from __future__ import annotations

from collections.abc import Callable

from ollama_actor._errors import ProtocolError

__all__ = ["ResponseParser", "encode_request"]

MAX_HEAD = 64 * 1024
_MAX_SIZE_LINE = 1024


def encode_request(
    method: str, target: str, host: str, headers: list[tuple[str, str]], body: bytes | None
) -> bytes:
    """Serialize one request; header values must already be checked for CR, LF and NUL."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head


class ResponseParser:
    """Parses one response; `feed` bytes as they arrive, get the callbacks below.

    - ``on_head(status, reason, headers)``: once, headers as lower-cased names.
    - ``on_body(data)``: body bytes, in order.
    - ``on_complete()``: once, when the body ended by its own framing.

    `feed` raises `ProtocolError` on malformed input and returns the bytes past the end of the
    response (which a correct server never sends). `keep_alive` tells, after completion, whether
    the connection may carry another request. `eof` handles the server closing the connection.
    """

    __slots__ = (
        "_buf",
        "_chunk_left",
        "_complete",
        "_in_trailers",
        "_length_left",
        "_mode",
        "_need_crlf",
        "_on_body",
        "_on_complete",
        "_on_head",
        "head_only",
        "keep_alive",
    )

    def __init__(
        self,
        on_head: Callable[[int, str, dict[str, str]], None],
        on_body: Callable[[bytes], None],
        on_complete: Callable[[], None],
        *,
        head_only: bool = False,
    ) -> None:
        self._on_head = on_head
        self._on_body = on_body
        self._on_complete = on_complete
        self.head_only = head_only
        self.keep_alive = False
        self._buf = b""
        self._mode = "head"  # head | length | chunked | close | done
        self._chunk_left = 0
        self._need_crlf = False
        self._in_trailers = False
        self._length_left = 0
        self._complete = False

    @property
    def started(self) -> bool:
        """Whether the status line and headers have been parsed."""
        return self._mode != "head"

    @property
    def complete(self) -> bool:
        """Whether the whole response has been parsed."""
        return self._complete

    def feed(self, data: bytes) -> bytes:
        """Consume bytes from the socket; see the class docstring for what it calls back."""
        if self._mode == "head":
            data = self._buf + data if self._buf else data
            self._buf = b""
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > MAX_HEAD:
                    raise ProtocolError(f"response head larger than {MAX_HEAD} bytes")
                self._buf = data
                return b""
            self._parse_head(data[:end])
            data = data[end + 4 :]
            if self._mode == "done":
                self._finish()
                return data
        if self._mode == "chunked":
            return self._feed_chunked(data)
        if self._mode == "length":
            if len(data) < self._length_left:
                self._length_left -= len(data)
                if data:
                    self._on_body(data)
                return b""
            body, rest = data[: self._length_left], data[self._length_left :]
            self._length_left = 0
            if body:
                self._on_body(body)
            self._finish()
            return rest
        if self._mode == "close":
            if data:
                self._on_body(data)
            return b""
        return data

    def eof(self) -> bool:
        """Note that the server closed the connection; True if that completed the response."""
        if self._mode == "close":
            self._finish()
            return True
        return self._complete

    def _finish(self) -> None:
        self._mode = "done"
        self._complete = True
        self._on_complete()

    def _parse_head(self, head: bytes) -> None:
        try:
            text = head.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
            raise ProtocolError("undecodable response head") from None
        status_line, *header_lines = text.split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        version, status = parts[0], int(parts[1])
        reason = parts[2] if len(parts) == 3 else ""
        headers: dict[str, str] = {}
        for line in header_lines:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise ProtocolError(f"malformed response header line: {line[:80]!r}")
            key = name.lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        connection = headers.get("connection", "").lower()
        self.keep_alive = (
            "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        )
        self._on_head(status, reason, headers)
        if self.head_only or status in (204, 304) or 100 <= status < 200:
            self._mode = "done"
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._mode = "chunked"
        elif "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit():
                raise ProtocolError(f"bad Content-Length: {length[:40]!r}")
            self._length_left = int(length)
            self._mode = "length" if self._length_left else "done"
        else:
            self._mode = "close"
            self.keep_alive = False

    def _feed_chunked(self, data: bytes) -> bytes:
        buf = self._buf + data if self._buf else data
        pos = 0
        end = len(buf)
        pieces: list[bytes] = []
        while True:
            if self._chunk_left:
                take = min(self._chunk_left, end - pos)
                if take:
                    pieces.append(buf[pos : pos + take])
                    pos += take
                    self._chunk_left -= take
                if self._chunk_left:
                    break
                self._need_crlf = True
            if self._need_crlf:
                if end - pos < 2:
                    break
                if buf[pos : pos + 2] != b"\r\n":
                    raise ProtocolError("chunk data not followed by CRLF")
                pos += 2
                self._need_crlf = False
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                if end - pos > _MAX_SIZE_LINE:
                    raise ProtocolError("chunk size line too long")
                break
            line = buf[pos:line_end]
            pos = line_end + 2
            if self._in_trailers:
                if not line:
                    self._buf = b""
                    if pieces:
                        self._on_body(b"".join(pieces))
                    self._finish()
                    return buf[pos:]
                continue
            try:
                size = int(line.split(b";", 1)[0], 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size line: {line[:40]!r}") from None
            if size < 0:
                raise ProtocolError(f"bad chunk size line: {line[:40]!r}")
            if size == 0:
                self._in_trailers = True
            self._chunk_left = size
        self._buf = buf[pos:]
        if pieces:
            self._on_body(pieces[0] if len(pieces) == 1 else b"".join(pieces))
        return b""
