"""Wire format of the emulator, checked byte by byte over raw sockets."""

from __future__ import annotations

import json
import re
import socket
import time

import httpx
import pytest

from ollama_actor.emulator import Emulator, endless_line, expected_reply, expected_tokens

from .wire import Parser, connect, exchange, read_response, request_bytes

CREATED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$")
METRICS = [
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
]


def test_root_answers_plain_text(ollama_emulator: Emulator) -> None:
    response = exchange(ollama_emulator.port, "GET", "/")
    assert (response.status, response.body) == (200, b"Ollama is running")
    assert response.header("Content-Type") == "text/plain; charset=utf-8"
    assert response.header_names == ["Content-Type", "Date", "Content-Length"]
    head = exchange(ollama_emulator.port, "HEAD", "/")
    assert (head.status, head.body, head.header("Content-Length")) == (200, b"", "17")


def test_version_is_compact_json(ollama_emulator: Emulator) -> None:
    response = exchange(ollama_emulator.port, "GET", "/api/version")
    assert response.body == b'{"version":"0.12.6"}'
    assert response.header("Content-Type") == "application/json; charset=utf-8"
    assert exchange(ollama_emulator.port, "HEAD", "/api/version").status == 200


def test_generate_streams_one_json_line_per_chunk(ollama_emulator: Emulator) -> None:
    prompt = "Why is the sky blue?"
    response = exchange(
        ollama_emulator.port, "POST", "/api/generate", {"model": "llama3.2", "prompt": prompt}
    )
    assert response.status == 200
    assert response.header("Content-Type") == "application/x-ndjson"
    assert response.header("Transfer-Encoding") == "chunked"
    assert response.header("Content-Length") is None
    assert response.complete
    assert response.chunks is not None
    for chunk in response.chunks:
        assert chunk.endswith(b"\n")
        assert chunk.count(b"\n") == 1
    objects = [json.loads(chunk) for chunk in response.chunks]
    tokens = expected_tokens("llama3.2", prompt)
    assert 12 <= len(tokens) <= 20
    assert [o["response"] for o in objects[:-1]] == tokens
    for item in objects[:-1]:
        assert list(item) == ["model", "created_at", "response", "done"]
        assert item["model"] == "llama3.2"
        assert item["done"] is False
        assert CREATED_AT.match(item["created_at"])
    final = objects[-1]
    assert list(final)[:6] == ["model", "created_at", "response", "done", "done_reason", "context"]
    assert final["response"] == ""
    assert (final["done"], final["done_reason"]) == (True, "stop")
    assert all(isinstance(i, int) for i in final["context"])
    assert final["eval_count"] == len(tokens)
    assert all(final[key] > 0 for key in METRICS)


def test_final_chunk_keys_follow_go_struct_order(ollama_emulator: Emulator) -> None:
    response = exchange(
        ollama_emulator.port, "POST", "/api/generate", {"model": "llama3.2", "prompt": "hi"}
    )
    final = json.loads(response.lines()[-1])
    assert list(final) == [
        "model",
        "created_at",
        "response",
        "done",
        "done_reason",
        "context",
        *METRICS,
    ]


def test_chat_stream_shape(ollama_emulator: Emulator) -> None:
    messages = [{"role": "user", "content": "hello there"}]
    response = exchange(
        ollama_emulator.port, "POST", "/api/chat", {"model": "llama3.2", "messages": messages}
    )
    objects = response.objects()
    assert response.chunks is not None
    assert len(response.chunks) == len(objects)
    assert [o["message"]["content"] for o in objects[:-1]] == expected_tokens("llama3.2", messages)
    for item in objects[:-1]:
        assert list(item) == ["model", "created_at", "message", "done"]
        assert list(item["message"]) == ["role", "content"]
        assert item["message"]["role"] == "assistant"
    final = objects[-1]
    assert list(final) == ["model", "created_at", "message", "done", "done_reason", *METRICS]
    assert final["message"] == {"role": "assistant", "content": ""}


def test_go_escaping_and_raw_utf8(ollama_emulator: Emulator) -> None:
    options = {"num_predict": 400}
    tokens = expected_tokens("llama3.2", "escape me", options)
    assert {" <b>", " R&D", " x>y", " 東京", ' "quoted"', "\n"} <= set(tokens)
    response = exchange(
        ollama_emulator.port,
        "POST",
        "/api/generate",
        {"model": "llama3.2", "prompt": "escape me", "options": options},
    )
    body = response.body
    assert b'"response":" \\u003cb\\u003e"' in body
    assert b'"response":" R\\u0026D"' in body
    assert b'"response":" x\\u003ey"' in body
    assert '"response":" 東京"'.encode() in body
    assert b'"response":" \\"quoted\\""' in body
    assert b'"response":"\\n"' in body
    assert b"<" not in body
    assert b">" not in body
    assert b"&" not in body
    assert [o["response"] for o in response.objects()[:-1]] == tokens


