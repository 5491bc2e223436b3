"""`WebServer`: uvicorn serving an app from a background thread, for the command and tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

MAX_MESSAGE = 256 * 1024
"""Bytes in one WebSocket message; a larger one closes the connection (1009) unread."""
MAX_UNREAD = 1024 * 1024
"""Bytes written to a client and not yet read by it, past which a ping closes its connection."""
MAX_STALL = 10.0
"""Seconds a client may leave unread what the server has to send before it is disconnected."""


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, but a client that does not read is disconnected.

    The app's writes wait while the client does not read (uvicorn's flow control), and a page
    that lets its events pile up is closed by the app (see `create_app`). Two things remained:

    - uvicorn answers each ping with a pong at once, whether or not the client reads: a client
      that pings and reads nothing would grow the server by every pong. A ping that finds the
      client more than ``MAX_UNREAD`` bytes behind drops the connection. (A browser never pings.)
    - a closed transport stays open until what it holds is sent, so a client that never reads
      kept its connection, and the bytes waiting for it, for as long as it liked. Once writing
      has waited ``MAX_STALL`` seconds for the client, the connection is dropped.
    """

    _stall: asyncio.TimerHandle | None = None

    def handle_ping(self) -> None:
        """Answer a ping, or drop the connection if the client does not read its answers."""
        if self.transport.is_closing():
            return
        super().handle_ping()
        if self.transport.get_write_buffer_size() > MAX_UNREAD:
            self.transport.abort()

    def pause_writing(self) -> None:
        """The client stopped reading: it has ``MAX_STALL`` seconds to read again."""
        super().pause_writing()
        if self._stall is None:
            self._stall = self.loop.call_later(MAX_STALL, self.transport.abort)

    def resume_writing(self) -> None:
        """The client read what was waiting."""
        super().resume_writing()
        self._stop_stall()

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection ended."""
        self._stop_stall()
        super().connection_lost(exc)

    def _stop_stall(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None


class WebServer:
    """Serves ``app`` on ``host:port`` (0: a free port) until `stop`; a context manager.

    ``max_message`` bounds one incoming WebSocket message (uvicorn's default is 16 MiB); a
    client that does not read is disconnected (`WebSocketProtocol`).
    """

    def __init__(
        self,
        app: Starlette,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_message: int = MAX_MESSAGE,
    ) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            ws=WebSocketProtocol,
            ws_max_size=max_message,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> Self:
        """Start serving; returns once connections are accepted."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web server did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close the connections (their sessions stop) and join the thread."""
        self._server.should_exit = True
        self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
