"""`StatusServer`: the running program's state as JSON on a loopback port (what ``top`` draws).

What OTP's ``observer`` shows, over HTTP: ``GET /status`` answers a snapshot of the supervision
trees (each child's state and restarts), the streams in flight, the load per host, the shared
loop's lag, the application's state and the recent errors; ``GET /metrics`` answers the
Prometheus exposition when the server was given a `PrometheusMetrics`. ``ollama-actor top URL``
draws ``/status`` live.

The server is an `actors.Actor`, so that a daemon puts it in its tree (first, so that it is
stopped last and shows the drain to the end). It serves from a thread of its own, on loopback
only, and answers only requests whose ``Host`` is a loopback name (a web page cannot read it
through DNS rebinding). What it knows of streams and errors comes from telemetry handlers it
attaches while it runs, so it sees the streams begun after it started.
"""

from __future__ import annotations

import collections
import contextlib
import ipaddress
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import actors
from actors import Ref, telemetry
from ollama_actor.prometheus import CONTENT_TYPE, PrometheusMetrics
from ollama_actor.telemetry import (
    POOL_HOST_DOWN,
    POOL_HOST_UP,
    STREAM_FIRST_CHUNK,
    STREAM_RESTART,
    STREAM_START,
    STREAM_STOP,
)

__all__ = ["StatusServer"]

logger = logging.getLogger(__name__)

_LOOPBACK_NAMES = ("localhost", "localhost.")

MAX_CLIENTS = 32
"""Connections served at once (a thread each); more are closed unanswered, so that clients
that connect and wait cannot pile threads up in the program."""
CLIENT_TIMEOUT = 10.0
"""Seconds a client may take to send its request or read the answer before it is dropped."""


