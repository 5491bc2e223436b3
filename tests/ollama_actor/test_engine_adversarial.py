"""The engine against a server that misbehaves on purpose, over real sockets.

Each case is a response a server or a proxy can send; whatever it is, the call ends with the
right result or a clear `OllamaError`, at once, and the next request on the same client gets its
own response: never bytes meant for another request.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import socket
import threading
import time
import zlib

import pytest

from actors._loop import event_loop
from ollama_actor import (
    ConnectionLost,
    DecodeError,
    HTTPError,
    Ollama,
    OllamaError,
    ProtocolError,
    ReadTimeout,
    Timeout,
)
from ollama_actor import _streaming as streaming_module
from ollama_actor._engine import READ_SIZE
from tests.ollama_actor.rawserver import CLOSE, RawServer, chunked, response

BOUNDS = Timeout(connect=5, read=5, total=20)


def version_body(n: int) -> bytes:
    return json.dumps({"version": str(n)}).encode()


def good(request) -> list:
    return [response(version_body(len_of(request)))]


def len_of(request) -> int:
    return request.number


class Scripted(RawServer):
    """Answers request number 0 with ``first`` and every later one with its own number."""

    def __init__(self, first):
        self.first = first

        def respond(request):
            request.number = len(self.requests) - 1
            if request.number == 0:
                return first(request)
            return good(request)

        super().__init__(respond)


EVIL = response(b'{"version":"evil"}')

# name -> (the first response, what the first call gives: a version string or an error type)
MISBEHAVIOURS = {
    "100 Continue before the response": (
        lambda r: [b"HTTP/1.1 100 Continue\r\n\r\n", response(version_body(0))],
        "0",
    ),
    "103 Early Hints with headers, in separate reads": (
        lambda r: [
            b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
            0.05,
            b"HTTP/1.1 100 Continue\r\n\r\n",
            0.05,
            response(version_body(0)),
        ],
        "0",
    ),
    "1xx with bare LF line ends": (
        lambda r: [b"HTTP/1.1 100 Continue\n\n" + response(version_body(0))],
        "0",
    ),
    "a second response right after the first": (
        lambda r: [response(version_body(0)) + EVIL],
        "0",
    ),
    "a second response after a pause": (
        lambda r: [response(version_body(0)), 0.1, EVIL],
        "0",
    ),
    "101 Switching Protocols nobody asked for": (
        lambda r: [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n" + EVIL],
        ProtocolError,
    ),
    "six interim responses": (
        lambda r: [b"HTTP/1.1 100 Continue\r\n\r\n" * 6 + EVIL],
        ProtocolError,
    ),
    "garbage instead of a response": (
        lambda r: [b"\x00\x01\x02garbage\r\n\r\n" + EVIL],
        ProtocolError,
    ),
    "a body cut short": (
        lambda r: [b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"version"', CLOSE],
        ConnectionLost,
    ),
    "chunked and Content-Length both": (
        lambda r: [
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'f\r\n{"version":"0"}\r\n0\r\n\r\n' + EVIL
        ],
        "0",
    ),
    "bytes after the chunked terminator": (
        lambda r: [chunked([version_body(0)]) + EVIL],
        "0",
    ),
    "a 204 with a body": (lambda r: [b"HTTP/1.1 204 No Content\r\n\r\n" + EVIL], DecodeError),
}


@pytest.mark.parametrize("case", list(MISBEHAVIOURS))
def test_the_next_request_never_sees_another_requests_bytes(case):
    first, expected = MISBEHAVIOURS[case]
    with Scripted(first) as server, Ollama(server.url, timeout=BOUNDS) as client:
        if isinstance(expected, str):
            assert client.version() == {"version": expected}
        else:
            with pytest.raises(expected):
                client.version()
        time.sleep(0.2)  # a late second response arrives while the connection is idle
        for _ in range(3):
            n = len(server.requests)
            assert client.version() == {"version": str(n)}


def test_head_response_with_a_body_is_not_reused():
    def respond(request):
        if request.method == "HEAD":
            return [b"HTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\n" + b'{"version":"evil"}']
        return [response(version_body(len(server.requests)))]

    with RawServer(respond) as server, Ollama(server.url, timeout=BOUNDS) as client:
        assert client.check_blob("sha256:" + "0" * 64) is True
        assert client.version() == {"version": "2"}
        assert server.connections == 2


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_pooled_connection_closed_after_reading_the_request(method):
    """Go's rule: a GET is sent again on a fresh connection; a POST is never sent twice."""

    def respond(request):
        if request.index == 1:  # the second request on a kept-alive connection
            return [CLOSE]
        body = b'{"version":"1"}' if request.method == "GET" else b'{"model":"m"}'
        return [response(body)]

    with RawServer(respond) as server, Ollama(server.url, timeout=BOUNDS) as client:
        call = client.version if method == "GET" else lambda: client.show_model(model="m")
        call()
        if method == "GET":
            assert call() == {"version": "1"}
            assert server.count("GET") == 3  # the first, the lost one, and its one retry
            assert server.connections == 2
        else:
            with pytest.raises(ConnectionLost, match="before responding"):
                call()
            assert server.count("POST") == 2  # never a third: the lost one was not resent
            assert server.connections == 1


