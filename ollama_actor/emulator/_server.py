"""The HTTP/1.1 server: asyncio protocols (no streams API) running Ollama's routes with faults.

One ``Connection`` per socket parses requests and runs one ``Exchange`` at a time (keep-alive and
pipelining in order). An exchange logs the request, picks a fault, gets the reply, waits for a
generation slot if needed and hands the body to a ``Pump``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import Any

from . import _faults
from ._access import Access
from ._clock import Clock
from ._control import PREFIX as CONTROL_PREFIX
from ._control import Answer, Control
from ._faults import Fault, Rules
from ._gojson import lenient_json
from ._http import BadRequest, Request, RequestParser, refusal, response_head
from ._log import Record, RequestLog
from ._pump import Pacing, Pump, Ticker
from ._reply import NDJSON, Reply, empty, error
from ._routes import Api, is_upload
from ._settings import Settings
from ._slots import QUEUE_FULL, Slots, Ticket
from ._store import Store

HIGH_WATER = 64 * 1024
"""Transport buffer above which a pump stops producing (the client is not keeping up)."""
MAX_PIPELINED = 1 << 20
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Server:
    """The emulator's state and its listening socket; runs on one event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = Clock()
        self.store = Store()
        self.store.load_at_start(settings.loaded)
        self.log = RequestLog(settings.log_limit, settings.log_budget)
        self.access = Access(settings.origins)
        self.rules = Rules()
        self.api = Api(self.store, self.clock, settings.version)
        self.control = Control(settings, self.rules, self.log, lambda: self.active_streams)
        self.active_streams = 0
        self.stopping = False
        self.connections: set[Connection] = set()
        self.slots: Slots | None = None
        self.ticker: Ticker | None = None
        self._listener: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen (SO_REUSEADDR, so a restarted emulator can rebind its port); return the port."""
        loop = asyncio.get_running_loop()
        self.slots = Slots(loop.call_soon, self.settings.num_parallel, self.settings.max_queue)
        self.ticker = Ticker(loop)
        self._listener = await loop.create_server(
            lambda: Connection(self), host, port, reuse_address=True, backlog=4096
        )
        address = self._listener.sockets[0].getsockname()
        self.access.loopback = ipaddress.ip_address(address[0]).is_loopback
        port_: int = address[1]
        return port_

    async def stop(self) -> None:
        """Stop listening and close every connection (their requests end as ``server_stopped``)."""
        self.stopping = True
        if self._listener is not None:
            self._listener.close()
        for connection in list(self.connections):
            connection.abort()
        # Let the aborted transports deliver connection_lost before the loop goes away.
        for _ in range(3):
            await asyncio.sleep(0)
        if self._listener is not None:
            await self._listener.wait_closed()

    def pacing(self) -> Pacing:
        """The current token pacing (read when a generation starts)."""
        rate = self.settings.token_rate
        return Pacing(1.0 / rate if rate else 0.0, self.settings.first_token_delay)

    def answered_before_routing(self, request: Request) -> bool:
        """Whether the Origin and Host rules answer this request (a 403, a preflight): then its
        body is never read, so the parser lets it go as it arrives."""
        return self.access.check(request)[0] is not None

    def exchange(self, connection: Connection, request: Request) -> tuple[Exchange, Answer]:
        """Set up the response to one request (logged, unless it is for the control endpoint).

        Ollama's Origin and Host checks come first, for every path (see `_access`).
        """
        refused, cors = self.access.check(request)
        if request.path.startswith(CONTROL_PREFIX):
            answer = refused or self.control.handle(request)
            return Exchange(self, connection, request, None, None, headers=cors), answer
        record = self.log.begin(
            request.method,
            request.path,
            request.query,
            request.headers,
            body=request.body,
            size=request.size,
        )
        if refused is not None:
            return Exchange(self, connection, request, record, None, headers=cors), refused
        # The model is read only when a fault may be programmed for it: decoding costs.
        model = _model_of(lenient_json(request.body)) if self.rules.active else None
        fault = self.rules.take(request.path, model)
        reply: Reply
        if fault is None:
            reply = self.api.handle(request)
        else:
            record.fault = fault.kind
            if fault.kind == "status":
                reply = error(fault.code, _faults.status_text(fault, model or ""))
            elif fault.kind == "close_before_response":
                reply = empty()
            else:
                reply = self.api.handle(request)
        return Exchange(self, connection, request, record, fault, headers=cors), reply


def _model_of(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("model", "name", "source"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return None


class Exchange:
    """One request and its response, from the handler's answer to the last byte."""

    def __init__(
        self,
        server: Server,
        connection: Connection,
        request: Request,
        record: Record | None,
        fault: Fault | None,
        *,
        headers: list[tuple[str, str]],
    ) -> None:
        self.server = server
        self.connection = connection
        self.request = request
        self.record = record
        self.fault = fault
        self.headers = headers
        """Header lines every answer to this request gets (CORS)."""
        self.reply: Reply | None = None
        self.pump: Pump | None = None
        self.ticket: Ticket | None = None
        self.future: asyncio.Future[Reply] | None = None
        self.stream = False
        self.ended = False
        self.closed_at: float | None = None

    def begin(self, answer: Answer) -> None:
        """Start responding (now, or once a deferred control answer is ready)."""
        if isinstance(answer, Reply):
            self._ready(answer)
        else:
            self.future = answer
            answer.add_done_callback(self._resolved)

    def _resolved(self, future: asyncio.Future[Reply]) -> None:
        if future.cancelled():
            self._finished("client_closed")
        else:
            self._ready(future.result())

    def _ready(self, reply: Reply) -> None:
        slots = self.server.slots
        self.reply = reply
        if reply.slot and slots is not None:
            ticket = slots.acquire(self._start)
            if ticket is None:
                self._start(None, error(503, QUEUE_FULL))
            else:
                self.ticket = ticket
            return
        self._start(None, reply)

    def _start(self, ticket: Ticket | None, reply: Reply | None = None) -> None:
        if ticket is not None:
            self.ticket = ticket
            if self.ended:  # the client left while the grant was on its way
                ticket.cancel()
                return
        if reply is None:
            reply = self.reply
            assert reply is not None
        self.reply = reply
        if self.record is not None:
            self.record.status = reply.status
        server = self.server
        steps = reply.steps()
        chunked = reply.chunked
        pacing = server.pacing() if reply.paced else None
        split: int | None = None
        coalesce = False
        fault = self.fault
        if fault is not None:
            steps = _faults.apply(fault, steps, reply.frame, streamed=reply.chunked)
            chunked = chunked or fault.alters_body
            if fault.kind == "drip":
                pacing = Pacing(fault.interval, fault.interval)
            elif fault.kind == "split":
                split = fault.max_bytes
            elif fault.kind == "coalesce":
                coalesce = True
        self.stream = chunked and reply.content_type == NDJSON
        if self.stream:
            server.active_streams += 1
        close = not self.request.keep_alive
        clock = server.clock
        headers = [*self.headers, *reply.headers]

        def head(chunked: bool, length: int) -> bytes:
            return response_head(
                reply.status,
                reply.content_type,
                clock.http_date(),
                chunked=chunked,
                length=length,
                close=close,
                headers=headers,
            )

        assert server.ticker is not None
        pump = Pump(
            server.ticker,
            self.connection,
            steps,
            head,
            self._finished,
            chunked=chunked,
            pacing=pacing,
            head_only=self.request.method == "HEAD",
            split=split,
            coalesce=coalesce,
        )
        self.pump = pump
        if self.record is not None:
            self.record.progress = lambda: (pump.lines, pump.bytes)
        pump.start()

    def client_gone(self, at: float) -> None:
        """The connection closed: stop whatever this exchange was doing."""
        if self.ended:
            return
        self.closed_at = at
        if self.pump is not None:
            self.pump.abort()
        elif self.future is not None and not self.future.done():
            self.future.cancel()
        else:
            self._finished("client_closed")

    def _finished(self, outcome: str) -> None:
        if self.ended:
            return
        self.ended = True
        server = self.server
        if self.stream:
            server.active_streams -= 1
        if self.ticket is not None:
            self.ticket.cancel()
        reply = self.reply
        if reply is not None and reply.on_end is not None:
            reply.on_end(outcome)
        if outcome == "client_closed" and server.stopping:
            outcome = "server_stopped"
        if self.record is not None:
            closed_at = self.closed_at if outcome == "client_closed" else None
            server.log.end(self.record, outcome, closed_at)
        # The pump calls back here: let go of it, so that this exchange (its request body, its
        # reply) is freed now rather than at some later cycle collection.
        self.pump = None
        self.connection.exchange_done(self, outcome)


