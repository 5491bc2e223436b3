"""What every emulator offers a test, in process or in a subprocess: address, lifecycle, control.

Times in the request log are ``time.monotonic()`` values. On Linux that is CLOCK_MONOTONIC, which is
shared by all processes, so times recorded by an ``EmulatorProcess`` compare directly with the
test's own ``time.monotonic()``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

from ._faults import Fault
from ._log import RequestInfo


def url_host(host: str) -> str:
    """A host as it appears in a URL (IPv6 addresses in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class EmulatorBase(ABC):
    """The public face shared by ``Emulator`` and ``EmulatorProcess``."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self._port = port

    @property
    def port(self) -> int:
        """The TCP port (the real one once started, even if 0 was asked for)."""
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: what ``ollama.Client(host=...)`` takes."""
        return f"http://{url_host(self.host)}:{self._port}"

    @property
    def base_url(self) -> str:
        """``url + "/api"``: the base this project's client takes."""
        return self.url + "/api"

    @abstractmethod
    def start(self) -> Self:
        """Start serving; returns once connections are accepted."""

    @abstractmethod
    def stop(self) -> None:
        """Stop serving and close every connection."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- control ---------------------------------------------------------------------------------

    @abstractmethod
    def inject(
        self, fault: Fault, path: str | None = None, model: str | None = None, times: int = 1
    ) -> None:
        """Apply ``fault`` to the next ``times`` requests to ``path`` (None: any) for ``model``."""

    @abstractmethod
    def clear_faults(self) -> None:
        """Forget every programmed fault."""

    @property
    @abstractmethod
    def requests(self) -> list[RequestInfo]:
        """A snapshot of the request log, oldest first."""

    @abstractmethod
    def request_count(self, path: str | None = None) -> int:
        """How many requests arrived (to ``path``)."""

    @abstractmethod
    def clear_requests(self) -> None:
        """Empty the request log."""

    @abstractmethod
    def wait_for_requests(
        self, n: int, timeout: float = 5.0, path: str | None = None
    ) -> list[RequestInfo]:
        """Wait until ``n`` requests (to ``path``) arrived; the log then. TimeoutError if not."""

    @abstractmethod
    def wait_until_ended(self, request_id: int, timeout: float = 5.0) -> RequestInfo:
        """Wait until that request's response is over; its log entry then. TimeoutError if not."""

    @abstractmethod
    def active_streams(self) -> int:
        """NDJSON streams being written right now."""

    @abstractmethod
    def set_pacing(self, token_rate: float | None, first_token_delay: float = 0.0) -> None:
        """Pace generations that start from now on (``token_rate=None``: as fast as possible)."""

    def last_request(self, path: str | None = None, timeout: float = 5.0) -> RequestInfo:
        """The most recent request (to ``path``), waiting for one to arrive if there is none."""
        return self.wait_for_requests(1, timeout, path)[-1]