def test_stream_false_returns_one_json_object(ollama_emulator: Emulator) -> None:
    response = exchange(
        ollama_emulator.port,
        "POST",
        "/api/generate",
        {"model": "llama3.2", "prompt": "hi", "stream": False},
    )
    assert response.header("Content-Type") == "application/json; charset=utf-8"
    assert response.chunks is None
    assert not response.body.endswith(b"\n")
    body = response.json()
    assert body["response"] == "".join(expected_tokens("llama3.2", "hi"))
    assert list(body)[:6] == ["model", "created_at", "response", "done", "done_reason", "context"]


def test_non_streamed_chat_concatenates_thinking_and_content(ollama_emulator: Emulator) -> None:
    messages = [{"role": "user", "content": "think about it"}]
    response = exchange(
        ollama_emulator.port,
        "POST",
        "/api/chat",
        {"model": "qwen3", "messages": messages, "stream": False},
    )
    plan = expected_reply("qwen3", messages)
    assert plan.thinking
    assert response.json()["message"] == {
        "role": "assistant",
        "content": plan.text,
        "thinking": plan.thinking_text,
    }


def test_thinking_comes_first_and_can_be_turned_off(ollama_emulator: Emulator) -> None:
    port = ollama_emulator.port
    plan = expected_reply("qwen3", "a riddle")
    objects = exchange(
        port, "POST", "/api/generate", {"model": "qwen3", "prompt": "a riddle"}
    ).objects()
    thinking = [o for o in objects[:-1] if "thinking" in o]
    assert [o["thinking"] for o in thinking] == list(plan.thinking)
    assert objects[: len(thinking)] == thinking
    assert all(o["response"] == "" for o in thinking)
    assert [o["response"] for o in objects[len(thinking) : -1]] == list(plan.content)

    body = {"model": "qwen3", "prompt": "a riddle", "think": False}
    objects = exchange(port, "POST", "/api/generate", body).objects()
    assert not any("thinking" in o for o in objects)
    assert [o["response"] for o in objects[:-1]] == expected_tokens("qwen3", "a riddle")

    messages = [{"role": "user", "content": "a riddle"}]
    body = {"model": "qwen3", "messages": messages, "think": "high"}
    chunks = exchange(port, "POST", "/api/chat", body).objects()
    assert list(chunks[0]["message"]) == ["role", "content", "thinking"]
    assert chunks[0]["message"]["content"] == ""


def test_num_predict_and_seed(ollama_emulator: Emulator) -> None:
    port = ollama_emulator.port
    body = {"model": "llama3.2", "prompt": "count", "options": {"num_predict": 5}}
    objects = exchange(port, "POST", "/api/generate", body).objects()
    assert len(objects) == 6
    assert objects[-1]["done_reason"] == "length"
    assert objects[-1]["eval_count"] == 5
    seeded = expected_tokens("llama3.2", "count", {"seed": 7})
    assert seeded != expected_tokens("llama3.2", "count")
    body = {"model": "llama3.2", "prompt": "count", "options": {"seed": 7}}
    assert [
        o["response"] for o in exchange(port, "POST", "/api/generate", body).objects()[:-1]
    ] == seeded


def test_tool_call_then_tool_result(ollama_emulator: Emulator) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the weather in a city",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string"},
                        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    },
                    "required": ["unit", "city"],
                },
            },
        }
    ]
    messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Tokyo?"}]
    body: dict[str, object] = {"model": "llama3.2", "messages": messages, "tools": tools}
    response = exchange(ollama_emulator.port, "POST", "/api/chat", body)
    objects = response.objects()
    assert len(objects) == 2
    call_line = response.lines()[0]
    assert b'"arguments":{"city":"Tokyo","unit":"celsius"}' in call_line
    message = objects[0]["message"]
    assert list(message) == ["role", "content", "tool_calls"]
    assert message["content"] == ""
    (call,) = message["tool_calls"]
    assert re.fullmatch(r"call_[a-z0-9]{8}", call["id"])
    assert list(call["function"]) == ["index", "name", "arguments"]
    assert call["function"]["name"] == "get_weather"
    assert objects[1]["done"] is True

    messages += [
        message,
        {"role": "tool", "content": "11 degrees celsius", "tool_name": "get_weather"},
    ]
    body = {"model": "llama3.2", "messages": messages, "tools": tools, "stream": False}
    answer = exchange(ollama_emulator.port, "POST", "/api/chat", body).json()
    assert "11 degrees celsius" in answer["message"]["content"]
    assert "tool_calls" not in answer["message"]


