"""Every fault, as a client sees it on the wire, and the request log that records it."""

from __future__ import annotations

import json
import time

import httpx
import ollama
import pytest

from ollama_actor import ConnectionLost, Ollama, ReadTimeout, Timeout
from ollama_actor.emulator import (
    Emulator,
    blank_lines,
    close_before_response,
    coalesce,
    cut,
    delay,
    drip,
    endless_line,
    error_line,
    expected_tokens,
    invalid_utf8,
    long_line,
    malformed_line,
    split,
    stall,
    status,
)

from .wire import Parser, connect, exchange, read_response, request_bytes

GENERATE = {"model": "llama3.2", "prompt": "faults", "options": {"num_predict": 6}}
TOKENS = expected_tokens("llama3.2", "faults", {"num_predict": 6})


def generate(emulator: Emulator, body: dict[str, object] | None = None) -> object:
    return exchange(emulator.port, "POST", "/api/generate", body or GENERATE)


def test_cut_sends_n_chunks_then_eof_without_terminator(ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(cut(after=3), path="/api/generate")
    response = exchange(ollama_emulator.port, "POST", "/api/generate", GENERATE)
    assert response.status == 200
    assert response.chunks is not None
    assert len(response.chunks) == 3
    assert not response.complete
    assert [json.loads(c)["response"] for c in response.chunks] == TOKENS[:3]
    info = ollama_emulator.last_request()
    assert (info.fault, info.lines) == ("cut", 3)
    assert ollama_emulator.wait_until_ended(info.id).outcome == "fault"


def test_cut_after_zero_sends_headers_only(ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(cut(after=0), path="/api/chat")
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "x"}]}
    response = exchange(ollama_emulator.port, "POST", "/api/chat", body)
    assert (response.status, response.chunks, response.complete) == (200, [], False)