def test_a_post_is_sent_again_only_if_it_never_left():
    """A pooled connection that cannot send at all: not a byte left, so a retry is safe."""
    with RawServer(lambda r: [response(b'{"model":"m"}')], hold_half_closed=True) as server:
        with Ollama(server.url, timeout=BOUNDS) as client:
            client.show_model(model="m")
            (conns,) = client._engine._idle.values()
            sock = conns[0].transport.get_extra_info("socket")
            sock.shutdown(socket.SHUT_WR)  # our side can no longer send
            assert client.show_model(model="m") == {"model": "m"}
        assert server.count("POST") == 2
        assert server.connections == 2


def test_a_post_with_an_idempotency_key_may_be_sent_again():
    def respond(request):
        if request.index == 1:
            return [CLOSE]
        return [response(b'{"model":"m"}')]

    with RawServer(respond) as server:
        with Ollama(server.url, timeout=BOUNDS, headers={"Idempotency-Key": "k1"}) as client:
            client.show_model(model="m")
            assert client.show_model(model="m") == {"model": "m"}
        assert server.count("POST") == 3


# -- parser hygiene, over a socket --------------------------------------------------------------

OK = b"HTTP/1.1 200 OK\r\n"
CHUNKED = OK + b"Transfer-Encoding: chunked\r\n\r\n"

HYGIENE = {
    "non-ASCII digit in Content-Length": b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n{}",
    "a NEL after the Content-Length": b"HTTP/1.1 200 OK\r\nContent-Length: 2\x85\r\n\r\n{}",
    "a four-digit status": b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n{}",
    "a two-digit status": b"HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\n{}",
    "HTTP/1.12": b"HTTP/1.12 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    "HTTP/2.0": b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    "differing Content-Lengths": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x"
    ),
    "xchunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "chunked not last": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    ),
    "chunk size +2": CHUNKED + b"+2\r\n{}\r\n0\r\n\r\n",
    "chunk size 0x2": CHUNKED + b"0x2\r\n{}\r\n0\r\n\r\n",
    "chunk size 0_2": CHUNKED + b"0_2\r\n{}\r\n0\r\n\r\n",
    "chunk size -2": CHUNKED + b"-2\r\n{}\r\n0\r\n\r\n",
    "a head line with a bare CR": b"HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 2\r\n\r\n{}",
    "a header name that is not a token": OK + b"X(Y): 1\r\nContent-Length: 2\r\n\r\n{}",
    "a fold before any header": b"HTTP/1.1 200 OK\r\n  folded\r\nContent-Length: 2\r\n\r\n{}",
    "a head of 70 KiB in one read": (
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 12000 + b"Content-Length: 2\r\n\r\n{}"
    ),
}


