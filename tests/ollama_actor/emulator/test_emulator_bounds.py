"""The emulator's bounds: heads and trailers, JSON depth, blob uploads and the request log.

Users run the emulator in their tests and on their machines, so a client that misbehaves (or a
page that reaches it) must not grow it without limit, stall it, or drop its connection with a
traceback. Memory is measured on an ``EmulatorProcess`` (its own peak and current RSS, from
/proc), with generous bounds.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest

from ollama_actor._json_depth import MAX_DEPTH
from ollama_actor.emulator import Emulator, EmulatorProcess
from ollama_actor.emulator._http import MAX_HEAD, MAX_LINE, BadRequest, RequestParser
from ollama_actor.emulator._log import RequestLog
from ollama_actor.emulator._routes import is_upload

from .wire import connect, exchange, read_response, request_bytes

MIB = 1024 * 1024
GO_TOO_DEEP = '{"error":"invalid character \'[\' exceeded max depth"}'


def memory_mib(pid: int, field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of a process, in MiB."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        pytest.skip("needs Linux's /proc to measure a process's memory")
    for line in status.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} in {status}")


@pytest.fixture
def no_error_logs(caplog):
    caplog.set_level(logging.DEBUG)
    yield
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]


# --- JSON depth ----------------------------------------------------------------------------------


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (nested(100_000).encode(), GO_TOO_DEEP),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, GO_TOO_DEEP.replace("'['", "'{'")),
        (b"[" * 100_000, GO_TOO_DEEP),  # never closed: still the depth, as Go says first
        (
            ('{"model":"llama3.2","messages":[],"options":{"x":' + nested(20_000) + "}}").encode(),
            GO_TOO_DEEP,
        ),
    ],
)
def test_deep_json_gets_gos_400_and_the_connection_goes_on(
    ollama_emulator, no_error_logs, body, message
):
    with connect(ollama_emulator.port) as conn:
        conn.sendall(request_bytes("POST", "/api/chat", body, port=ollama_emulator.port))
        response = read_response(conn)
        assert (response.status, response.body.decode()) == (400, message)
        conn.sendall(request_bytes("GET", "/api/version", port=ollama_emulator.port))
        assert read_response(conn).status == 200
    assert ollama_emulator.last_request("/api/chat").body is None  # logged, its body not kept


def test_nesting_up_to_the_limit_is_served(ollama_emulator):
    # The body is an object (depth 1) holding ``options`` (2) holding the nested arrays.
    def chat(arrays: int):
        body = '{"model":"llama3.2","messages":[],"options":{"x":' + nested(arrays) + "}}"
        return exchange(ollama_emulator.port, "POST", "/api/chat", body.encode())

    assert chat(MAX_DEPTH - 2).status == 200
    assert (chat(MAX_DEPTH - 1).status, chat(MAX_DEPTH - 1).body.decode()) == (400, GO_TOO_DEEP)


def test_brackets_inside_strings_do_not_count(ollama_emulator):
    prompt = "[" * 10_000 + '\\"{' * 1_000
    body = json.dumps({"model": "llama3.2", "prompt": prompt, "stream": False}).encode()
    response = exchange(ollama_emulator.port, "POST", "/api/generate", body)
    assert response.status == 200
    assert ollama_emulator.last_request("/api/generate").body["prompt"] == prompt


def test_a_deep_control_request_is_a_400(ollama_emulator, no_error_logs):
    body = nested(100_000).encode()
    response = exchange(ollama_emulator.port, "POST", "/_emulator/faults", body)
    assert response.status == 400
    assert "exceeded max depth" in response.json()["error"]


# --- heads and trailers --------------------------------------------------------------------------

CHUNKED_HEAD = b"POST /api/show HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
BODY_CHUNK = b'14\r\n{"model":"llama3.2"}\r\n'


@pytest.mark.parametrize(
    "trailer",
    [
        b"X-Endless: " + b"a" * (MAX_LINE - 10),  # a line that does not end by MAX_LINE bytes
        b"X-Many: a\r\n" * (MAX_HEAD // 11 + 1),  # lines that do not end the trailer in time
    ],
    ids=["endless-line", "endless-trailer"],
)
def test_an_unbounded_trailer_gets_400_and_close(ollama_emulator, no_error_logs, trailer):
    # Just past the bound (no more), so that the server has read every byte when it answers.
    with connect(ollama_emulator.port, timeout=10) as conn:
        conn.sendall(CHUNKED_HEAD + BODY_CHUNK + b"0\r\n" + trailer)
        assert read_response(conn).status == 400
        assert conn.rest() == b"400 Bad Request"  # Go's text (no length), then the close


def test_a_bounded_trailer_is_read_and_ignored(ollama_emulator):
    with connect(ollama_emulator.port) as conn:
        conn.sendall(CHUNKED_HEAD + BODY_CHUNK + b"0\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\n")
        response = read_response(conn)
    assert response.status == 200
    assert response.json()["details"]["family"] == "llama"


def test_an_endless_chunk_size_line_gets_400(ollama_emulator):
    with connect(ollama_emulator.port) as conn:
        conn.sendall(CHUNKED_HEAD + b"1" * (MAX_LINE + 1))
        assert read_response(conn).status == 400


PIPELINE = (
    b"\r\n"  # a stray line end before a request, as Go tolerates
    b"POST /api/show HTTP/1.1\r\nHost: h\r\nContent-Length: 20\r\n\r\n"
    b'{"model":"llama3.2"}'
    b"POST /api/show HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n\n"  # bare LF in the head
    b'3;ext=1\r\n{"m\r\n11\r\nodel":"llama3.2"}\r\n0\r\nX-T: 1\r\n\r\n'
    b"POST /api/blobs/sha256:x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    b"POST /api/blobs/sha256:y HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
    b"GET /api/version HTTP/1.1\r\nHost: h\r\n\r\n"
)


def parse_all(data: bytes, piece: int) -> list:
    parser = RequestParser(is_upload)
    requests = []
    for i in range(0, len(data), piece):
        parser.feed(data[i : i + piece])
        while (request := parser.next()) is not None:
            requests.append((request.path, request.body, request.size, request.sha256))
    assert parser.buffered == 0
    return requests


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 64, len(PIPELINE)])
def test_requests_parse_the_same_whatever_the_pieces(piece):
    sha = "sha256:" + hashlib.sha256(b"hello world").hexdigest()
    assert parse_all(PIPELINE, piece) == [
        ("/api/show", b'{"model":"llama3.2"}', 20, None),
        ("/api/show", b'{"model":"llama3.2"}', 20, None),
        ("/api/blobs/sha256:x", b"", 11, sha),
        ("/api/blobs/sha256:y", b"", 3, "sha256:" + hashlib.sha256(b"abc").hexdigest()),
        ("/api/version", b"", 0, None),
    ]


def test_a_head_sent_a_byte_at_a_time_is_searched_once():
    """Each search starts where the last one stopped: a 60 KiB head costs linear time."""
    parser = RequestParser()
    head = b"GET / HTTP/1.1\r\nHost: h\r\n" + b"X-Pad: " + b"a" * 60_000 + b"\r\n\r\n"
    for i in range(len(head) - 1):
        parser.feed(head[i : i + 1])
        assert parser.next() is None
        assert parser._scanned == i + 1  # the next search starts at the end, less 3 bytes
    parser.feed(head[-1:])
    assert parser.next().path == "/"


def test_a_kept_body_is_still_bounded_but_an_upload_is_not():
    head = b" HTTP/1.1\r\nHost: h\r\nContent-Length: 6000000000\r\n\r\n"
    parser = RequestParser(is_upload)
    parser.feed(b"POST /api/chat" + head)
    with pytest.raises(BadRequest, match="Too Large"):
        parser.next()
    upload = RequestParser(is_upload)
    upload.feed(b"POST /api/blobs/sha256:a" + head)
    assert upload.next() is None  # waiting for the body, hashing what comes


# --- framing Go refuses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "rest"),
    [
        (b"-1", b"x" * MIB),
        (b"+5", b"hello\r\n0\r\n\r\n"),
        (b"0x5", b"hello\r\n0\r\n\r\n"),
        (b"0_5", b"hello\r\n0\r\n\r\n"),
        (b" 5", b"hello\r\n0\r\n\r\n"),
        (b"5 ;ext", b"hello\r\n0\r\n\r\n"),
        (b"0" * 16 + b"5", b"hello\r\n0\r\n\r\n"),
        (b"", b"0\r\n\r\n"),
    ],
    ids=["negative", "plus", "0x", "underscore", "leading-space", "space-before-ext",
         "17-digits", "empty"],
)  # fmt: skip
def test_a_chunk_size_go_refuses_is_a_400(size, rest):
    """Go reads a chunk size as at most 16 hex digits (trailing blanks and an extension cut off).

    Python's ``int(..., 16)`` takes more: ``-1`` made the parser take every byte that came as
    the chunk, with no end and no bound (a stuck request growing without limit).
    """
    parser = RequestParser(is_upload)
    parser.feed(CHUNKED_HEAD + size + b"\r\n" + rest)
    with pytest.raises(BadRequest) as info:
        parser.next()
    assert (info.value.status, str(info.value)) == (400, "Bad Request")


def test_chunk_sizes_go_takes_are_taken():
    body = b'{"model":"llama3.2"}'
    parser = RequestParser(is_upload)
    parser.feed(
        CHUNKED_HEAD
        + b"000000000000000A \t\r\n" + body[:10] + b"\r\n"  # 16 digits, trailing blanks
        + b"a;name=value\r\n" + body[10:] + b"\r\n"
        + b"0\r\n\r\n"
    )  # fmt: skip
    request = parser.next()
    assert (request.body, request.size) == (body, len(body))


@pytest.mark.parametrize(
    "lengths",
    [["\u00b2"], ["+2"], ["2, 2"], ["2", "20"], ["2", ""]],
    ids=["superscript-two", "plus", "list", "two-values", "empty-second"],
)
def test_a_content_length_go_refuses_is_a_400(ollama_emulator, no_error_logs, lengths):
    """Only ASCII digits (``"\u00b2".isdigit()`` is true, and ``int`` then raised in the
    protocol, dropping the connection with a traceback); several only if all are equal."""
    head = "POST /api/show HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"Content-Length: {length}\r\n" for length in lengths)
    with connect(ollama_emulator.port) as conn:
        conn.sendall((head + "\r\n").encode("latin-1") + b"{}")
        response = read_response(conn)
        assert response.status == 400
        assert conn.rest() == b"400 Bad Request"
    assert ollama_emulator.requests == []


def test_equal_content_lengths_are_one(ollama_emulator):
    head = b"POST /api/show HTTP/1.1\r\nHost: localhost\r\n" + b"Content-Length: 20\r\n" * 2
    with connect(ollama_emulator.port) as conn:
        conn.sendall(head + b'\r\n{"model":"llama3.2"}')
        assert read_response(conn).status == 200


def test_two_transfer_encodings_are_refused_as_go_does():
    parser = RequestParser()
    parser.feed(CHUNKED_HEAD.replace(b"\r\n\r\n", b"\r\nTransfer-Encoding: chunked\r\n\r\n"))
    with pytest.raises(BadRequest) as info:
        parser.next()
    assert info.value.status == 501


# --- blob uploads --------------------------------------------------------------------------------

BLOCK = bytes(range(256)) * 4096  # 1 MiB


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_large_blob_upload_is_hashed_as_it_arrives(chunked):
    blocks = 320
    digest = hashlib.sha256()
    for _ in range(blocks):
        digest.update(BLOCK)
    name = "sha256:" + digest.hexdigest()
    with EmulatorProcess() as emulator:
        before = memory_mib(emulator.pid, "VmHWM")
        with connect(emulator.port, timeout=60) as conn:
            framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {blocks * MIB}"
            conn.sendall(
                f"POST /api/blobs/{name} HTTP/1.1\r\nHost: 127.0.0.1\r\n{framing}\r\n\r\n".encode()
            )
            for _ in range(blocks):
                conn.sendall(b"100000\r\n" + BLOCK + b"\r\n" if chunked else BLOCK)
            if chunked:
                conn.sendall(b"0\r\n\r\n")
            response = read_response(conn)
        grown = memory_mib(emulator.pid, "VmHWM") - before
        assert response.status == 201, response.body
        assert emulator.last_request().body_size == blocks * MIB
        assert exchange(emulator.port, "HEAD", f"/api/blobs/{name}").status == 200
    assert grown < 64, f"the emulator's peak memory grew by {grown:.0f} MiB for a 320 MiB upload"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_the_body_of_a_refused_request_is_not_kept(chunked):
    """A page on another site can POST a body of any size (``fetch`` with ``no-cors``): the
    emulator kept it whole (up to 512 MiB) only to answer 403. Ollama refuses at the head."""
    blocks = 160
    origin = "Origin: http://evil.example\r\n"
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {blocks * MIB}"
    head = f"POST /_emulator/faults HTTP/1.1\r\nHost: 127.0.0.1\r\n{origin}{framing}\r\n\r\n"
    with EmulatorProcess() as emulator:
        before = memory_mib(emulator.pid, "VmHWM")
        with connect(emulator.port, timeout=60) as conn:
            conn.sendall(head.encode())
            for _ in range(blocks):
                conn.sendall(b"100000\r\n" + BLOCK + b"\r\n" if chunked else BLOCK)
            if chunked:
                conn.sendall(b"0\r\n\r\n")
            assert read_response(conn).status == 403
            conn.sendall(request_bytes("GET", "/api/version", port=emulator.port))
            assert read_response(conn).status == 200  # the connection goes on
        grown = memory_mib(emulator.pid, "VmHWM") - before
    assert grown < 64, f"a refused 160 MiB body grew the emulator's peak by {grown:.0f} MiB"


def test_a_wrong_digest_is_found_as_the_blob_arrives(ollama_emulator):
    name = "sha256:" + "0" * 64
    response = exchange(ollama_emulator.port, "POST", f"/api/blobs/{name}", BLOCK)
    actual = "sha256:" + hashlib.sha256(BLOCK).hexdigest()
    assert response.status == 400
    assert response.json() == {"error": f'digest mismatch, expected "{name}", got "{actual}"'}


# --- the request log -----------------------------------------------------------------------------


def test_the_log_keeps_bodies_within_its_byte_budget():
    """After a few requests the emulator's memory stays flat, however many more bodies come."""
    warm, count, size = 4, 20, 16 * MIB
    body = json.dumps({"model": "nobody", "prompt": "x" * (size - 40)}).encode()
    with EmulatorProcess() as emulator, connect(emulator.port, timeout=60) as conn:
        for i in range(count):
            if i == warm:
                before = memory_mib(emulator.pid, "VmRSS")
            conn.sendall(request_bytes("POST", "/api/generate", body, port=emulator.port))
            assert read_response(conn).status == 404
        grown = memory_mib(emulator.pid, "VmRSS") - before
        logged = emulator.requests
    assert grown < 64, f"{count - warm} more bodies of 16 MiB grew the emulator by {grown:.0f} MiB"
    assert [r.body_size for r in logged] == [len(body)] * count
    kept = [r.body is not None for r in logged]
    assert kept == [False] * (count - 1) + [True]  # the newest fits the 32 MiB budget


