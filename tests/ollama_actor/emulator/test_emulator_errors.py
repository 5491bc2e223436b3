"""Every error the emulator answers: status, content type and the exact body bytes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ollama_actor.emulator import Emulator, expected_reply, stall

from .wire import connect, exchange, read_response, request_bytes

JSON = "application/json; charset=utf-8"
MISSING = "sha256:" + "0" * 64
THINK = (
    'invalid think value: \\"x\\" '
    '(must be \\"high\\", \\"medium\\", \\"low\\", \\"max\\", true, or false)'
)
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]

ROWS = [
    # body binding
    ("POST", "/api/generate", b"", 400, '{"error":"missing request body"}'),
    ("POST", "/api/chat", b"  \n", 400, '{"error":"missing request body"}'),
    ("POST", "/api/show", b"", 400, '{"error":"missing request body"}'),
    ("POST", "/api/pull", b"", 400, '{"error":"missing request body"}'),
    (
        "POST",
        "/api/generate",
        b"{x",
        400,
        '{"error":"invalid character \'x\' looking for beginning of object key string"}',
    ),
    (
        "POST",
        "/api/chat",
        b"nope",
        400,
        "{\"error\":\"invalid character 'o' in literal null (expecting 'u')\"}",
    ),
    ("POST", "/api/generate", b'{"model":"llama3.2"', 400, '{"error":"unexpected EOF"}'),
    (
        "POST",
        "/api/generate",
        b'{"model":1}',
        400,
        '{"error":"json: cannot unmarshal number into Go struct field GenerateRequest.model '
        'of type string"}',
    ),
    (
        "POST",
        "/api/generate",
        b"[1]",
        400,
        '{"error":"json: cannot unmarshal array into Go value of type api.GenerateRequest"}',
    ),
    # model required / not found
    ("POST", "/api/chat", {}, 400, '{"error":"model is required"}'),
    ("POST", "/api/chat", b"null", 400, '{"error":"model is required"}'),
    ("POST", "/api/generate", {}, 404, '{"error":"model \'\' not found"}'),
    ("POST", "/api/embed", {}, 404, '{"error":"model \'\' not found"}'),
    ("POST", "/api/embeddings", {}, 400, '{"error":"model is required"}'),
    ("POST", "/api/show", {}, 400, '{"error":"model is required"}'),
    ("POST", "/api/push", {}, 400, '{"error":"model is required"}'),
    ("POST", "/api/pull", {}, 400, '{"error":"invalid model name"}'),
    ("POST", "/api/create", {"from": "llama3.2"}, 400, '{"error":"invalid model name"}'),
    (
        "POST",
        "/api/generate",
        {"model": "nope", "prompt": "x"},
        404,
        '{"error":"model \'nope\' not found"}',
    ),
    ("POST", "/api/chat", {"model": "nope"}, 404, '{"error":"model \'nope\' not found"}'),
    ("POST", "/api/show", {"model": "nope"}, 404, '{"error":"model \'nope\' not found"}'),
    ("POST", "/api/show", {"name": "No-Such"}, 404, '{"error":"model \'No-Such\' not found"}'),
    ("DELETE", "/api/delete", {"model": "nope"}, 404, '{"error":"model \'nope\' not found"}'),
    (
        "POST",
        "/api/copy",
        {"source": "nope", "destination": "x"},
        404,
        '{"error":"model \\"nope\\" not found"}',
    ),
    (
        "POST",
        "/api/embed",
        {"model": "nope", "input": "x"},
        404,
        '{"error":"model \\"nope\\" not found, try pulling it first"}',
    ),
    (
        "POST",
        "/api/embeddings",
        {"model": "nope", "prompt": "x"},
        404,
        '{"error":"model \\"nope\\" not found, try pulling it first"}',
    ),
    # parameters
    ("POST", "/api/generate", {"model": "llama3.2", "think": "x"}, 400, f'{{"error":"{THINK}"}}'),
    (
        "POST",
        "/api/chat",
        {"model": "llama3.2", "keep_alive": "5"},
        400,
        '{"error":"time: missing unit in duration \\"5\\""}',
    ),
    (
        "POST",
        "/api/generate",
        {"model": "llama3.2", "keep_alive": "5x"},
        400,
        '{"error":"time: unknown unit \\"x\\" in duration \\"5x\\""}',
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llama3.2", "top_logprobs": 21},
        400,
        '{"error":"top_logprobs must be between 0 and 20"}',
    ),
    (
        "POST",
        "/api/generate",
        {"model": "llama3.2", "prompt": "x", "raw": True, "system": "s"},
        400,
        '{"error":"raw mode does not support template, system, or context"}',
    ),
    (
        "POST",
        "/api/embed",
        {"model": "nomic-embed-text", "input": ["a", 1]},
        400,
        '{"error":"invalid input type"}',
    ),
    (
        "POST",
        "/api/generate",
        {"model": "llama3.2", "prompt": "x", "options": {"num_predict": "x"}},
        500,
        '{"error":"option \\"num_predict\\" must be of type integer"}',
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llama3.2", "messages": [{"role": "user", "content": "x"}], "format": "xml"},
        500,
        '{"error":"invalid format: \\"\\\\\\"xml\\\\\\"\\"; expected \\"json\\" or a valid JSON '
        'Schema object"}',
    ),
    # capabilities
    (
        "POST",
        "/api/generate",
        {"model": "nomic-embed-text", "prompt": "x"},
        400,
        '{"error":"\\"nomic-embed-text\\" does not support generate"}',
    ),
    (
        "POST",
        "/api/chat",
        {"model": "nomic-embed-text", "messages": []},
        400,
        '{"error":"\\"nomic-embed-text\\" does not support chat"}',
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llama3.2", "think": True},
        400,
        '{"error":"\\"llama3.2\\" does not support thinking"}',
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llava", "messages": [{"role": "user", "content": "x"}], "tools": TOOLS},
        400,
        '{"error":"registry.ollama.ai/library/llava:latest does not support tools"}',
    ),
    (
        "POST",
        "/api/generate",
        {"model": "llama3.2", "prompt": "x", "suffix": "y"},
        400,
        '{"error":"registry.ollama.ai/library/llama3.2:latest does not support insert"}',
    ),
    # management
    (
        "POST",
        "/api/create",
        {"model": "mine"},
        400,
        "{\"error\":\"neither 'from' or 'files' was specified\"}",
    ),
    (
        "POST",
        "/api/copy",
        {"source": "llama3.2", "destination": "bad name"},
        400,
        '{"error":"destination \\"bad name\\" is invalid"}',
    ),
    ("DELETE", "/api/delete", {"model": ""}, 400, '{"error":"name \\"\\" is invalid"}'),
    ("HEAD", "/api/blobs/sha256:abc", None, 400, ""),
    ("POST", "/api/blobs/sha256:abc", b"x", 400, '{"error":"invalid digest format"}'),
    ("POST", "/api/blobs/" + MISSING, b"x", 400, None),
]


@pytest.mark.parametrize("row", ROWS, ids=[f"{r[0]} {r[1]} {r[3]}" for r in ROWS])
def test_error_rows(ollama_emulator: Emulator, row: tuple[Any, ...]) -> None:
    method, path, body, status, expected = row
    response = exchange(ollama_emulator.port, method, path, body)
    assert response.status == status
    assert response.header("Content-Type") == JSON
    if expected is not None:
        assert response.body.decode() == expected


def test_a_null_option_is_skipped_as_ollama_skips_it(ollama_emulator: Emulator) -> None:
    # Ollama's Options.FromMap: ``if val == nil { continue }``, before any type check.
    options = {"temperature": None, "num_predict": None, "stop": None, "use_mmap": None}
    for path, body in (
        ("/api/generate", {"model": "llama3.2", "prompt": "x", "stream": False}),
        ("/api/chat", {"model": "llama3.2", "messages": [], "stream": False}),
        ("/api/embed", {"model": "nomic-embed-text", "input": "x"}),
    ):
        response = exchange(ollama_emulator.port, "POST", path, {**body, "options": options})
        assert response.status == 200, (path, response.body)
    reply = exchange(
        ollama_emulator.port,
        "POST",
        "/api/generate",
        {"model": "llama3.2", "prompt": "x", "stream": False, "options": {"seed": None}},
    )
    assert reply.json()["response"] == expected_reply("llama3.2", "x").text  # as if unset


def test_blob_digest_mismatch_text(ollama_emulator: Emulator) -> None:
    response = exchange(ollama_emulator.port, "POST", "/api/blobs/" + MISSING, b"x")
    actual = "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    assert response.json() == {"error": f'digest mismatch, expected "{MISSING}", got "{actual}"'}


def test_missing_blob_is_404(ollama_emulator: Emulator) -> None:
    head = exchange(ollama_emulator.port, "HEAD", "/api/blobs/" + MISSING)
    body = json.dumps({"error": f'blob "{MISSING}" not found'}, separators=(",", ":"))
    assert (head.status, head.body, head.header("Content-Length")) == (404, b"", str(len(body)))


@pytest.mark.parametrize(
    ("method", "path", "status", "text"),
    [
        ("GET", "/nope", 404, "404 page not found"),
        ("POST", "/api/nope", 404, "404 page not found"),
        ("GET", "/api/generate", 405, "405 method not allowed"),
        ("GET", "/api/show", 405, "405 method not allowed"),
        ("HEAD", "/api/ps", 405, ""),
        ("POST", "/api/tags", 405, "405 method not allowed"),
        ("GET", "/api/blobs/sha256:abc", 405, "405 method not allowed"),
        ("POST", "/", 405, "405 method not allowed"),
    ],
)
def test_unknown_path_and_wrong_method_are_gin_plain_text(
    ollama_emulator: Emulator, method: str, path: str, status: int, text: str
) -> None:
    response = exchange(ollama_emulator.port, method, path)
    assert (response.status, response.body.decode()) == (status, text)
    assert response.header("Content-Type") == "text/plain"


def test_streaming_request_errors_are_plain_json_not_streams(ollama_emulator: Emulator) -> None:
    body = {"model": "nope", "prompt": "x", "stream": True}
    response = exchange(ollama_emulator.port, "POST", "/api/generate", body)
    assert response.status == 404
    assert response.chunks is None
    assert response.header("Content-Type") == JSON


def test_full_queue_answers_503_before_any_stream_byte() -> None:
    messages = [{"role": "user", "content": "hi"}]
    body = {"model": "llama3.2", "messages": messages}
    with Emulator(num_parallel=1, max_queue=2) as emulator:
        emulator.inject(stall(after=1), path="/api/chat")
        port = emulator.port
        running, *queued = (connect(port) for _ in range(3))
        try:
            running.sendall(request_bytes("POST", "/api/chat", body))
            assert len(read_response(running, max_chunks=1).chunks or []) == 1
            for conn in queued:
                conn.sendall(request_bytes("POST", "/api/chat", body))
            emulator.wait_for_requests(3, path="/api/chat")
            rejected = exchange(port, "POST", "/api/chat", body)
            assert rejected.status == 503
            assert rejected.body == (
                b'{"error":"server busy, please try again.  maximum pending requests exceeded"}'
            )
            assert emulator.active_streams() == 1
            running.close()
            for conn in queued:
                response = read_response(conn)
                assert response.status == 200
                assert response.complete
        finally:
            for conn in queued:
                conn.close()
        ended = [emulator.wait_until_ended(r.id) for r in emulator.requests]
        statuses = [(r.status, r.outcome) for r in ended]
        assert statuses == [
            (200, "client_closed"),
            (200, "complete"),
            (200, "complete"),
            (503, "complete"),
        ]


def test_queued_request_leaves_when_its_client_goes() -> None:
    body = {"model": "llama3.2", "prompt": "x"}
    with Emulator(num_parallel=1, max_queue=1) as emulator:
        emulator.inject(stall(after=1), path="/api/generate")
        running = connect(emulator.port)
        running.sendall(request_bytes("POST", "/api/generate", body))
        read_response(running, max_chunks=1)
        with connect(emulator.port) as waiting:
            waiting.sendall(request_bytes("POST", "/api/generate", body))
            queued = emulator.wait_for_requests(2)[-1]
        assert emulator.wait_until_ended(queued.id).outcome == "client_closed"
        with connect(emulator.port) as later:
            # The queue (size 1) has room again: this one waits instead of getting 503.
            later.sendall(request_bytes("POST", "/api/generate", {**body, "stream": False}))
            emulator.wait_for_requests(3)
            running.close()
            assert json.loads(read_response(later).body)["done"] is True