@pytest.mark.parametrize("case", list(HYGIENE))
def test_malformed_responses_end_at_once_with_protocol_error(case, caplog):
    wire = HYGIENE[case]
    with (
        RawServer(lambda r: [wire, 30.0]) as server,  # then silence: no end of the connection
        Ollama(server.url, timeout=Timeout(connect=5, read=30)) as client,
    ):
        started = time.monotonic()
        with caplog.at_level(logging.DEBUG), pytest.raises(ProtocolError) as info:
            client.version()
        assert time.monotonic() - started < 5  # at once, not at the read timeout
    assert "internal error" not in str(info.value)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


LENIENT = {
    "identical duplicate Content-Lengths": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\nContent-Length: 17, 17\r\n\r\n"
    ),
    "a folded header line": b"HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nContent-Length: 17\r\n\r\n",
    "bare LF line ends": b"HTTP/1.1 200 OK\nContent-Length: 17\n\n",
    "bare LF then CRLF": b"HTTP/1.1 200 OK\r\nContent-Length: 17\n\r\n",
    "no reason phrase": b"HTTP/1.1 200\r\nContent-Length: 17\r\n\r\n",
    "HTTP/1.0 keep-alive": (
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 17\r\n\r\n"
    ),
}


@pytest.mark.parametrize("case", list(LENIENT))
def test_responses_rfc_9112_says_to_accept(case):
    head = LENIENT[case]
    with (
        RawServer(lambda r: [head + b'{"version":"1.0"}', 30.0]) as server,
        Ollama(server.url, timeout=Timeout(connect=5, read=30)) as client,
    ):
        started = time.monotonic()
        assert client.version() == {"version": "1.0"}
        assert time.monotonic() - started < 5


def test_a_head_larger_than_the_cap_across_many_reads():
    pieces = [b"HTTP/1.1 200 OK\r\n"] + [b"X: y\r\n" * 100, 0.001] * 120
    with (
        RawServer(lambda r: pieces) as server,
        Ollama(server.url, timeout=BOUNDS) as client,
        pytest.raises(ProtocolError, match="head larger"),
    ):
        client.version()


def test_an_endless_trailer_section_is_bounded():
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n"
    with (
        RawServer(lambda r: [wire] + [b"X-T: y\r\n" * 1000] * 20) as server,
        Ollama(server.url, timeout=BOUNDS) as client,
        pytest.raises(ProtocolError),
    ):
        client.version()


# -- content coding -----------------------------------------------------------------------------

LINES = [
    json.dumps({"model": "m", "response": f"tok{i} ", "done": False}).encode() + b"\n"
    for i in range(200)
] + [json.dumps({"model": "m", "response": "", "done": True}).encode() + b"\n"]
EXPECTED = "".join(f"tok{i} " for i in range(200))


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


CODINGS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "deflate-raw": raw_deflate,
    "gzip, gzip": lambda data: gzip.compress(gzip.compress(data)),
    "identity": lambda data: data,
}


@pytest.mark.parametrize("coding", list(CODINGS))
@pytest.mark.parametrize("piece", [7, 1000, 1 << 20])
def test_encoded_streams_are_decoded_incrementally(coding, piece):
    encoded = CODINGS[coding](b"".join(LINES))
    name = "deflate" if coding == "deflate-raw" else coding
    pieces = [encoded[i : i + piece] for i in range(0, len(encoded), piece)]
    wire = chunked(pieces, headers=f"Content-Encoding: {name}\r\n")
    with RawServer(lambda r: [wire]) as server, Ollama(server.url, timeout=BOUNDS) as client:
        chunks = list(client.completion(model="m", prompt="x", stream=True))
        assert "".join(c["response"] for c in chunks) == EXPECTED
        assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"