def test_format_schema_yields_json_content(ollama_emulator: Emulator) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    body = {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "Tell me about Ada"}],
        "format": schema,
        "stream": False,
    }
    content = exchange(ollama_emulator.port, "POST", "/api/chat", body).json()["message"]["content"]
    assert json.loads(content) == {"name": "Ada", "age": 4}


def test_load_and_unload_shortcuts(ollama_emulator: Emulator) -> None:
    port = ollama_emulator.port
    load = exchange(port, "POST", "/api/generate", {"model": "llama3.2"})
    assert load.header("Content-Type") == "application/json; charset=utf-8"
    body = load.json()
    assert list(body) == ["model", "created_at", "response", "done", "done_reason"]
    assert (body["response"], body["done"], body["done_reason"]) == ("", True, "load")
    running = exchange(port, "GET", "/api/ps").json()["models"]
    assert [m["name"] for m in running] == ["llama3.2:latest"]

    unload = exchange(port, "POST", "/api/generate", {"model": "llama3.2", "keep_alive": 0}).json()
    assert unload["done_reason"] == "unload"
    assert exchange(port, "GET", "/api/ps").body == b'{"models":[]}'

    chat = exchange(port, "POST", "/api/chat", {"model": "qwen3", "messages": []}).json()
    assert chat["message"] == {"role": "assistant", "content": ""}
    assert chat["done_reason"] == "load"
    body = {"model": "qwen3", "messages": [], "keep_alive": "0s", "stream": True}
    assert exchange(port, "POST", "/api/chat", body).json()["done_reason"] == "unload"


def test_keep_alive_zero_unloads_after_generation(ollama_emulator: Emulator) -> None:
    port = ollama_emulator.port
    body = {"model": "llama3.2", "prompt": "hi", "keep_alive": "1h"}
    exchange(port, "POST", "/api/generate", body)
    (model,) = exchange(port, "GET", "/api/ps").json()["models"]
    assert list(model) == [
        "name",
        "model",
        "size",
        "digest",
        "details",
        "expires_at",
        "size_vram",
        "context_length",
    ]
    assert model["size_vram"] == model["size"]
    exchange(port, "POST", "/api/generate", {**body, "keep_alive": 0})
    assert exchange(port, "GET", "/api/ps").json() == {"models": []}


def test_embed_and_legacy_embeddings(ollama_emulator: Emulator) -> None:
    port = ollama_emulator.port
    one = exchange(
        port, "POST", "/api/embed", {"model": "nomic-embed-text", "input": "hello"}
    ).json()
    assert list(one) == [
        "model",
        "embeddings",
        "total_duration",
        "load_duration",
        "prompt_eval_count",
    ]
    (vector,) = one["embeddings"]
    assert len(vector) == 16
    assert abs(sum(v * v for v in vector) - 1.0) < 1e-4
    body = {"model": "nomic-embed-text", "input": ["hello", "world"]}
    two = exchange(port, "POST", "/api/embed", body).json()["embeddings"]
    assert two[0] == vector
    assert two[1] != vector
    empty = exchange(port, "POST", "/api/embed", {"model": "nomic-embed-text", "input": []})
    assert empty.body == b'{"model":"nomic-embed-text","embeddings":[]}'
    short = exchange(port, "POST", "/api/embed", {**body, "dimensions": 4}).json()
    assert [len(v) for v in short["embeddings"]] == [4, 4]

    legacy = exchange(
        port, "POST", "/api/embeddings", {"model": "nomic-embed-text", "prompt": "hi"}
    )
    assert list(legacy.json()) == ["embedding"]
    assert len(legacy.json()["embedding"]) == 16
    blank = exchange(port, "POST", "/api/embeddings", {"model": "nomic-embed-text", "prompt": ""})
    assert blank.body == b'{"embedding":[]}'