def test_the_budget_bounds_memory_for_bodies_that_decode_large():
    """A byte of JSON can decode into a hundred bytes of Python objects (``{}`` is a dict): the
    log keeps bodies as they came and decodes them when read. Decoded and kept, a 10 MiB body of
    ``[{},{},...]`` held about 300 MiB, within a "32 MiB" budget."""
    body = b"[" + b"{}," * (10 * MIB // 3) + b"{}]"
    with EmulatorProcess() as emulator, connect(emulator.port, timeout=60) as conn:
        before = memory_mib(emulator.pid, "VmRSS")
        for _ in range(2):
            conn.sendall(request_bytes("POST", "/api/nothing", body, port=emulator.port))
            assert read_response(conn).status == 404
        grown = memory_mib(emulator.pid, "VmRSS") - before
        sent = json.dumps({"model": "llama3.2", "prompt": "hi", "stream": False}).encode()
        conn.sendall(request_bytes("POST", "/api/generate", sent, port=emulator.port))
        assert read_response(conn).status == 200
        logged = emulator.requests
    assert grown < 64, f"two bodies of 10 MiB grew the emulator by {grown:.0f} MiB"
    assert [r.body_size for r in logged] == [len(body), len(body), len(sent)]
    assert logged[-1].body == {"model": "llama3.2", "prompt": "hi", "stream": False}


def test_the_budget_bounds_memory_for_heads_of_many_small_headers():
    """A header line of four bytes became two strings and a dict slot (about 150 bytes) in the
    log, counted as two: 300 such heads held about 200 MiB."""
    lines = "".join(f"{i:x}:\r\n" for i in range(9_000))
    head = f"GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Same: a\r\n{lines}X-Same: b\r\n\r\n"
    with EmulatorProcess() as emulator, connect(emulator.port, timeout=60) as conn:
        before = memory_mib(emulator.pid, "VmRSS")
        for _ in range(300):
            conn.sendall(head.encode())
            assert read_response(conn).status == 200
        grown = memory_mib(emulator.pid, "VmRSS") - before
        last = emulator.last_request()
    assert grown < 48, f"300 heads of 9,000 headers grew the emulator by {grown:.0f} MiB"
    assert len(last.headers) == 9_002
    assert (last.headers["x-same"], last.headers["host"], last.headers["ff"]) == (
        "a, b",
        "127.0.0.1",
        "",
    )


def test_the_budget_drops_the_oldest_bodies_then_the_oldest_entries():
    log = RequestLog(limit=100, budget=1000)

    def add(path, size):
        body = b'"' + b"x" * (size - 2) + b'"'  # a JSON string of ``size`` bytes
        return log.begin("POST", path, "", [], body=body, size=size)

    add("/a", 400)
    add("/b", 400)
    add("/c", 300)  # 1100 + heads > 1000: /a's body goes
    assert [(r.path, r.body is not None) for r in log.snapshot()] == [
        ("/a", False),
        ("/b", True),
        ("/c", True),
    ]
    add("/d", 5000)  # larger than the whole budget: never kept
    assert log.snapshot("/d")[0].body is None
    log.begin("GET", "/e", "", [("h", "h" * 993)], body=b"", size=0)  # "h:", 993, "\n": 996
    # heads alone pass the budget: the bodies left go, then the oldest entries
    assert [(r.path, r.body) for r in log.snapshot()] == [("/d", None), ("/e", None)]
    assert log._cost == 2 + 998
    assert log.count() == 5


def test_the_entry_limit_and_the_budget_agree():
    log = RequestLog(limit=3, budget=10_000)
    for i in range(50):
        body = b'{"i":%d}' % i
        log.begin("POST", f"/{i}", "", [], body=body.ljust(100), size=100)
    assert [r.body for r in log.snapshot()] == [{"i": 47}, {"i": 48}, {"i": 49}]
    assert log._cost == 3 * (100 + 3)  # each entry: its body and its path
    assert len(log._with_body) == 3
    log.clear()
    assert (log._cost, len(log._with_body), log.snapshot()) == (0, 0, [])


def test_an_in_process_emulator_has_the_same_budget():
    with Emulator() as emulator:
        body = json.dumps({"model": "nobody", "prompt": "y" * (20 * MIB)}).encode()
        for _ in range(3):
            assert exchange(emulator.port, "POST", "/api/generate", body).status == 404
        assert [r.body is not None for r in emulator.requests] == [False, False, True]