class Connection(asyncio.Protocol):
    """One client socket: parses requests, runs their exchanges in order, applies backpressure."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._parser = RequestParser(is_upload, server.answered_before_routing)
        self._transport: asyncio.Transport | None = None
        self._exchange: Exchange | None = None
        self._paused = False
        self._closed = False

    # --- the pump's sink -------------------------------------------------------------------------

    @property
    def writing_paused(self) -> bool:
        """The transport buffer is above the high-water mark."""
        return self._paused

    def write(self, data: bytes) -> None:
        """Send bytes (buffered by the transport if the socket is full); dropped once closing."""
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def abort(self) -> None:
        """Drop the connection at once (a cut, or the server stopping)."""
        if self._transport is not None:
            self._transport.abort()

    # --- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """A client connected."""
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.set_write_buffer_limits(high=HIGH_WATER)
        self._server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        """Bytes arrived: parse and start the next request if none is running."""
        self._parser.feed(data)
        if self._exchange is None:
            self._advance()
        elif self._parser.buffered > MAX_PIPELINED and self._transport is not None:
            self._transport.pause_reading()

    def eof_received(self) -> bool:
        """The client shut its side: like Go, treat it as gone (cancel what it asked for)."""
        self._gone()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """The socket is closed."""
        self._gone()
        self._server.connections.discard(self)

    def pause_writing(self) -> None:
        """The transport buffer passed the high-water mark."""
        self._paused = True

    def resume_writing(self) -> None:
        """The transport buffer drained: let the pump go on."""
        self._paused = False
        exchange = self._exchange
        if exchange is not None and exchange.pump is not None:
            exchange.pump.resume()

    # --- requests --------------------------------------------------------------------------------

    def _gone(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._exchange is not None:
            self._exchange.client_gone(time.monotonic())

    def _advance(self) -> None:
        transport = self._transport
        if self._exchange is not None or self._closed or transport is None:
            return
        try:
            request = self._parser.next()
        except BadRequest as exc:
            transport.write(refusal(exc))
            transport.close()
            self._closed = True
            return
        if request is None:
            if self._parser.continue_due:
                self._parser.continue_due = False
                transport.write(CONTINUE)
            return
        transport.resume_reading()
        exchange, answer = self._server.exchange(self, request)
        self._exchange = exchange
        exchange.begin(answer)

    def exchange_done(self, exchange: Exchange, outcome: str) -> None:
        """The response is over: close, or go on with the next request on this connection."""
        if self._exchange is exchange:
            self._exchange = None
        transport = self._transport
        if transport is None or self._closed:
            return
        if outcome != "complete" or not exchange.request.keep_alive or self._server.stopping:
            self._closed = True
            transport.close()
            return
        if self._parser.buffered:
            asyncio.get_running_loop().call_soon(self._advance)
