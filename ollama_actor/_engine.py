"""The I/O engine: every request to Ollama runs here, on the shared event loop thread.

One loop thread (`actors` owns it) carries all connections, so ten thousand concurrent streams
cost ten thousand sockets, not ten thousand threads. A request is a `Call`: it takes a pooled
keep-alive connection or opens one, writes the request, feeds each socket read to the sans-I/O
`ResponseParser`, and reports to its `Sink` on the loop thread: the head once, body bytes as they
come, then exactly one of `on_end` or `on_error`. Time bounds are enforced by one timer per call,
and `Call.cancel` works from any thread by aborting the socket on the loop, so a cancel never
waits behind a blocked read.

A request goes straight to its origin, or through an HTTP proxy (absolute-form for http, a
CONNECT tunnel and then TLS for https). A body too large to hold in memory is an `Upload`: the
caller's thread reads it and the loop writes it, one piece at a time, with backpressure.

Retrying is Go's net/http rule: a request is sent again, once, on a fresh connection only when
a pooled connection failed before any byte of a response came, and either the request never
left (the first write failed at once) or it is replayable: GET, HEAD, OPTIONS or TRACE, or
marked with an ``Idempotency-Key`` header, and not an upload. A POST that may have reached the
server is never sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from actors._loop import call_on_loop, event_loop
from ollama_actor._errors import (
    CONNECT_FIX,
    READ_FIX,
    TOTAL_FIX,
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    InternalError,
    OllamaError,
    ProtocolError,
    ReadTimeout,
    TotalTimeout,
    cancelled,
)
from ollama_actor._http11 import ResponseParser
from ollama_actor._proxy import Proxy
from ollama_actor._timeout import Timeout

__all__ = ["Call", "Engine", "Origin", "Request", "Sink", "Upload", "replayable"]

logger = logging.getLogger(__name__)

MAX_IDLE_PER_ORIGIN = 32
READ_SIZE = 256 * 1024
"""The most bytes one socket read takes (asyncio's own read size)."""
UPLOAD_PIECE = 256 * 1024
"""How much of an upload the caller's thread reads and hands to the loop at a time."""

_monotonic = time.monotonic  # asyncio's loop.time()

_REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def replayable(method: str, header_names: Iterable[str]) -> bool:
    """Whether a request may be sent again after it may have reached the server (Go's rule)."""
    if method in _REPLAYABLE_METHODS:
        return True
    return any(name.lower() in ("idempotency-key", "x-idempotency-key") for name in header_names)


class Sink(Protocol):
    """Receives one call's events on the loop thread; may raise `OllamaError` to end the call."""

    def on_head(self, status: int, reason: str, headers: dict[str, str]) -> None: ...

    def on_body(self, data: bytes) -> None: ...

    def on_end(self) -> None: ...

    def on_error(self, exc: OllamaError) -> None: ...


@dataclass(frozen=True, slots=True)
class Origin:
    """Where requests go: scheme, host (as on the wire: IDNA, IPv6 in brackets) and port, the
    TLS context for https, and the proxy on the way, if any."""

    scheme: str
    host: str
    port: int
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    proxy: Proxy | None = None

    @property
    def host_header(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host_header}"

    @property
    def key(self) -> tuple[str, str, int, Proxy | None]:
        return (self.scheme, self.host, self.port, self.proxy)

    def target(self, path: str) -> str:
        """The request target: the path, or the absolute URL when an http proxy forwards it."""
        if self.proxy is not None and self.scheme == "http":
            return self.url + path
        return path


class Upload:
    """A request body of ``size`` bytes that ``read(n)`` gives piece by piece, on the caller's
    thread; ``progress(sent)`` (optional) is called there after each piece is handed on."""

    def __init__(
        self,
        read: Callable[[int], bytes],
        size: int,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.read = read
        self.size = size
        self.progress = progress


@dataclass(slots=True)
class Request:
    """A request ready for the wire: the encoded bytes plus what the engine needs to send them.

    ``data`` is the head (and the body, unless an `Upload` sends it); ``replayable`` is
    `replayable` of the method and headers, which decides whether a retry is safe; ``secrets``
    are the credentials it carries, to be hidden in any error (a server may echo them).
    """

    origin: Origin
    method: str
    path: str
    data: bytes = field(repr=False)  # carries the Authorization header: never shown
    timeout: Timeout = field(default_factory=Timeout)
    replayable: bool = False
    upload: Upload | None = field(default=None, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)
    deadline: float | None = None
    """The loop time (``event_loop().time()``) by which the whole request must have ended,
    when its total bound began before this call (a pool's request that moved on from another
    host); None: ``timeout.total`` from when the call begins."""


class Engine:
    """A pool of keep-alive connections and the calls running on them; one per client."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int, Proxy | None], deque[_Connection]] = {}
        self._calls: set[Call] = set()
        self._closed = False

    def start(self, request: Request, sink: Sink) -> Call:
        """Begin a request from any thread; the sink hears about it on the loop thread."""
        call = Call(self, request, sink)
        call_on_loop(call._begin)
        return call

    def close(self) -> None:
        """Cancel running calls and close idle connections (from any thread; returns at once)."""
        call_on_loop(self._close)

    def _close(self) -> None:
        self._closed = True
        for call in list(self._calls):
            call._fail(cancelled("closed"))
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()

    def _take_idle(self, origin: Origin) -> _Connection | None:
        conns = self._idle.get(origin.key)
        while conns:
            conn = conns.pop()
            if conn.usable:
                return conn
        return None

    def _release(self, conn: _Connection, origin: Origin) -> None:
        conns = self._idle.setdefault(origin.key, deque())
        if self._closed or not conn.usable or len(conns) >= MAX_IDLE_PER_ORIGIN:
            conn.close()
        else:
            conn.call = None
            transport = conn.transport
            assert transport is not None
            if not transport.is_reading():  # paused by a slow consumer as the response ended:
                transport.resume_reading()  # idle, it must read (stale bytes close it)
            conns.append(conn)

    def _forget(self, conn: _Connection) -> None:
        for conns in self._idle.values():
            if conn in conns:
                conns.remove(conn)


_read_buffer = memoryview(bytearray(READ_SIZE))
"""Where every connection's socket reads land (loop thread only). Each read is copied out, as
bytes of its own size, before the next: asyncio's own reads would allocate `READ_SIZE` bytes
per read and shrink them, which costs an mmap and page faults per read until the allocator
raises its mmap threshold (in a process that has never freed so large a block)."""


class _Connection(asyncio.BufferedProtocol):
    """One TCP (or TLS) connection; hands every read to the call that currently owns it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.transport: asyncio.Transport | None = None
        self.call: Call | None = None
        self.lost = False
        self.write_paused = False
        self._tunnel: ResponseParser | None = None
        self._tunnel_done: asyncio.Future[None] | None = None

    @property
    def usable(self) -> bool:
        return not self.lost and self.transport is not None and not self.transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return _read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        data = bytes(_read_buffer[:nbytes])
        call = self.call
        if call is not None:
            call._data(data)
        elif self._tunnel is not None:
            self._tunnel_data(data)
        else:
            self.close()  # bytes on an idle connection: nothing sane to do with it

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._tunnel_done is not None and not self._tunnel_done.done():
            cause = f": {_describe(exc)}" if exc is not None else ""
            self._tunnel_done.set_exception(
                ConnectError(f"the proxy closed the connection during CONNECT{cause}")
            )
        call = self.call
        if call is None:
            self.engine._forget(self)
        else:
            call._lost(exc)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.call is not None:
            self.call._writable()

    async def tunnel(self, origin: Origin, proxy: Proxy) -> None:
        """Ask the proxy for a tunnel to ``origin`` (CONNECT); `ConnectError` if refused."""
        loop = event_loop()
        self._tunnel_done = done = loop.create_future()
        where = origin.host_header

        def on_head(status: int, reason: str, headers: dict[str, str]) -> None:
            if not 200 <= status < 300:
                answer = f"{status} {reason}".rstrip()
                raise ConnectError(f"the proxy {proxy.url} refused to CONNECT to {where}: {answer}")

        self._tunnel = ResponseParser(on_head, lambda _: None, lambda: None, head_only=True)
        lines = [f"CONNECT {where} HTTP/1.1", f"Host: {where}"]
        if proxy.authorization is not None:
            lines.append(f"Proxy-Authorization: {proxy.authorization}")
        assert self.transport is not None
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        try:
            await done
        finally:
            self._tunnel = None
            self._tunnel_done = None

    def _tunnel_data(self, data: bytes) -> None:
        """The proxy's answer to CONNECT. Nothing may follow a 2xx head: TLS has the client
        speak first, so any byte (a body, garbage) is the proxy out of step with us."""
        parser, done = self._tunnel, self._tunnel_done
        assert parser is not None
        assert done is not None
        if done.done():  # after the answer, before TLS took the connection over
            self.close()
            return
        try:
            rest = parser.feed(data)
            if parser.complete:
                if rest:
                    raise ProtocolError(
                        f"the proxy sent {len(rest)} bytes after its 2xx answer to CONNECT, "
                        "before TLS began"
                    )
                done.set_result(None)
        except OllamaError as exc:
            done.set_exception(exc)

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.abort()


class Call:
    """One request in flight. Create with `Engine.start`; `cancel` from any thread."""

    __slots__ = (
        "_body_left",
        "_conn",
        "_connect_task",
        "_deadline",
        "_done",
        "_engine",
        "_gate",
        "_in_flight",
        "_last_rx",
        "_loop",
        "_parser",
        "_paused",
        "_received",
        "_retried",
        "_reused",
        "_sink",
        "_timer",
        "_unwritten",
        "request",
    )

    def __init__(self, engine: Engine, request: Request, sink: Sink) -> None:
        self._engine = engine
        self.request = request
        self._sink = sink
        self._loop = event_loop()  # cached: `event_loop()` checks the pid, a syscall per chunk
        self._conn: _Connection | None = None
        self._connect_task: asyncio.Task[None] | None = None
        self._parser: ResponseParser | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None
        self._last_rx = 0.0
        self._received = False
        self._retried = False
        self._reused = False
        self._unwritten = False
        self._paused = False
        self._done = False
        upload = request.upload
        self._body_left = 0 if upload is None else upload.size
        self._in_flight = False
        self._gate = threading.Condition(threading.Lock()) if upload is not None else None

    # -- any thread ---------------------------------------------------------------------------

    def cancel(self, reason: str = "caller") -> None:
        """End the call with `StreamCancelled` and close its connection; returns at once."""
        call_on_loop(self._fail, cancelled(reason))

    def pause_reading(self) -> None:
        """Stop reading from the socket (backpressure), until `resume_reading`."""
        call_on_loop(self._set_paused, True)

    def resume_reading(self) -> None:
        call_on_loop(self._set_paused, False)

    def send_upload(self) -> None:
        """Caller's thread: send the request's `Upload`, piece by piece, as the socket takes it.

        Blocks until the whole body is handed on or the call ends (an early response, an error,
        a cancel); reads at most `UPLOAD_PIECE` bytes ahead of the socket. A file that ends
        before its announced size ends the call with `OllamaError`. Ctrl-C cancels the call.
        """
        upload, gate = self.request.upload, self._gate
        assert upload is not None
        assert gate is not None
        sent = 0
        try:
            while sent < upload.size:
                with gate:
                    while not self._done and (self._in_flight or not self._can_write()):
                        gate.wait(1.0)
                    if self._done:
                        return
                    self._in_flight = True
                want = min(UPLOAD_PIECE, upload.size - sent)
                piece = upload.read(want)[:want]  # never past the Content-Length sent
                if not piece:
                    message = f"the upload ended after {sent} of its {upload.size} bytes"
                    call_on_loop(self._fail, OllamaError(message))
                    return
                sent += len(piece)
                call_on_loop(self._write_piece, piece)
                if upload.progress is not None:
                    upload.progress(sent)
        except BaseException:
            self.cancel("interrupted")
            raise

    # -- loop thread --------------------------------------------------------------------------

    def _begin(self) -> None:
        if self._done:
            return
        engine = self._engine
        if engine._closed:
            self._fail(cancelled("closed"))
            return
        engine._calls.add(self)
        loop = event_loop()
        total = self.request.timeout.total
        self._deadline = self.request.deadline
        if self._deadline is None and total is not None:
            self._deadline = loop.time() + total
        conn = engine._take_idle(self.request.origin)
        if conn is not None:
            self._attach(conn, reused=True)
        else:
            self._connect()

    def _connect(self) -> None:
        loop = event_loop()
        self._connect_task = loop.create_task(self._open())
        self._arm(loop.time())

    async def _open(self) -> None:
        origin = self.request.origin
        proxy = origin.proxy
        loop = event_loop()
        conn: _Connection | None = None
        where = f"Ollama at {origin.url}"
        try:
            if proxy is None:
                _, conn = await loop.create_connection(
                    lambda: _Connection(self._engine),
                    origin.host.strip("[]"),
                    origin.port,
                    ssl=origin.ssl_context,
                    server_hostname=origin.host.strip("[]") if origin.ssl_context else None,
                )
            else:
                where = f"the proxy {proxy.url}"
                _, conn = await loop.create_connection(
                    lambda: _Connection(self._engine),
                    proxy.host.strip("[]"),
                    proxy.port,
                    ssl=proxy.ssl_context,
                    server_hostname=proxy.host.strip("[]") if proxy.ssl_context else None,
                )
                if origin.scheme == "https":
                    await conn.tunnel(origin, proxy)
                    where = f"Ollama at {origin.url} through the proxy {proxy.url}"
                    assert conn.transport is not None
                    assert origin.ssl_context is not None
                    conn.transport = await loop.start_tls(
                        conn.transport,
                        conn,
                        origin.ssl_context,
                        server_hostname=origin.host.strip("[]"),
                    )
        except asyncio.CancelledError:
            if conn is not None:
                conn.close()
            return
        except OllamaError as exc:  # first: a ConnectError is an OSError too
            if conn is not None:
                conn.close()
            self._fail(exc)
            return
        except (OSError, ssl.SSLError) as exc:
            if conn is not None:
                conn.close()
            why = f"{_describe(exc)}{_remedy(exc, direct=proxy is None)}"
            self._fail(ConnectError(f"cannot connect to {where}: {why}"))
            return
        self._connect_task = None
        if self._done:
            conn.close()
        else:
            self._attach(conn, reused=False)

    def _attach(self, conn: _Connection, *, reused: bool) -> None:
        self._reused = reused
        head_only = self.request.method == "HEAD"
        self._parser = ResponseParser(
            self._sink.on_head,
            self._sink.on_body,
            self._complete,
            head_only=head_only,
            paused=self._is_paused,
        )
        transport = conn.transport
        assert transport is not None
        if self._paused:
            transport.pause_reading()
        transport.write(self.request.data)
        # Closing already: the first send failed, so not a byte of the request left. Known
        # before `_conn` is set, so an upload never reads a piece for a head that did not go.
        self._unwritten = transport.is_closing()
        self._conn = conn
        conn.call = self
        self._last_rx = event_loop().time()
        self._arm(self._last_rx)
        if self._gate is not None:
            self._writable()

    def _can_write(self) -> bool:
        """Whether the upload's next piece may go (any thread): the head went on this
        connection, which takes more now. A connection whose head could not be sent gets no
        body: the call is sent again whole on a fresh one."""
        conn = self._conn
        return (
            conn is not None and not self._unwritten and not conn.write_paused and conn.call is self
        )

    def _writable(self) -> None:
        """The socket takes more of the upload (loop thread): wake the uploading thread."""
        gate = self._gate
        if gate is not None:
            self._last_rx = self._loop.time()  # progress: the read bound restarts
            with gate:
                gate.notify()

    def _write_piece(self, piece: bytes) -> None:
        gate = self._gate
        assert gate is not None
        if not self._done and self._conn is not None and self._conn.transport is not None:
            self._conn.transport.write(piece)
            self._body_left -= len(piece)
            self._last_rx = self._loop.time()
        with gate:
            self._in_flight = False
            gate.notify()

    def _data(self, data: bytes) -> None:
        self._last_rx = _monotonic()  # what the loop's time() reads, one call less
        self._received = True
        parser = self._parser
        assert parser is not None
        try:
            parser.feed(data)
        except Exception as exc:
            self._read_failed(exc)

    def _read_failed(self, exc: Exception) -> None:
        """The parser (`OllamaError`) or the sink (a bug) raised on response bytes: end the call."""
        if not isinstance(exc, OllamaError):
            logger.error("a stream sink raised", exc_info=exc)
            internal = InternalError(f"internal error while reading the response: {exc!r}")
            internal.__cause__ = exc
            exc = internal
        self._fail(exc)

    def _complete(self) -> None:
        """The parser saw the end of the response (called from inside `_data`)."""
        if self._done:
            return
        conn, parser = self._conn, self._parser
        sink = self._finish()
        if conn is not None and parser is not None:
            if parser.keep_alive and not self._body_left:
                self._engine._release(conn, self.request.origin)
            else:
                conn.close()
        try:
            sink.on_end()
        except Exception as exc:
            # A bug in a sink must not leave its consumer waiting for an end that never comes.
            logger.exception("a stream sink raised in on_end")
            internal = InternalError(f"internal error at the end of the response: {exc!r}")
            internal.__cause__ = exc
            with contextlib.suppress(Exception):
                sink.on_error(internal)

    def _lost(self, exc: Exception | None) -> None:
        if self._done:
            return
        parser = self._parser
        if parser is not None and self._received:
            try:
                if parser.eof():
                    return
            except OllamaError as error:
                self._fail(error)
                return
            self._fail(ConnectionLost(_lost_message("before the response was complete", exc)))
        elif (
            self._reused
            and not self._retried
            and (self._unwritten or (self.request.replayable and self.request.upload is None))
        ):
            # A pooled connection that failed before any response: safe to try a fresh one.
            self._retried = True
            self._conn = None
            self._parser = None
            self._connect()
        else:
            self._fail(ConnectionLost(_lost_message("before responding", exc)))

    def _is_paused(self) -> bool:
        return self._paused

    def _set_paused(self, paused: bool) -> None:
        if self._paused == paused or self._done:
            return
        self._paused = paused
        if not paused and self._parser is not None:
            try:  # what the parser held back first (it may pause the call again, or end it)
                self._parser.resume()
            except Exception as exc:
                self._read_failed(exc)
            if self._paused or self._done:
                return
        conn = self._conn
        if conn is not None and conn.usable:
            assert conn.transport is not None
            if paused:
                conn.transport.pause_reading()
            else:
                conn.transport.resume_reading()
                self._last_rx = now = event_loop().time()
                self._arm(now)  # a timer that fired during the pause left the read bound off

    def _arm(self, now: float) -> None:
        """Set the one timer at the nearest bound that applies now."""
        timeout = self.request.timeout
        bounds = []
        if self._deadline is not None:
            bounds.append(self._deadline)
        if self._conn is None:
            if timeout.connect is not None:
                bounds.append(now + timeout.connect)
        elif timeout.read is not None and not self._paused:
            bounds.append(self._last_rx + timeout.read)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if bounds:
            self._timer = event_loop().call_at(min(bounds), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._done:
            return
        now = event_loop().time()
        timeout = self.request.timeout
        if self._deadline is not None and now >= self._deadline:
            self._fail(
                TotalTimeout(f"the request took longer than {timeout.total} s in all{TOTAL_FIX}")
            )
        elif self._conn is None and timeout.connect is not None:
            self._fail(
                ConnectTimeout(f"connecting took longer than {timeout.connect} s{CONNECT_FIX}")
            )
        elif timeout.read is not None and not self._paused and now >= self._last_rx + timeout.read:
            if self._body_left and self._received is False:
                self._fail(
                    ReadTimeout(f"Ollama took none of the upload for {timeout.read} s{READ_FIX}")
                )
            else:
                self._fail(ReadTimeout(f"no data from Ollama for {timeout.read} s{READ_FIX}"))
        else:
            self._arm(now)

    def _fail(self, exc: OllamaError) -> None:
        if self._done:
            return
        conn = self._conn
        sink = self._finish()
        if self._connect_task is not None:
            self._connect_task.cancel()
            self._connect_task = None
        if conn is not None:
            conn.call = None
            conn.close()
        try:
            sink.on_error(exc)
        except Exception:
            logger.exception("a stream sink raised in on_error")

    def _finish(self) -> Sink:
        """The call is over: stop its timer, leave its connection, wake an uploading thread;
        the sink, to be told the end. The call lets go of its parser and sink, whose bound
        methods point back at it: no cycle outlives the call for the collector to find."""
        self._done = True
        sink, self._sink = self._sink, _ENDED
        self._parser = None
        self._engine._calls.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._conn is not None:
            self._conn.call = None
        gate = self._gate
        if gate is not None:
            with gate:
                gate.notify()
        return sink


class _Ended:
    """The sink of a call that is over: hears nothing more."""

    def on_head(self, status: int, reason: str, headers: dict[str, str]) -> None:
        pass

    def on_body(self, data: bytes) -> None:
        pass

    def on_end(self) -> None:
        pass

    def on_error(self, exc: OllamaError) -> None:
        pass


_ENDED = _Ended()


def _remedy(exc: BaseException, *, direct: bool) -> str:
    """What to check, for the failures to connect whose cause is common and clear."""
    if isinstance(exc, ConnectionRefusedError):
        if not direct:
            return " (is the proxy running, on that port?)"
        return " (is Ollama running there? `ollama serve` starts it; or pass another URL)"
    if isinstance(exc, socket.gaierror):
        return " (the host name did not resolve: check the URL)"
    if isinstance(exc, ssl.SSLError):
        return " (TLS failed: check the URL's scheme, and the server's certificate)"
    return ""


def _describe(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or repr(exc)


def _lost_message(when: str, exc: Exception | None) -> str:
    cause = f": {_describe(exc)}" if exc is not None else ""
    return f"the server closed the connection {when}{cause}"
