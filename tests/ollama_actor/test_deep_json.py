"""JSON nested deeper than a decoder follows is a clean `DecodeError`, wherever it comes.

A hostile or broken server answers with ``[[[[...]]]]`` 100,000 levels deep: as a whole response
(``show_model``), as a streamed line, and as an error body (both line decoders are covered in
test_ndjson_decoders). Python's ``json`` raises
``RecursionError`` there (``orjson`` a ``JSONDecodeError``, then retried with ``json``); neither
may escape the client, reach the engine's "internal error" path, or log a traceback.
"""

import logging
import os
import subprocess
import sys
from contextlib import contextmanager

import pytest

from actors import Inbox
from ollama_actor import DecodeError, HTTPError, Ollama
from ollama_actor._json_depth import MAX_DEPTH
from ollama_actor._ndjson import LineDecoder
from tests.ollama_actor.protocol import messages_of
from tests.reliability.test_secure_defaults import tiny_server

DEEP = b"[" * 100_000 + b"]" * 100_000


def _reply(status, body, content_type=b"application/json"):
    head = b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nConnection: close\r\n" % (status, content_type)
    return head + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def _stream_reply(_head):
    good = b'{"model":"m","response":"a","done":false}\n'
    return _reply(200, good + DEEP + b"\n", b"application/x-ndjson")


@pytest.fixture
def no_error_logs(caplog):
    caplog.set_level(logging.DEBUG)
    yield
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]


def test_a_deep_last_line_without_newline_is_a_decode_error():
    decoder = LineDecoder()
    decoder.feed(DEEP, list.append)  # no newline yet: kept as the partial line
    with pytest.raises(DecodeError, match="nested too deeply"):
        decoder.finish(list.append)


@contextmanager
def client_of(respond):
    """A client of a one-route server that answers every request with ``respond(head)``."""
    with tiny_server(respond) as (port, _), Ollama(f"http://127.0.0.1:{port}", timeout=10) as c:
        yield c


def test_a_deep_whole_response_is_a_decode_error(no_error_logs):
    deep = pytest.raises(DecodeError, match="nested too deeply")
    with client_of(lambda head: _reply(200, DEEP)) as client, deep as info:
        client.show_model(model="m")
    assert "POST /api/show" in str(info.value)


def test_a_deep_error_body_is_the_http_error_with_its_status(no_error_logs):
    with client_of(lambda head: _reply(500, DEEP)) as client, pytest.raises(HTTPError) as info:
        client.show_model(model="m")
    assert info.value.status == 500


def test_a_deep_streamed_line_ends_the_stream_with_a_decode_error(no_error_logs):
    chunks = []

    def consume(client):
        for chunk in client.completion(model="m", prompt="x", stream=True):
            chunks.append(chunk)

    with client_of(_stream_reply) as client, pytest.raises(DecodeError, match="too deeply"):
        consume(client)
    assert [c["response"] for c in chunks] == ["a"]


def test_a_deep_streamed_line_reaches_a_recipient_as_a_decode_error(no_error_logs):
    inbox = Inbox()
    with client_of(_stream_reply) as client:
        handle = client.completion(model="m", prompt="x", stream=inbox)
        messages = messages_of(inbox, handle.ref)
    assert [kind for kind, _ in messages] == ["data", "error"]
    assert isinstance(messages[-1][1], DecodeError)
    assert "internal error" not in str(messages[-1][1])


def _nested(depth: int) -> bytes:
    return b'{"a":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def test_a_whole_response_is_held_to_the_same_depth(no_error_logs):
    with client_of(lambda head: _reply(200, _nested(MAX_DEPTH))) as client:
        assert "a" in client.show_model(model="m")
    deep = pytest.raises(DecodeError, match=f"nested too deeply \\(more than {MAX_DEPTH} levels")
    with client_of(lambda head: _reply(200, _nested(MAX_DEPTH + 1))) as client, deep:
        client.show_model(model="m")


def test_an_error_body_past_the_depth_is_shown_as_text(no_error_logs):
    body = b'{"error":' + b"[" * 600 + b"]" * 600 + b"}"
    with client_of(lambda head: _reply(500, body)) as client, pytest.raises(HTTPError) as info:
        client.show_model(model="m")
    assert info.value.status == 500
    assert "[[[[" in str(info.value)


def test_the_command_shows_a_deep_tool_call_as_a_decode_error():
    """A tool call nested 1,000 deep was a chunk for orjson, then ``--json`` failed to write it:
    ``error: RecursionError: maximum recursion depth exceeded while encoding a JSON object``."""
    deep = b"[" * 1_000 + b"]" * 1_000
    call = b'{"function":{"name":"f","arguments":{"x":' + deep + b"}}}"
    lines = (
        b'{"model":"m","message":{"role":"assistant","content":"a"},"done":false}\n'
        b'{"model":"m","message":{"role":"assistant","content":"","tool_calls":[' + call + b"]},"
        b'"done":false}\n{"model":"m","message":{"role":"assistant","content":""},"done":true}\n'
    )

    def respond(head):
        if b"/api/show" in head:
            return _reply(200, b'{"modelfile":""}')
        return _reply(200, lines, b"application/x-ndjson")

    with tiny_server(respond) as (port, _):
        env = {**os.environ, "OLLAMA_HOST": f"http://127.0.0.1:{port}", "NO_COLOR": "1"}
        for args in (["--json", "chat", "m"], ["chat", "m"]):
            result = subprocess.run(
                [sys.executable, "-m", "ollama_actor.cli", *args],
                input=b"hi\n",
                capture_output=True,
                env=env,
                timeout=60,
                check=False,
            )
            err = result.stderr.decode()
            assert result.returncode == 1, err
            assert "RecursionError" not in err
            assert err.startswith("error: a streamed line of")
            assert "nested too deeply" in err
