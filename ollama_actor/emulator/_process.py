"""The emulator as a child process (``python -m ollama_actor.emulator``), driven over its control
endpoint: for benchmarks (the server gets its own interpreter) and for crash/restart tests."""

from __future__ import annotations

import http.client
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlencode

from ._base import EmulatorBase
from ._faults import Fault
from ._log import RequestInfo
from ._settings import DEFAULT_VERSION

READY_PREFIX = "listening on http://"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class EmulatorProcess(EmulatorBase):
    """An emulator in a subprocess with the same API (and arguments) as ``Emulator``.

    ``start()`` again after ``kill()`` or ``stop()`` rebinds the same port.
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
        python: str = sys.executable,
        startup_timeout: float = 15.0,
    ) -> None:
        super().__init__(host, port)
        self._options = {
            "--token-rate": token_rate,
            "--first-token-delay": first_token_delay,
            "--num-parallel": num_parallel,
            "--max-queue": max_queue,
            "--version": version,
            "--origins": ",".join(origins),  # always given: the child's OLLAMA_ORIGINS is ignored
            "--loaded": ",".join(loaded) or None,
        }
        self._python = python
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self) -> Self:
        """Spawn the child and wait for its ``listening on`` line (which gives the port)."""
        if self._process is not None and self._process.poll() is None:
            raise RuntimeError("emulator process already running")
        command = [self._python, "-m", "ollama_actor.emulator", "--host", self.host]
        command += ["--port", str(self._port)]
        for option, value in self._options.items():
            if value is not None:
                command += [f"{option}={value}"]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env)
        self._process = process
        try:
            line = self._read_ready_line(process)
        except BaseException:
            self.kill()
            raise
        self._port = int(line.rsplit(":", 1)[1])
        return self

    def _read_ready_line(self, process: subprocess.Popen[bytes]) -> str:
        assert process.stdout is not None
        deadline = time.monotonic() + self._startup_timeout
        data = b""
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while b"\n" not in data:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise TimeoutError(f"emulator did not start in {self._startup_timeout}s")
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    raise RuntimeError(f"emulator exited with {process.wait()} before listening")
                data += chunk
        line = data.split(b"\n", 1)[0].decode().strip()
        if not line.startswith(READY_PREFIX):
            raise RuntimeError(f"unexpected emulator output: {line!r}")
        return line

    def kill(self) -> None:
        """SIGKILL the child (a crash: connections drop without a goodbye)."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM the child (it closes its connections) and wait for it."""
        self._end(signal.SIGTERM)

    def _end(self, sig: int) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    # --- control over HTTP -----------------------------------------------------------------------

    def _call(
        self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None
    ) -> tuple[int, Any]:
        target = "/_emulator/" + path
        if query:
            target += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        timeout = float((query or {}).get("timeout", 0)) + 10.0
        connection = http.client.HTTPConnection(self.host, self._port, timeout=timeout)
        try:
            payload = None if body is None else json.dumps(body)
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            connection.request(method, target, body=payload, headers=headers)
            response = connection.getresponse()
            status, data = response.status, response.read()
        finally:
            connection.close()
        result = json.loads(data) if data else {}
        if status == 408:
            raise TimeoutError(result["error"])
        if status == 404 and path == "requests/ended":
            raise KeyError((query or {}).get("id"))
        if status != 200:
            raise RuntimeError(f"control request {method} {path} failed: {status} {result}")
        return status, result

    def inject(
        self, fault: Fault, path: str | None = None, model: str | None = None, times: int = 1
    ) -> None:
        """Apply ``fault`` to the next ``times`` requests to ``path`` (None: any) for ``model``."""
        body = {"fault": fault.to_json(), "path": path, "model": model, "times": times}
        self._call("POST", "faults", body=body)

    def clear_faults(self) -> None:
        """Forget every programmed fault."""
        self._call("DELETE", "faults")

    @property
    def requests(self) -> list[RequestInfo]:
        """A snapshot of the request log, oldest first."""
        _, result = self._call("GET", "requests")
        return [RequestInfo.from_json(item) for item in result["requests"]]

    def request_count(self, path: str | None = None) -> int:
        """How many requests arrived (to ``path``)."""
        _, result = self._call("GET", "requests/count", {"path": path})
        count: int = result["count"]
        return count

    def clear_requests(self) -> None:
        """Empty the request log."""
        self._call("DELETE", "requests")

    def wait_for_requests(
        self, n: int, timeout: float = 5.0, path: str | None = None
    ) -> list[RequestInfo]:
        """Wait until ``n`` requests (to ``path``) arrived; the log then. TimeoutError if not."""
        _, result = self._call("GET", "requests/wait", {"n": n, "timeout": timeout, "path": path})
        return [RequestInfo.from_json(item) for item in result["requests"]]

    def wait_until_ended(self, request_id: int, timeout: float = 5.0) -> RequestInfo:
        """Wait until that request's response is over; its log entry then. TimeoutError if not."""
        _, result = self._call("GET", "requests/ended", {"id": request_id, "timeout": timeout})
        return RequestInfo.from_json(result["request"])

    def active_streams(self) -> int:
        """NDJSON streams being written right now."""
        _, result = self._call("GET", "streams")
        active: int = result["active"]
        return active

    def set_pacing(self, token_rate: float | None, first_token_delay: float = 0.0) -> None:
        """Pace generations that start from now on (``token_rate=None``: as fast as possible)."""
        body = {"token_rate": token_rate, "first_token_delay": first_token_delay}
        self._call("PUT", "pacing", body=body)