def test_keep_alive_pipelining_and_chunked_request_bodies(ollama_emulator: Emulator) -> None:
    port = ollama_emulator.port
    body = json.dumps({"model": "llama3.2", "prompt": "hi", "stream": False}).encode()
    chunked = b"%x\r\n%b\r\n%x\r\n%b\r\n0\r\n\r\n" % (5, body[:5], len(body) - 5, body[5:])
    with connect(port) as sock:
        sock.sendall(
            request_bytes("GET", "/api/version", port=port)
            + request_bytes(
                "POST", "/api/generate", chunked, {"Transfer-Encoding": "chunked"}, port
            )
            + request_bytes("GET", "/", port=port)
        )
        first, second, third = (read_response(sock) for _ in range(3))
    assert first.body == b'{"version":"0.12.6"}'
    assert second.json()["response"] == "".join(expected_tokens("llama3.2", "hi"))
    assert third.body == b"Ollama is running"


def test_expect_100_continue(ollama_emulator: Emulator) -> None:
    body = json.dumps({"model": "llama3.2", "prompt": ""}).encode()
    with connect(ollama_emulator.port) as sock:
        head = request_bytes("POST", "/api/generate", body, {"Expect": "100-continue"})
        sock.sendall(head[: -len(body)])
        assert read_response(sock).status == 100
        sock.sendall(body)
        assert read_response(sock).json()["done_reason"] == "load"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
    ],
)
def test_garbage_gets_400_and_close(ollama_emulator: Emulator, raw: bytes, status: int) -> None:
    with connect(ollama_emulator.port) as sock:
        sock.sendall(raw)
        response = read_response(sock)
        text = sock.rest()
    assert response.status == status
    assert text == f"{status} {response.reason}".encode()
    assert response.header("Connection") == "close"
    assert response.header("Content-Type") == "text/plain; charset=utf-8"


def test_connection_close_is_honoured(ollama_emulator: Emulator) -> None:
    with connect(ollama_emulator.port) as sock:
        sock.sendall(request_bytes("GET", "/", headers={"Connection": "close"}))
        response = read_response(sock)
        assert sock.rest() == b""
    assert response.header("Connection") == "close"


def test_pacing_spaces_tokens() -> None:
    with Emulator(token_rate=20, first_token_delay=0.2) as emulator:
        body = {"model": "llama3.2", "prompt": "slow", "options": {"num_predict": 10}}
        with connect(emulator.port) as sock:
            started = time.monotonic()
            sock.sendall(request_bytes("POST", "/api/generate", body))
            parser = Parser()
            first = read_response(sock, max_chunks=1, parser=parser)
            first_at = time.monotonic() - started
            rest = read_response(sock, parser=parser)
            total = time.monotonic() - started
        assert first.status == 200
        assert rest.complete
    assert 0.18 <= first_at < 0.6
    assert 0.65 <= total < 1.5  # 0.2 s + 10 tokens and the final chunk at 20/s = 0.7 s


def test_set_pacing_applies_to_new_streams(ollama_emulator: Emulator) -> None:
    ollama_emulator.set_pacing(token_rate=40)
    started = time.monotonic()
    body = {"model": "llama3.2", "prompt": "x", "options": {"num_predict": 9}, "stream": False}
    assert exchange(ollama_emulator.port, "POST", "/api/generate", body).status == 200
    assert 0.2 <= time.monotonic() - started < 1.0  # 10 paced steps at 40/s
    ollama_emulator.set_pacing(token_rate=None)
    started = time.monotonic()
    exchange(ollama_emulator.port, "POST", "/api/generate", body)
    assert time.monotonic() - started < 0.2


def test_slow_reader_does_not_grow_memory() -> None:
    """A client that stops reading stops the stream (the transport buffer stays bounded)."""
    with Emulator() as emulator:
        emulator.inject(endless_line(after=1), path="/api/generate")
        with connect(emulator.port) as sock:
            sock.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.sendall(
                request_bytes("POST", "/api/generate", {"model": "llama3.2", "prompt": "x"})
            )
            info = emulator.last_request("/api/generate")
            read_response(sock, max_chunks=2)
            time.sleep(0.3)  # steady state: the emulator must have stopped producing
            first = emulator.wait_for_requests(1)[-1].bytes_sent
            time.sleep(0.2)
            second = emulator.wait_for_requests(1)[-1].bytes_sent
            assert second == first
            assert second < 16 << 20
            assert emulator.active_streams() == 1
        assert emulator.wait_until_ended(info.id).outcome == "client_closed"


def test_httpx_reads_the_stream(ollama_emulator: Emulator) -> None:
    with (
        httpx.Client(base_url=ollama_emulator.base_url) as client,
        client.stream("POST", "/generate", json={"model": "llama3.2", "prompt": "hi"}) as response,
    ):
        lines = [json.loads(line) for line in response.iter_lines()]
    assert lines[-1]["done"] is True