def _loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The name in a ``Host`` header, without its port (``[::1]:80`` -> ``::1``); a bracketed
    name followed by anything but a port is returned whole (so not a loopback name)."""
    if header.startswith("["):
        name, bracket, rest = header[1:].partition("]")
        if bracket and (not rest or (rest[0] == ":" and rest[1:].isdigit())):
            return name
        return header
    return header.rsplit(":", 1)[0]


class _Stream:
    __slots__ = ("attempt", "first_chunk", "host", "model", "ref", "started")

    def __init__(self, ref: Ref, model: str | None, host: str) -> None:
        self.ref = ref
        self.model = model
        self.host = host
        self.started = time.monotonic()
        self.attempt = 0
        self.first_chunk: float | None = None


class _Host:
    __slots__ = ("errors", "finished", "in_flight", "started", "up")

    def __init__(self) -> None:
        self.in_flight = 0
        self.started = 0
        self.finished = 0
        self.errors = 0
        self.up: bool | None = None  # None: no pool has said (a single server's host)


class Observer:
    """What the telemetry handlers gather for the status view (thread-safe)."""

    def __init__(self, errors: int = 20) -> None:
        self._lock = threading.Lock()
        self._streams: dict[Ref, _Stream] = {}
        self._hosts: dict[str, _Host] = collections.defaultdict(_Host)
        self._errors: collections.deque[dict[str, Any]] = collections.deque(maxlen=errors)
        self._started = self._finished = 0
        self._lag = 0.0
        self._max_lag: collections.deque[float] = collections.deque(maxlen=240)
        self._blocked: float | None = None
        self._application: dict[str, Any] | None = None
        self._root: str | None = None  # the application's root supervisor's URN
        self.handlers = {
            STREAM_START: self._on_start,
            STREAM_FIRST_CHUNK: self._on_first_chunk,
            STREAM_RESTART: self._on_restart,
            STREAM_STOP: self._on_stop,
            POOL_HOST_DOWN: self._on_host_down,
            POOL_HOST_UP: self._on_host_up,
            telemetry.SUPERVISOR_RESTART: self._on_supervisor("restart"),
            telemetry.SUPERVISOR_CHILD_GIVEN_UP: self._on_supervisor("child given up"),
            telemetry.SUPERVISOR_GIVE_UP: self._on_supervisor("gave up"),
            telemetry.LOOP_LAG: self._on_lag,
            telemetry.LOOP_BLOCKED: self._on_blocked,
            telemetry.LOOP_RECOVERED: self._on_recovered,
            telemetry.APPLICATION_READY: self._on_application("running"),
            telemetry.APPLICATION_DRAIN: self._on_application("draining"),
            telemetry.APPLICATION_STOP: self._on_application("stopped"),
        }

    def handle(
        self, event: telemetry.Event, m: Mapping[str, Any], md: Mapping[str, Any], _: Any
    ) -> None:
        with self._lock:
            self.handlers[event](m, md)

    # -- handlers (under the lock) ------------------------------------------------------------

    def _on_start(self, _m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        stream = _Stream(md["ref"], md.get("model"), str(md.get("host") or ""))
        self._streams[stream.ref] = stream
        host = self._hosts[stream.host]
        host.in_flight += 1
        host.started += 1
        self._started += 1

    def _on_first_chunk(self, m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        stream = self._streams.get(md["ref"])
        if stream is not None:
            stream.first_chunk = m["time_to_first_chunk"]
            host = str(md.get("host") or "")
            if host != stream.host:  # a pool's stream: now on the host it went to
                self._hosts[stream.host].in_flight -= 1
                self._hosts[host].in_flight += 1
                stream.host = host

    def _on_restart(self, m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        stream = self._streams.get(md["ref"])
        if stream is not None:
            stream.attempt = m["attempt"]
            stream.first_chunk = None
        self._error("stream restart", f"{md['ref']} attempt {m['attempt']}: {md.get('error')!r}")

    def _on_stop(self, _m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        stream = self._streams.pop(md["ref"], None)
        self._finished += 1
        if stream is None:
            return
        host = self._hosts[stream.host]
        host.in_flight -= 1
        host.finished += 1
        if md.get("error") is not None:
            host.errors += 1
            self._error("stream error", f"{md['ref']} ({stream.model}): {md['error']!r}")

    def _on_host_down(self, _m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        self._hosts[str(md["host"])].up = False
        self._error("host down", f"{md['host']}: {md.get('error')!r}")

    def _on_host_up(self, _m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        self._hosts[str(md["host"])].up = True

    def _on_supervisor(self, what: str) -> Any:
        def on(m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
            reason = md.get("reason")
            if what == "restart" and isinstance(md.get("child"), Ref):
                return  # a stream's restart: said by its own event
            self._error(f"supervisor {what}", f"child {md.get('child')!s}: {reason!r}")

        return on

    def _on_lag(self, m: Mapping[str, Any], _md: Mapping[str, Any]) -> None:
        self._lag = m["lag"]
        self._max_lag.append(m["lag"])

    def _on_blocked(self, m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        self._blocked = m["blocked"]
        self._error("loop blocked", f"{m['blocked']:.1f} s, running {md.get('running')}")

    def _on_recovered(self, m: Mapping[str, Any], _md: Mapping[str, Any]) -> None:
        self._blocked = None

    def _on_application(self, state: str) -> Any:
        def on(_m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
            self._application = {
                "name": md.get("application"),
                "state": state,
                "since": time.time(),
            }

        return on

    def _error(self, what: str, text: str) -> None:
        self._errors.appendleft({"time": time.time(), "what": what, "text": text[:500]})

    # -- the snapshot ---------------------------------------------------------------------------

    def name_root(self, tree: list[dict[str, Any]]) -> None:
        """Name the application's root supervisor in ``tree`` after the application."""
        with self._lock:
            root, app = self._root, self._application
        for node in tree:
            if root is not None and app is not None and node.get("urn") == root:
                node["name"] = app["name"]

    def snapshot(self, limit: int) -> dict[str, Any]:
        """The parts that come from telemetry, as plain data."""
        now = time.monotonic()
        with self._lock:
            streams = sorted(self._streams.values(), key=lambda s: s.started)
            return {
                "application": dict(self._application) if self._application else None,
                "loop": {
                    "lag": self._lag,
                    "max_lag": max(self._max_lag, default=0.0),
                    "blocked": self._blocked,
                },
                "streams": {
                    "in_flight": len(streams),
                    "started": self._started,
                    "finished": self._finished,
                    "oldest": [
                        {
                            "ref": str(s.ref),
                            "model": s.model,
                            "host": s.host,
                            "attempt": s.attempt,
                            "age": now - s.started,
                            "time_to_first_chunk": s.first_chunk,
                        }
                        for s in streams[:limit]
                    ],
                },
                "hosts": [
                    {
                        "host": url,
                        "up": h.up,
                        "in_flight": h.in_flight,
                        "started": h.started,
                        "finished": h.finished,
                        "errors": h.errors,
                    }
                    for url, h in sorted(self._hosts.items())
                ],
                "errors": list(self._errors),
            }


