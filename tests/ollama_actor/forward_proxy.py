"""A small HTTP forward proxy for the tests: absolute-form requests and CONNECT tunnels.

It runs its own asyncio loop on a thread and listens on loopback (over TLS when given a server
context). A request in absolute form (``GET http://host:port/path HTTP/1.1``) is sent on to the
origin in origin form with ``Connection: close``, and the bytes of both directions are copied
until the origin closes; a ``CONNECT host:port`` gets ``200`` and a tunnel. Host names are
looked up in ``names`` first, so a test can reach the emulator under a name no DNS knows, which
proves the client left name resolution to the proxy. With ``credentials``, a request without
the matching ``Proxy-Authorization: Basic`` gets ``407``. Every request head it received is kept
in ``seen`` (``Proxy-Authorization`` included, for the tests to check).

With ``front=(host, port)`` it is no proxy but a TLS terminator: every connection is piped to
that address, which puts TLS in front of the (plain HTTP) emulator.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
import threading
from dataclasses import dataclass


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]


class ForwardProxy:
    def __init__(
        self,
        *,
        names: dict[str, tuple[str, int]] | None = None,
        credentials: tuple[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        refuse_connect: bool = False,
        front: tuple[str, int] | None = None,
    ) -> None:
        self.names = names or {}
        self.front = front
        self.credentials = credentials
        self.refuse_connect = refuse_connect
        self.seen: list[Seen] = []
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        box: dict[str, asyncio.Server] = {}

        async def start() -> None:
            box["server"] = await asyncio.start_server(
                self._handle, "127.0.0.1", 0, ssl=ssl_context
            )
            ready.set()

        self._thread = threading.Thread(
            target=lambda: (self._loop.run_until_complete(start()), self._loop.run_forever()),
            daemon=True,
        )
        self._thread.start()
        ready.wait(5)
        self._server = box["server"]
        self.port = self._server.sockets[0].getsockname()[1]
        self.scheme = "https" if ssl_context else "http"

    def url(self, user: str | None = None, password: str | None = None) -> str:
        auth = f"{user}:{password}@" if user is not None else ""
        return f"{self.scheme}://{auth}127.0.0.1:{self.port}"

    def __enter__(self) -> ForwardProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.front is not None:  # not a proxy: TLS in front of a plain server
            up_reader, up_writer = await asyncio.open_connection(*self.front)
            await self._pipe(reader, writer, up_reader, up_writer)
            return
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        self.seen.append(Seen(method, target, headers))
        if not self._authorized(headers):
            writer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n'
                b"Connection: close\r\n\r\n"
            )
            await writer.drain()
            writer.close()
            return
        if method == "CONNECT":
            await self._tunnel(target, reader, writer)
        else:
            await self._forward(method, target, lines[1:], reader, writer)

    def _authorized(self, headers: dict[str, str]) -> bool:
        if self.credentials is None:
            return True
        user, password = self.credentials
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return headers.get("proxy-authorization") == f"Basic {token}"

    def _address(self, hostport: str) -> tuple[str, int]:
        host, _, port = hostport.rpartition(":")
        return self.names.get(host, (host.strip("[]"), int(port)))

    async def _tunnel(self, target: str, reader, writer) -> None:
        if self.refuse_connect:
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._address(target))
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await self._pipe(reader, writer, up_reader, up_writer)

    async def _forward(self, method: str, target: str, header_lines, reader, writer) -> None:
        assert target.startswith("http://"), f"not in absolute form: {target}"
        hostport, _, path = target[len("http://") :].partition("/")
        up_reader, up_writer = await asyncio.open_connection(*self._address(hostport))
        kept = [
            line
            for line in header_lines
            if line
            and line.split(":", 1)[0].strip().lower() not in ("proxy-authorization", "connection")
        ]
        head = [f"{method} /{path} HTTP/1.1", *kept, "Connection: close", "", ""]
        up_writer.write("\r\n".join(head).encode("latin-1"))
        await self._pipe(reader, writer, up_reader, up_writer)

    async def _pipe(self, reader, writer, up_reader, up_writer) -> None:
        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            with contextlib.suppress(Exception):
                sink.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
