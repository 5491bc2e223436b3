"""The in-process emulator: the server on its own event loop in a background daemon thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Self

from ._base import EmulatorBase
from ._faults import Fault
from ._log import RequestInfo
from ._server import Server
from ._settings import DEFAULT_VERSION, Settings

STARTUP_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


class Emulator(EmulatorBase):
    """A faithful, fast Ollama server for tests; use as a context manager.

    ``token_rate`` (tokens/s per stream, None: as fast as possible) and ``first_token_delay`` pace
    generations; ``num_parallel``/``max_queue`` mirror ``OLLAMA_NUM_PARALLEL``/``OLLAMA_MAX_QUEUE``
    and ``origins`` the entries of ``OLLAMA_ORIGINS`` (web origins allowed besides Ollama's
    defaults; a bad entry raises ValueError, as Ollama refuses to start); ``loaded`` names local
    models that are in memory from the start (``/api/ps``), as if each had just been used. The
    control methods are thread-safe and act at once.
    """

    def __init__(
        self,
        token_rate: float | None = None,
        first_token_delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        num_parallel: int | None = None,
        max_queue: int = 512,
        version: str = DEFAULT_VERSION,
        origins: Sequence[str] = (),
        loaded: Sequence[str] = (),
    ) -> None:
        super().__init__(host, port)
        self._settings = Settings(
            token_rate=token_rate,
            first_token_delay=first_token_delay,
            num_parallel=num_parallel,
            max_queue=max_queue,
            version=version,
            origins=tuple(origins),
            loaded=tuple(loaded),
        )
        self._server = Server(self._settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Start the server thread; returns once the socket accepts connections."""
        if self._thread is not None:
            raise RuntimeError("emulator already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(ready, failure), name="ollama-emulator", daemon=True
        )
        self._thread.start()
        if not ready.wait(STARTUP_TIMEOUT):
            raise TimeoutError("emulator did not start")
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        try:
            try:
                self._port = loop.run_until_complete(self._server.start(self.host, self._port))
            except BaseException as exc:
                failure.append(exc)
                return
            finally:
                self._loop = loop
                ready.set()
            loop.run_forever()
        finally:
            loop.close()

    def stop(self) -> None:
        """Close every connection, stop the loop and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        done = asyncio.run_coroutine_threadsafe(self._server.stop(), loop)
        try:
            done.result(STOP_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(STOP_TIMEOUT)

    # --- control ---------------------------------------------------------------------------------

    def inject(
        self, fault: Fault, path: str | None = None, model: str | None = None, times: int = 1
    ) -> None:
        """Apply ``fault`` to the next ``times`` requests to ``path`` (None: any) for ``model``."""
        self._server.rules.add(fault, path, model, times)

    def clear_faults(self) -> None:
        """Forget every programmed fault."""
        self._server.rules.clear()

    @property
    def requests(self) -> list[RequestInfo]:
        """A snapshot of the request log, oldest first."""
        return self._server.log.snapshot()

    def request_count(self, path: str | None = None) -> int:
        """How many requests arrived (to ``path``)."""
        return self._server.log.count(path)

    def clear_requests(self) -> None:
        """Empty the request log."""
        self._server.log.clear()

    def wait_for_requests(
        self, n: int, timeout: float = 5.0, path: str | None = None
    ) -> list[RequestInfo]:
        """Wait until ``n`` requests (to ``path``) arrived; the log then. TimeoutError if not."""
        return self._server.log.wait_for_requests(n, timeout, path)

    def wait_until_ended(self, request_id: int, timeout: float = 5.0) -> RequestInfo:
        """Wait until that request's response is over; its log entry then. TimeoutError if not."""
        return self._server.log.wait_until_ended(request_id, timeout)

    def active_streams(self) -> int:
        """NDJSON streams being written right now."""
        return self._server.active_streams

    def set_pacing(self, token_rate: float | None, first_token_delay: float = 0.0) -> None:
        """Pace generations that start from now on (``token_rate=None``: as fast as possible)."""
        self._settings.token_rate = token_rate
        self._settings.first_token_delay = first_token_delay