class StatusServer(actors.Actor):
    """Serves ``/status`` (JSON) and ``/metrics`` on a loopback port while it runs.

    ``host`` must be a loopback address (the status shows the program's insides); ``port`` 0
    picks a free one (read `url` then). ``metrics`` is served at ``/metrics``; ``limit`` bounds
    the children listed per supervisor and the streams listed. ``on_start`` binds the port
    (an ``OSError`` if it is taken: the child fails to start); stopping closes it.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        metrics: PrometheusMetrics | None = None,
        limit: int = 50,
    ) -> None:
        super().__init__()
        if not _loopback(host):
            raise ValueError(f"the status server serves on loopback only, not on {host!r}")
        self._address = (host, port)
        self._metrics = metrics
        self._limit = limit
        self._observer = Observer()
        self._id = f"status-{id(self)}"
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._began = time.monotonic()
        self.url = ""
        """``http://HOST:PORT``, once started."""

    def on_start(self) -> None:
        kind = _ServerV6 if ":" in self._address[0] else _Server
        server = kind(self._address, _handler(self))
        self._server = server
        host, port = server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        self.url = f"http://[{name}]:{port}" if ":" in name else f"http://{name}:{port}"
        telemetry.attach_many(self._id, self._observer.handlers, self._observer.handle)
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="status-server"
        )
        self._thread.start()

    def on_stop(self) -> None:
        self._close()

    def on_failure(self, *_exc_info: Any) -> None:
        self._close()

    def _close(self) -> None:
        telemetry.detach(self._id)
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_clients()
        if self._thread is not None:
            self._thread.join(5.0)

    def status(self) -> dict[str, Any]:
        """The snapshot ``/status`` answers (callable from any thread: the server's own)."""
        snapshot = self._observer.snapshot(self._limit)
        tree = actors.supervision_tree(limit=self._limit, timeout=1.0)
        self._observer.name_root(tree)
        return {
            "pid": os.getpid(),
            "time": time.time(),
            "uptime": time.monotonic() - self._began,
            **snapshot,
            "tree": tree,
        }

    def metrics_text(self) -> str | None:
        return None if self._metrics is None else self._metrics.exposition()


class _Server(ThreadingHTTPServer):
    """Serves each client on a thread of its own, at most `MAX_CLIENTS` at once, and can
    close them all (so that no thread or socket outlives the server)."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._clients_lock = threading.Lock()
        self._clients: dict[socket.socket, threading.Thread] = {}

    def process_request(self, request: Any, client_address: Any) -> None:
        """Start the client's thread (the serving thread), or close it if too many are open."""
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="status-client",
            daemon=True,
        )
        with self._clients_lock:
            full = len(self._clients) >= MAX_CLIENTS
            if not full:
                self._clients[request] = thread
        if full:
            super().shutdown_request(request)
            return
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._clients_lock:
            self._clients.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer: logged at DEBUG only (a library prints nothing)."""
        logger.debug("status client %s", client_address, exc_info=True)

    def close_clients(self) -> None:
        """Cut every client still connected and wait (bounded) for their threads to end."""
        with self._clients_lock:
            clients = list(self._clients.items())
        for sock, _ in clients:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for _, thread in clients:
            thread.join(CLIENT_TIMEOUT)


class _ServerV6(_Server):
    address_family = socket.AF_INET6


def _handler(status: StatusServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "ollama-actor-status"
        timeout = CLIENT_TIMEOUT

        def do_GET(self) -> None:
            if not _loopback(_host_name(self.headers.get("Host") or "")):
                self._send(403, "text/plain", b"only loopback host names are answered\n")
                return
            path = self.path.split("?", 1)[0]
            if path in ("/status", "/"):
                body = json.dumps(status.status(), default=str).encode()
                self._send(200, "application/json", body)
            elif path == "/metrics" and (text := status.metrics_text()) is not None:
                self._send(200, CONTENT_TYPE, text.encode())
            else:
                self._send(404, "text/plain", b"try /status or /metrics\n")

        def _send(self, code: int, kind: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a library prints nothing

    return Handler