def test_stall_holds_the_connection_until_the_client_leaves(ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(stall(after=2), path="/api/generate")
    with connect(ollama_emulator.port, timeout=0.3) as conn:
        conn.sendall(request_bytes("POST", "/api/generate", GENERATE))
        parser = Parser()
        assert len(read_response(conn, max_chunks=2, parser=parser).chunks or []) == 2
        with pytest.raises(TimeoutError):
            read_response(conn, parser=parser)
        info = ollama_emulator.last_request()
        assert ollama_emulator.active_streams() == 1
        assert info.outcome is None
        closed = time.monotonic()
    ended = ollama_emulator.wait_until_ended(info.id)
    assert (ended.outcome, ended.fault, ended.lines) == ("client_closed", "stall", 2)
    assert ended.closed_at is not None
    assert closed <= ended.closed_at < closed + 1.0
    assert ollama_emulator.active_streams() == 0


def test_drip_delays_every_line(ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(drip(0.05), path="/api/generate")
    started = time.monotonic()
    response = exchange(ollama_emulator.port, "POST", "/api/generate", GENERATE)
    assert time.monotonic() - started >= 7 * 0.05 * 0.9
    assert response.complete
    assert len(response.chunks or []) == 7


def test_split_writes_arrive_in_many_small_reads(ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(split(max_bytes=5), path="/api/generate")
    body = {**GENERATE, "options": {"num_predict": 2}}
    response = exchange(ollama_emulator.port, "POST", "/api/generate", body)
    assert response.complete
    assert [o["response"] for o in response.objects()[:-1]] == TOKENS[:2]
    assert len(response.reads) > 50
    assert max(len(r) for r in response.reads) <= 20  # a few pieces may coalesce in the kernel
    assert sum(1 for r in response.reads if len(r) <= 5) > len(response.reads) // 2


def test_coalesce_sends_everything_in_one_write(ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(coalesce(), path="/api/generate")
    response = exchange(ollama_emulator.port, "POST", "/api/generate", GENERATE)
    assert response.complete
    assert len(response.reads) == 1
    assert len(response.chunks or []) == 7


def test_error_line_ends_the_body_with_status_200(ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(error_line(after=2, message="boom <x>"), path="/api/generate")
    response = exchange(ollama_emulator.port, "POST", "/api/generate", GENERATE)
    assert response.status == 200
    assert response.complete
    assert response.chunks is not None
    assert len(response.chunks) == 3
    assert response.chunks[-1] == b'{"error":"boom \\u003cx\\u003e"}\n'
    info = ollama_emulator.last_request()
    assert ollama_emulator.wait_until_ended(info.id).outcome == "complete"


def test_error_line_default_message(ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(error_line(after=0), path="/api/generate")
    response = exchange(ollama_emulator.port, "POST", "/api/generate", GENERATE)
    assert response.objects() == [{"error": "an error was encountered while running the model"}]


def test_malformed_and_invalid_utf8_lines(ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(malformed_line(after=1), path="/api/generate")
    ollama_emulator.inject(invalid_utf8(after=2), path="/api/generate")
    response = exchange(ollama_emulator.port, "POST", "/api/generate", GENERATE)
    lines = response.lines()
    assert lines[1] == b"this is not json\n"
    assert len(lines) == 8
    assert response.complete
    response = exchange(ollama_emulator.port, "POST", "/api/generate", GENERATE)
    bad = response.lines()[2]
    with pytest.raises(UnicodeDecodeError):
        bad.decode()
    assert bad.startswith(b'{"model":"llama3.2","created_at":"')
    assert bad.endswith(b'","done":false}\n')
    assert len(response.lines()) == 8


def test_long_line_is_valid_json_of_the_given_size(ollama_emulator: Emulator) -> None:
    size = 300_000
    ollama_emulator.inject(long_line(after=1, size=size), path="/api/chat")
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "x"}]}
    response = exchange(ollama_emulator.port, "POST", "/api/chat", body)
    long = response.lines()[1]
    assert len(long) == size
    item = json.loads(long)
    assert item["message"]["role"] == "assistant"
    assert set(item["message"]["content"]) == {"a"}
    assert response.chunks is not None
    assert len(response.chunks) > len(response.lines())
    assert response.complete


def test_endless_line_and_endless_blank_lines_run_until_the_client_leaves(
    ollama_emulator: Emulator,
) -> None:
    for fault in (endless_line(after=1), blank_lines(after=1)):
        ollama_emulator.inject(fault, path="/api/generate")
        with connect(ollama_emulator.port) as conn:
            conn.sendall(request_bytes("POST", "/api/generate", GENERATE))
            response = read_response(conn, max_chunks=200)
            assert len(response.chunks or []) >= 200
            info = ollama_emulator.last_request()
        assert ollama_emulator.wait_until_ended(info.id).outcome == "client_closed"
        if fault.kind == "endless_line":
            assert b"\n" not in b"".join((response.chunks or [])[1:])
        else:
            assert set((response.chunks or [])[1:]) == {b"\n"}


def test_counted_blank_lines_then_the_stream_goes_on(ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(blank_lines(after=2, count=3), path="/api/generate")
    response = exchange(ollama_emulator.port, "POST", "/api/generate", GENERATE)
    assert response.chunks is not None
    assert response.chunks[2:5] == [b"\n"] * 3
    assert len(response.chunks) == 10
    assert response.complete


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (429, None, "rate limit exceeded"),
        (500, None, "internal server error"),
        (503, None, "server busy, please try again.  maximum pending requests exceeded"),
        (404, None, "model 'llama3.2' not found"),
        (400, "bad thing", "bad thing"),
    ],
)
def test_status_fault(
    ollama_emulator: Emulator, code: int, text: str | None, expected: str
) -> None:
    ollama_emulator.inject(status(code, text), path="/api/generate")
    response = exchange(ollama_emulator.port, "POST", "/api/generate", GENERATE)
    assert response.status == code
    assert response.header("Content-Type") == "application/json; charset=utf-8"
    assert response.json() == {"error": expected}


def test_delay_holds_the_headers(ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(delay(0.3), path="/api/tags")
    with connect(ollama_emulator.port) as conn:
        started = time.monotonic()
        conn.sendall(request_bytes("GET", "/api/tags"))
        first = conn.recv(10)
        waited = time.monotonic() - started
    assert first.startswith(b"HTTP/1.1 ")
    assert 0.28 <= waited < 2.0


def test_close_before_response(ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(close_before_response(), path="/api/generate")
    with connect(ollama_emulator.port) as conn:
        conn.sendall(request_bytes("POST", "/api/generate", GENERATE))
        assert conn.rest() == b""
    info = ollama_emulator.last_request()
    assert ollama_emulator.wait_until_ended(info.id).outcome == "fault"
    assert ollama_emulator.request_count("/api/generate") == 1


def test_rules_match_path_model_times_and_order(ollama_emulator: Emulator) -> None:
    emulator = ollama_emulator
    emulator.inject(status(500), path="/api/generate", model="qwen3")
    emulator.inject(status(429), path="/api/generate", times=2)
    emulator.inject(status(503), path="/api/generate")
    port = emulator.port
    assert exchange(port, "GET", "/api/tags").status == 200
    codes = [exchange(port, "POST", "/api/generate", GENERATE).status for _ in range(4)]
    assert codes == [429, 429, 503, 200]
    qwen = {**GENERATE, "model": "qwen3:latest"}
    assert exchange(port, "POST", "/api/generate", qwen).status == 500
    emulator.inject(status(500))
    emulator.clear_faults()
    assert exchange(port, "POST", "/api/generate", GENERATE).status == 200
    assert [r.fault for r in emulator.requests] == [
        None,
        "status",
        "status",
        "status",
        None,
        "status",
        None,
    ]


def test_faults_on_non_streamed_replies(ollama_emulator: Emulator) -> None:
    body = {**GENERATE, "stream": False}
    ollama_emulator.inject(error_line(after=0), path="/api/generate")
    response = exchange(ollama_emulator.port, "POST", "/api/generate", body)
    assert response.header("Transfer-Encoding") == "chunked"
    assert response.objects() == [{"error": "an error was encountered while running the model"}]
    ollama_emulator.inject(split(3), path="/api/generate")
    response = exchange(ollama_emulator.port, "POST", "/api/generate", body)
    assert response.json()["done"] is True
    assert len(response.reads) > 10


def test_request_log_records_what_was_asked_and_how_it_ended(ollama_emulator: Emulator) -> None:
    port = ollama_emulator.port
    exchange(port, "POST", "/api/generate", GENERATE, headers={"X-Test": "yes"})
    digest = "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    exchange(port, "POST", f"/api/blobs/{digest}", b"x")
    exchange(port, "GET", "/api/tags?x=1")
    first, blob, tags = ollama_emulator.wait_for_requests(3)
    first = ollama_emulator.wait_until_ended(first.id)
    assert (first.method, first.path, first.body) == ("POST", "/api/generate", GENERATE)
    assert first.headers["x-test"] == "yes"
    assert (first.status, first.outcome, first.lines) == (200, "complete", 7)
    assert first.started_at <= (first.ended_at or 0)
    assert (blob.body, blob.body_size, blob.status) == (None, 1, 201)
    assert (tags.query, tags.body) == ("x=1", None)
    assert ollama_emulator.request_count() == 3
    assert ollama_emulator.request_count("/api/tags") == 1
    assert [r.id for r in ollama_emulator.requests] == [first.id, blob.id, tags.id]
    ollama_emulator.clear_requests()
    assert ollama_emulator.requests == []
    assert ollama_emulator.request_count() == 0
    with pytest.raises(TimeoutError):
        ollama_emulator.wait_for_requests(1, timeout=0.05)


def test_disconnect_is_noticed_at_once_and_generation_stops() -> None:
    with Emulator(token_rate=20) as emulator:
        body = {**GENERATE, "options": {"num_predict": 100}}
        with connect(emulator.port) as conn:
            conn.sendall(request_bytes("POST", "/api/generate", body))
            read_response(conn, max_chunks=2)
            info = emulator.last_request()
            closed = time.monotonic()
        ended = emulator.wait_until_ended(info.id, timeout=2.0)
    assert ended.outcome == "client_closed"
    assert ended.closed_at is not None
    assert 0 <= ended.closed_at - closed < 0.1
    assert ended.lines < 6


def test_unknown_request_id(ollama_emulator: Emulator) -> None:
    with pytest.raises(KeyError):
        ollama_emulator.wait_until_ended(12345, timeout=0.1)


CHAT = {
    "model": "llama3.2",
    "messages": [{"role": "user", "content": "faults"}],
    "stream": False,
}


def test_cut_applies_to_a_reply_that_is_not_streamed(ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(cut(after=3), path="/api/chat")
    response = exchange(ollama_emulator.port, "POST", "/api/chat", CHAT)
    assert response.status == 200
    assert response.chunks is None  # a Content-Length body, cut in its middle
    assert int(response.header("Content-Length") or 0) > 0
    assert not response.complete
    info = ollama_emulator.wait_until_ended(ollama_emulator.last_request("/api/chat").id)
    assert (info.fault, info.outcome) == ("cut", "fault")
    with Ollama(ollama_emulator.base_url, timeout=Timeout(connect=5, read=5)) as client:
        ollama_emulator.inject(cut(after=1), path="/api/chat")
        with pytest.raises(ConnectionLost):
            client.chat(model="llama3.2", messages=CHAT["messages"])
        ollama_emulator.inject(cut(after=1), path="/api/tags")
        with pytest.raises(ConnectionLost):
            client.list_models()


def test_stall_applies_to_a_reply_that_is_not_streamed(ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(stall(after=1), path="/api/generate")
    with connect(ollama_emulator.port, timeout=0.3) as conn:
        conn.sendall(request_bytes("POST", "/api/generate", {**GENERATE, "stream": False}))
        with pytest.raises(TimeoutError):
            read_response(conn)
        info = ollama_emulator.last_request("/api/generate")
        assert info.status == 200  # the headers went out; the body never came
        assert info.outcome is None
    ended = ollama_emulator.wait_until_ended(info.id)
    assert (ended.fault, ended.outcome) == ("stall", "client_closed")
    with Ollama(ollama_emulator.base_url, timeout=Timeout(connect=5, read=0.3)) as client:
        ollama_emulator.inject(stall(after=1), path="/api/generate")
        with pytest.raises(ReadTimeout):
            client.completion(model="llama3.2", prompt="x")


def test_a_reply_without_a_body_gets_its_fault_before_the_headers(
    ollama_emulator: Emulator,
) -> None:
    # copy and delete answer 200 with no body: there is no middle to cut, so a cut or a stall
    # must still fail the call rather than be used up by a complete reply. (A fresh client for
    # each: on a reused connection, a close before any byte is resent once by the client.)
    def fresh() -> Ollama:
        return Ollama(ollama_emulator.base_url, timeout=Timeout(connect=5, read=0.3))

    ollama_emulator.inject(cut(after=1), path="/api/copy")
    with fresh() as client, pytest.raises(ConnectionLost):
        client.copy_model(source="llama3.2", destination="copy")
    ollama_emulator.inject(stall(after=3), path="/api/copy")
    with fresh() as client, pytest.raises(ReadTimeout):
        client.copy_model(source="llama3.2", destination="copy")
    ollama_emulator.inject(cut(after=1), path="/api/delete")
    with fresh() as client, pytest.raises(ConnectionLost):
        client.delete_model(model="copy")
    outcomes = [(r.path, r.fault) for r in ollama_emulator.requests]
    assert outcomes == [("/api/copy", "cut"), ("/api/copy", "stall"), ("/api/delete", "cut")]
    # The official client, as an independent reader, fails the same calls.
    official = ollama.Client(host=ollama_emulator.url, timeout=0.3)
    ollama_emulator.inject(cut(after=1), path="/api/copy")
    with pytest.raises(httpx.RemoteProtocolError):
        official.copy("llama3.2", "copy")
    ollama_emulator.inject(stall(after=1), path="/api/delete")
    with pytest.raises(httpx.ReadTimeout):
        official.delete("llama3.2")
