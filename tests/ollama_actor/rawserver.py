"""A scriptable HTTP/1.1 server on loopback for adversarial cases: it sends exact bytes.

``RawServer(respond)`` accepts connections on a thread each; for every request it reads (the
head, then a Content-Length body) it calls ``respond(request)`` and performs what that returns,
in order: ``bytes`` are sent, a ``float`` sleeps that long, ``CLOSE`` closes the connection,
``RESET`` resets it. Every request is recorded in ``requests`` with the number of its connection.
With ``hold_half_closed``, a client's end of sending does not close the server's side. With
``early``, ``respond`` is called as soon as the head has arrived, the body unread (a server
refusing an upload, or Go's answer for a blob it has). With ``sink``, a body is read in pieces
and only its SHA-256 and length kept (``RawRequest.digest``, ``.size``), not the bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import struct
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

CLOSE = "close"
RESET = "reset"

Action = bytes | float | str


@dataclass
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]
    head: bytes
    body: bytes
    connection: int
    index: int = 0
    """The request's number on its connection (0 for the first)."""
    raw_headers: list[tuple[str, str]] = field(default_factory=list)
    digest: str = ""
    size: int = 0


class RawServer:
    def __init__(
        self,
        respond: Callable[[RawRequest], Iterable[Action]],
        *,
        hold_half_closed: bool = False,
        early: bool = False,
        sink: bool = False,
    ) -> None:
        self.respond = respond
        self.hold_half_closed = hold_half_closed
        self.early = early
        self.sink = sink
        self.requests: list[RawRequest] = []
        self.leftovers: list[bytes] = []  # what each connection held unparsed when it ended
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._stopped = False
        self._stop = threading.Event()
        self._lock = threading.Lock()
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stopped = True
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._sock.close()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
        for thread in self._threads:
            thread.join(5)

    @staticmethod
    def _sink_body(conn: socket.socket, buf: bytes, length: int, request: RawRequest) -> bytes:
        sha = hashlib.sha256(buf[:length])
        got = min(len(buf), length)
        rest = buf[length:]
        while got < length:
            data = conn.recv(min(1 << 20, length - got))
            if not data:
                break
            sha.update(data)
            got += len(data)
        request.digest, request.size = "sha256:" + sha.hexdigest(), got
        return rest

    def count(self, method: str) -> int:
        return sum(1 for r in self.requests if r.method == method)

    def _accept(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                number = self.connections
                self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket, number: int) -> None:
        buf = b""
        try:
            buf = self._serve_requests(conn, number)
        finally:
            conn.close()
        self.leftovers.append(buf)

    def _serve_requests(self, conn: socket.socket, number: int) -> bytes:
        buf = b""
        index = 0
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        if self.hold_half_closed:
                            self._stop.wait()
                        return buf
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                raw = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
                headers = {k.lower(): v for k, v in raw}
                length = int(headers.get("content-length", "0"))
                request = RawRequest(method, target, headers, head, b"", number, index, raw)
                if self.early:
                    length = 0
                elif self.sink:
                    buf = self._sink_body(conn, buf, length, request)
                    length = 0
                while len(buf) < length:
                    data = conn.recv(65536)
                    if not data:
                        return buf
                    buf += data
                request.body, buf = buf[:length], buf[length:]
                self.requests.append(request)
                index += 1
                for action in self.respond(request):
                    if isinstance(action, bytes):
                        conn.sendall(action)
                    elif isinstance(action, float | int):
                        if self._stop.wait(action):
                            return buf
                    elif action == CLOSE:
                        return buf
                    elif action == RESET:
                        conn.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                        return buf
        except (OSError, ValueError):  # the connection failed, or a head that is not HTTP
            return buf


def response(body: bytes, status: str = "200 OK", headers: str = "") -> bytes:
    """A Content-Length response with ``body``; ``headers`` are extra CRLF-ended lines."""
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{headers}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def chunked(pieces: Iterable[bytes], status: str = "200 OK", headers: str = "") -> bytes:
    """A chunked response of ``pieces``, one HTTP chunk each."""
    out = f"HTTP/1.1 {status}\r\n{headers}Transfer-Encoding: chunked\r\n\r\n".encode()
    for piece in pieces:
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    return out + b"0\r\n\r\n"