def test_an_encoded_whole_response_and_error_body():
    body = gzip.compress(b'{"version":"0.9"}')
    error = gzip.compress(b'{"error":"model \'m\' not found"}')

    def respond(request):
        if request.method == "GET":
            return [response(body, headers="Content-Encoding: gzip\r\n")]
        return [response(error, "404 Not Found", headers="Content-Encoding: gzip\r\n")]

    with RawServer(respond) as server, Ollama(server.url, timeout=BOUNDS) as client:
        assert client.version() == {"version": "0.9"}
        with pytest.raises(OllamaError, match="model 'm' not found"):
            client.show_model(model="m")


@pytest.mark.parametrize(
    ("coding", "body", "match"),
    [
        ("br", b"\x1b\x00\x00", "'br', which was not asked for"),
        ("gzip, zstd", b"xx", "'zstd'"),
        ("gzip", b"not gzip at all", "corrupt"),
        ("gzip", gzip.compress(b'{"version":"0.9"}', mtime=0)[:-6], "cut short"),
    ],
)
def test_bad_content_coding_is_a_clear_decode_error(coding, body, match):
    wire = response(body, headers=f"Content-Encoding: {coding}\r\n")
    with RawServer(lambda r: [wire]) as server, Ollama(server.url, timeout=BOUNDS) as client:
        with pytest.raises(DecodeError, match=match):
            client.version()
        with pytest.raises(DecodeError, match=match):
            list(client.completion(model="m", prompt="x", stream=True))


def test_a_decompression_bomb_in_a_whole_response_is_cut_by_max_body():
    bomb = gzip.compress(b" " * (64 << 20))  # 64 MiB of JSON whitespace, 64 KiB on the wire
    wire = response(bomb, headers="Content-Encoding: gzip\r\n")
    with (
        RawServer(lambda r: [wire, 30.0]) as server,
        Ollama(server.url, timeout=BOUNDS, max_body=1 << 20) as client,
        pytest.raises(DecodeError, match="exceeds the 1048576-byte limit"),
    ):
        client.version()


def test_a_decompression_bomb_is_cut_by_the_line_bound():
    bomb = gzip.compress(b"x" * (64 << 20))  # 64 MiB of one line, 64 KiB on the wire
    wire = chunked([bomb], headers="Content-Encoding: gzip\r\n")
    with (
        RawServer(lambda r: [wire]) as server,
        Ollama(server.url, timeout=BOUNDS, max_line=1 << 20) as client,
        pytest.raises(OllamaError, match="exceeds"),
    ):
        list(client.completion(model="m", prompt="x", stream=True))


# -- a consumer that pauses the socket ----------------------------------------------------------

STREAM_LINES = [
    json.dumps({"model": "m", "response": "x", "done": False}).encode() + b"\n" for _ in range(20)
]


@pytest.fixture
def low_watermarks(monkeypatch):
    """A consumer that falls 8 chunks behind pauses the socket (4096 in real use)."""
    monkeypatch.setattr(streaming_module, "_HIGH_WATER", 8)
    monkeypatch.setattr(streaming_module, "_LOW_WATER", 2)


def loop_has_caught_up() -> None:
    """Wait until the loop thread has handled what it was doing (the read now being parsed)."""
    done = threading.Event()
    event_loop().call_soon_threadsafe(done.set)
    assert done.wait(5)


