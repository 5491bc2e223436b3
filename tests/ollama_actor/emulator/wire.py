"""A raw HTTP/1.1 client for the emulator tests: every byte, chunk and socket read is visible."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RawResponse:
    """One response as it came off the socket."""

    status: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: list[bytes] | None = None
    """The HTTP chunks' data (None when the body had a Content-Length)."""
    body: bytes = b""
    complete: bool = False
    """The body ended properly (chunked terminator, or Content-Length reached)."""
    reads: list[bytes] = field(default_factory=list)
    """Every ``recv`` result, in order."""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def header_names(self) -> list[str]:
        return [key for key, _ in self.headers]

    def json(self) -> Any:
        return json.loads(self.body)

    def lines(self) -> list[bytes]:
        """The body's lines, each with its newline."""
        return self.body.splitlines(keepends=True)

    def objects(self) -> list[Any]:
        return [json.loads(line) for line in self.lines()]


def request_bytes(
    method: str,
    path: str,
    body: bytes | dict[str, Any] | list[Any] | None = None,
    headers: dict[str, str] | None = None,
    port: int = 0,
) -> bytes:
    if isinstance(body, dict | list):
        body = json.dumps(body).encode()
    head = [f"{method} {path} HTTP/1.1"]
    if "host" not in {key.lower() for key in headers or {}}:
        head.append(f"Host: 127.0.0.1:{port}")
    for key, value in (headers or {}).items():
        head.append(f"{key}: {value}")
    if body is not None and "Transfer-Encoding" not in (headers or {}):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")


class Parser:
    """Feeds reads into a ``RawResponse``; knows when the response is over."""

    def __init__(self, head_only: bool = False) -> None:
        self.response = RawResponse()
        self.buffer = b""
        self.head_done = False
        self.head_only = head_only
        self.length: int | None = None

    def feed(self, data: bytes) -> bool:
        """Add one read; True once the response is complete."""
        self.response.reads.append(data)
        self.buffer += data
        return self._parse()

    def _parse(self) -> bool:
        response = self.response
        if not self.head_done:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            _, status, reason = lines[0].split(" ", 2)
            response.status = int(status)
            response.reason = reason
            for line in lines[1:]:
                key, _, value = line.partition(":")
                response.headers.append((key, value.strip()))
            self.buffer = self.buffer[end + 4 :]
            self.head_done = True
            if response.header("Transfer-Encoding") == "chunked":
                response.chunks = []
            else:
                self.length = int(response.header("Content-Length") or 0)
        if self.head_only or response.status == 100:
            response.complete = True
            return True
        if response.chunks is None:
            assert self.length is not None
            response.body = self.buffer[: self.length]
            response.complete = len(self.buffer) >= self.length
            if response.complete:
                self.buffer = self.buffer[self.length :]
            return response.complete
        while True:
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return False
            size = int(self.buffer[:end], 16)
            if len(self.buffer) < end + 2 + size + 2:
                return False
            data = self.buffer[end + 2 : end + 2 + size]
            assert self.buffer[end + 2 + size : end + 4 + size] == b"\r\n"
            self.buffer = self.buffer[end + 4 + size :]
            if size == 0:
                response.complete = True
                return True
            response.chunks.append(data)
            response.body += data


class Conn:
    """A client socket that keeps bytes read past one response for the next (pipelining)."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.leftover = b""

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def rest(self) -> bytes:
        """Everything until the server closes the connection."""
        data = b""
        while chunk := self.recv():
            data += chunk
        return data

    def recv(self, size: int = 65536) -> bytes:
        if self.leftover:
            data, self.leftover = self.leftover[:size], self.leftover[size:]
            return data
        return self.sock.recv(size)


def connect(port: int, timeout: float = 5.0) -> Conn:
    return Conn(port, timeout)


def read_response(
    conn: Conn,
    head_only: bool = False,
    max_chunks: int | None = None,
    parser: Parser | None = None,
) -> RawResponse:
    """Read one response (until complete, EOF, or ``max_chunks`` chunks arrived).

    Pass the same ``parser`` again to go on reading a response that stopped at ``max_chunks``.
    """
    parser = parser or Parser(head_only)
    while True:
        data = conn.recv(65536)
        if not data:
            return parser.response
        if parser.feed(data):
            conn.leftover = parser.buffer + conn.leftover
            return parser.response
        chunks = parser.response.chunks
        if max_chunks is not None and chunks is not None and len(chunks) >= max_chunks:
            conn.leftover = parser.buffer + conn.leftover
            return parser.response


def exchange(
    port: int,
    method: str,
    path: str,
    body: bytes | dict[str, Any] | list[Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> RawResponse:
    """Send one request on a new connection and read its response."""
    with connect(port, timeout) as conn:
        conn.sendall(request_bytes(method, path, body, headers, port))
        return read_response(conn, head_only=method == "HEAD")