def bounded(work, seconds: float):
    """Run ``work`` on a thread; its result or exception, or a failure if it has not ended."""
    box: list = []

    def run():
        try:
            box.append(("ok", work()))
        except BaseException as exc:  # handed to the test
            box.append(("raised", exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert box, f"still waiting after {seconds} s: a wait without a bound"
    return box[0]


def test_a_connection_paused_as_its_response_ended_is_pooled_reading(low_watermarks):
    """The response ends in the read that made the consumer pause: the pooled connection must
    not stay paused, or the next request waits for the read timeout for an answer it never reads."""
    done = json.dumps({"model": "m", "response": "", "done": True}).encode() + b"\n"
    whole = chunked([b"".join(STREAM_LINES) + done])

    def respond(request):
        return [whole] if request.target.endswith("/generate") else [response(b'{"version":"1"}')]

    with RawServer(respond) as server, Ollama(server.url, timeout=BOUNDS) as client:
        chunks = iter(client.completion(model="m", prompt="x", stream=True))
        next(chunks)
        loop_has_caught_up()  # the whole response was parsed while this thread did not read
        assert len(list(chunks)) == 20
        assert bounded(client.version, 3) == ("ok", {"version": "1"})
        assert server.connections == 1  # it was reused


def test_the_read_bound_applies_again_after_a_long_pause(low_watermarks):
    """A consumer slower than the read timeout, then a server that stalls: a `ReadTimeout`,
    not an iteration that never ends (there is no total bound by default)."""
    stalled = chunked(STREAM_LINES)[: -len(b"0\r\n\r\n")]

    with (
        RawServer(lambda r: [stalled, 60.0]) as server,
        Ollama(server.url, timeout=Timeout(connect=5, read=0.5)) as client,
    ):
        chunks = client.completion(model="m", prompt="x", stream=True)
        next(chunks)
        loop_has_caught_up()
        time.sleep(1.0)  # the consumer is busy elsewhere for longer than the read bound
        outcome, value = bounded(lambda: list(chunks), 10)
        chunks.cancel()
        assert outcome == "raised"
        assert isinstance(value, ReadTimeout)


# -- error bodies --------------------------------------------------------------------------------


def endless_error(request):
    """A 500 whose body never ends: 16 KiB every 10 ms, for a minute."""
    yield b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
    yield b"10\r\n" + b'{"error":"boom"}' + b"\r\n"
    for _ in range(6000):
        yield b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
        yield 0.01


def endless_gzip_error(request):
    """The same, gzip-encoded: each piece on the wire inflates to 16 MiB (a decompression bomb
    that goes on)."""
    encoder = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    zeros = b"\0" * (16 << 20)
    yield b"HTTP/1.1 500 Internal Server Error\r\nContent-Encoding: gzip\r\n"
    yield b"Transfer-Encoding: chunked\r\n\r\n"
    for data in [b'{"error":"boom"}', *[zeros] * 6000]:
        piece = encoder.compress(data) + encoder.flush(zlib.Z_SYNC_FLUSH)
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
        yield 0.01


@pytest.mark.parametrize("respond", [endless_error, endless_gzip_error])
@pytest.mark.parametrize("stream", [False, True])
def test_an_error_body_is_bounded(respond, stream):
    """Only the first 64 KiB of an error body are wanted: past them the call ends with the
    `HTTPError`, not when (if ever) the server stops sending."""
    with (
        RawServer(respond) as server,
        Ollama(server.url, timeout=Timeout(connect=5, read=5)) as client,
    ):
        if stream:
            outcome, value = bounded(
                lambda: list(client.completion(model="m", prompt="x", stream=True)), 10
            )
        else:
            outcome, value = bounded(client.version, 10)
        assert outcome == "raised"
        assert isinstance(value, HTTPError)
        assert value.status == 500
        assert str(value).startswith('{"error":"boom"}')


@pytest.mark.parametrize("coding", ["gzip", "deflate", "gzip, gzip"])
@pytest.mark.parametrize("framing", ["chunked", "length, then close", "close-delimited"])
def test_an_encoded_stream_still_pauses_for_a_consumer_that_does_not_read(coding, framing):
    """Content coding must not defeat backpressure: a few KiB on the wire inflate to 200,000
    lines, and a consumer that does not read holds a bounded number of them, not all. The end
    of the response (or of the connection) waits with them and comes once they are read."""
    line = json.dumps({"model": "m", "response": "x", "done": False}).encode() + b"\n"
    done = json.dumps({"model": "m", "response": "", "done": True}).encode() + b"\n"
    body = CODINGS[coding](line * 200_000 + done)
    if framing == "chunked":
        wire = [chunked([body], headers=f"Content-Encoding: {coding}\r\n")]
    elif framing == "length, then close":
        wire = [response(body, headers=f"Content-Encoding: {coding}\r\n"), CLOSE]
    else:
        wire = [f"HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\n\r\n".encode() + body, CLOSE]

    def respond(request):
        return wire if request.target.endswith("/generate") else [response(b'{"version":"1"}')]

    with RawServer(respond) as server, Ollama(server.url, timeout=BOUNDS) as client:
        chunks = client.completion(model="m", prompt="x", stream=True)
        next(chunks)
        loop_has_caught_up()  # the whole body was read while this thread did not take a chunk
        held = len(chunks._iteration._items)
        assert held < 20_000  # 4096 and what one decoded piece (256 KiB) holds
        assert sum(1 for _ in chunks) == 200_000
        assert chunks.response["response"] == "x" * 200_000
        assert client.version() == {"version": "1"}
        reused = framing == "chunked"  # the connection went back to the pool at the end
        assert server.connections == (1 if reused else 2)


def test_each_read_is_handed_on_as_bytes_of_its_own():
    """Connections read into one shared buffer; what a read hands on must not change with the
    next read on any connection (a decoder keeps a partial line across reads)."""
    from ollama_actor._engine import Engine, _Connection

    kept: list[bytes] = []

    class Keeper:
        def _data(self, data: bytes) -> None:
            kept.append(data)

    first, second = _Connection(Engine()), _Connection(Engine())
    first.call = second.call = Keeper()  # type: ignore[assignment]
    for conn, piece in ((first, b'{"a": "partial'), (second, b"X" * 64), (first, b' line"}\n')):
        buffer = conn.get_buffer(-1)
        buffer[: len(piece)] = piece
        conn.buffer_updated(len(piece))
    assert kept == [b'{"a": "partial', b"X" * 64, b' line"}\n']
    assert all(type(data) is bytes for data in kept)


def consume_slowly(chunks, sink_of) -> tuple[int, int]:
    """Iterate ``chunks`` (by ``for``, or ``async for`` if it is a coroutine function's
    argument), a little slower than the socket; the chunks seen and the most held queued."""
    peak = count = 0

    def seen() -> None:
        nonlocal peak, count
        count += 1
        peak = max(peak, len(sink_of(chunks)._items))
        if count % 50 == 0:
            time.sleep(0.001)

    if sink_of is sync_sink:
        for _ in chunks:
            seen()
    else:

        async def consume() -> None:
            async for _ in chunks:
                seen()

        asyncio.run(consume())
    return count, peak


def sync_sink(chunks):
    return chunks._iteration


def Async_sink(chunks):
    return chunks._async_iteration


@pytest.mark.parametrize("sink_of", [sync_sink, Async_sink], ids=["for", "async for"])
def test_a_slow_consumer_holds_a_bounded_number_of_chunks_however_the_reads_fall(
    low_watermarks, sink_of
):
    """The consumer drains below the low mark while the loop still hands on the lines of the
    read that made it pause, and that read fills past the high mark again: the socket must be
    paused afterwards, not left reading for a consumer that holds ever more chunks."""
    line = json.dumps({"model": "m", "response": "x" * 200, "done": False}).encode() + b"\n"
    done = json.dumps({"model": "m", "response": "", "done": True}).encode() + b"\n"
    wire = chunked([line * 1000] * 30 + [done])
    per_read = READ_SIZE // len(line) + 1  # lines one read hands on after the pause

    with RawServer(lambda r: [wire]) as server, Ollama(server.url, timeout=BOUNDS) as client:
        chunks = client.completion(model="m", prompt="x", stream=True)
        count, peak = consume_slowly(chunks, sink_of)
        assert count == 30_001
        assert peak <= 8 + 2 * per_read, f"{peak} chunks held: the socket was not paused"
