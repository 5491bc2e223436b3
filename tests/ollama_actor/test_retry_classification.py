"""One classification of failures: what is retried, what is refused, and the CLI's exit code.

The table in docs/protocol.md is read here row by row, so that the documentation, the predicate
`is_retryable` (RetryPolicy's default), `OllamaError.refused` and the command's exit codes
cannot drift apart; then the streams themselves show it against the emulator.
"""

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path

import pytest

import ollama_actor
from actors import Backoff, Inbox
from ollama_actor import (
    ConnectionLost,
    DecodeError,
    HTTPError,
    IncompleteStream,
    Ollama,
    ResponseError,
    RetryPolicy,
    Timeout,
    is_retryable,
)
from ollama_actor._cli._exit import exit_code
from ollama_actor.emulator import cut, error_line, malformed_line

from .protocol import assert_protocol, messages_of

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
FAST = RetryPolicy(backoff=Backoff(min=0.01, max=0.05))
PROMPT = "Why is the sky blue?"


def _table() -> list[tuple[str, str, str, str, str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Which failures are retried", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[1].startswith("`"):
            rows.append(tuple(cells))
    return rows  # type: ignore[return-value]


TABLE = _table()


def test_the_table_covers_every_error_class():
    named = {re.match(r"`(\w+)\(", row[1]).group(1) for row in TABLE}  # type: ignore[union-attr]
    errors = {
        name
        for name in ollama_actor.__all__
        if isinstance(getattr(ollama_actor, name), type)
        and issubclass(getattr(ollama_actor, name), ollama_actor.OllamaError)
    }
    abstract = {"OllamaError", "TransportError", "RequestTimeout"}
    assert errors - abstract <= named, errors - abstract - named
    assert len(TABLE) >= 25


@pytest.mark.parametrize(("failure", "example", "retried", "refused", "code"), TABLE)
def test_each_row_of_the_documented_table(failure, example, retried, refused, code):
    exc = eval(example.strip("`"), vars(ollama_actor))  # the documented example, as written
    assert is_retryable(exc) is (retried == "yes"), failure
    assert exc.retryable is (retried == "yes"), failure
    assert exc.refused is (refused == "yes"), failure
    assert exit_code(exc) == int(code), failure


def test_what_is_not_an_ollama_error_is_never_retried():
    assert not is_retryable(OSError("boom"))
    assert not is_retryable(RuntimeError("the worker could not start"))


def test_a_runner_crash_is_retried_whatever_it_quotes():
    crash = ResponseError("an error was encountered while running the model: invalid argument")
    assert is_retryable(crash)
    assert not crash.refused


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        # A model named "invalid", "forbidden" or "unauthorized": the quoted name is no verdict.
        (
            ResponseError(
                'pull model manifest: Get "https://registry.ollama.ai/v2/library/invalid/'
                'manifests/latest": dial tcp: lookup registry.ollama.ai: i/o timeout'
            ),
            True,
        ),
        (HTTPError(500, "model 'forbidden' failed to load: exit status 2"), True),
        (ResponseError('max retries exceeded: Get "https://x/unauthorized": EOF'), True),
        # ... while the words outside the quotes still decide.
        (HTTPError(404, "model 'invalid' not found"), False),
        (ResponseError("model 'invalid' not found"), False),
        (ResponseError('"invalid" does not support generate'), False),
        (ResponseError("invalid model name"), False),
        (ResponseError("registry: 'access denied'"), False),  # a quoted phrase is kept
        (ResponseError("don't know 'x': invalid input"), False),  # an apostrophe is no quote
    ],
)
def test_refusal_words_count_outside_quoted_names(error, retried):
    assert is_retryable(error) is retried
    assert error.refused is not retried


def test_retry_policy_takes_a_predicate_and_checks_it():
    assert RetryPolicy().retryable is is_retryable
    with pytest.raises(TypeError, match="callable"):
        RetryPolicy(retryable="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        # "permanent" would restart a stream's worker for ever after the stream ended.
        ({"restart": "permanent"}, "restart must be 'transient' or 'temporary'"),
        ({"restart": "Transient"}, "restart must be 'transient' or 'temporary'"),
        ({"max_restarts": -1}, "max_restarts must be an int >= 0"),
        ({"max_restarts": 2.5}, "max_restarts must be an int >= 0"),
        ({"max_restarts": None}, "max_restarts must be an int >= 0"),
        ({"max_restarts": True}, "max_restarts must be an int >= 0"),
        ({"max_seconds": 0}, "max_seconds must be a number > 0"),
        ({"max_seconds": float("nan")}, "max_seconds must be a number > 0"),
        ({"backoff": "fast"}, "backoff must be a Backoff or None"),
    ],
)
def test_retry_policy_refuses_what_a_stream_cannot_run_with(bad, problem):
    with pytest.raises((ValueError, TypeError), match=rf"^RetryPolicy\.{problem}"):
        RetryPolicy(**bad)


def kinds(messages):
    return [kind for kind, _ in messages]


def test_pull_of_a_missing_model_is_one_request_and_no_retry(client, emu):
    inbox = Inbox()
    handle = client.pull_model(model="nosuchmodel", stream=inbox, retry=FAST)
    messages = messages_of(inbox, handle.ref)
    assert kinds(messages) == ["data", "error"]
    error = messages[-1][1]
    assert isinstance(error, ResponseError)
    assert error.error == "pull model manifest: file does not exist"
    assert error.refused
    assert emu.request_count("/api/pull") == 1


def test_push_of_a_missing_model_is_one_request_and_no_retry(client, emu):
    inbox = Inbox()
    handle = client.push_model(model="nosuchmodel", stream=inbox, retry=FAST)
    messages = messages_of(inbox, handle.ref)
    assert kinds(messages)[-1] == "error"
    assert "restart" not in kinds(messages)
    assert "no such file or directory" in str(messages[-1][1])
    assert emu.request_count("/api/push") == 1


@pytest.mark.parametrize(
    ("message", "retried"),
    [
        ("an error was encountered while running the model: unexpected EOF", True),
        ('"llama3.2" does not support generate', False),
        ("unauthorized: access denied", False),
    ],
)
def test_error_lines_are_retried_by_what_they_say(client, emu, message, retried):
    emu.inject(error_line(after=2, message=message), path="/api/generate")
    inbox = Inbox()
    handle = client.completion(model="llama3.2", prompt=PROMPT, stream=inbox, retry=FAST)
    messages = messages_of(inbox, handle.ref)
    assert_protocol(messages)
    assert ("restart" in kinds(messages)) is retried
    assert emu.request_count("/api/generate") == (2 if retried else 1)
    assert messages[-1][0] == ("done" if retried else "error")


def test_a_callers_predicate_decides_instead_of_the_table(client, emu):
    emu.inject(malformed_line(after=1), path="/api/generate")  # final by the table
    inbox = Inbox()
    policy = RetryPolicy(backoff=FAST.backoff, retryable=lambda exc: isinstance(exc, DecodeError))
    handle = client.completion(model="llama3.2", prompt=PROMPT, stream=inbox, retry=policy)
    messages = messages_of(inbox, handle.ref)
    assert kinds(messages)[:2] == ["data", "restart"]
    assert messages[-1][0] == "done"
    emu.inject(cut(after=1), path="/api/generate")  # retryable by the table
    never = RetryPolicy(retryable=lambda exc: False)
    handle = client.completion(model="llama3.2", prompt=PROMPT, stream=inbox, retry=never)
    messages = messages_of(inbox, handle.ref)
    assert kinds(messages) == ["data", "error"]
    assert isinstance(messages[-1][1], ConnectionLost)


def test_a_predicate_that_raises_ends_the_stream_rather_than_hanging_it(client, emu, caplog):
    emu.inject(cut(after=1), path="/api/generate")

    def broken(exc: BaseException) -> bool:
        raise RuntimeError("a bug in the predicate")

    inbox = Inbox()
    policy = RetryPolicy(backoff=FAST.backoff, retryable=broken)
    handle = client.completion(model="llama3.2", prompt=PROMPT, stream=inbox, retry=policy)
    messages = messages_of(inbox, handle.ref)
    assert kinds(messages) == ["data", "error"]
    assert isinstance(messages[-1][1], ConnectionLost)  # the failure itself, not retried
    with pytest.raises(ConnectionLost):
        handle.result(timeout=5)
    assert emu.request_count("/api/generate") == 1
    logged = [r for r in caplog.records if "retry predicate" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert "a bug in the predicate" in str(logged[0].exc_info[1])


class _NoFinalLine:
    """A server that answers every request with a well-framed stream lacking ``done: true``."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        line = b'{"model":"m","created_at":"2024-01-01T00:00:00Z","response":"Hi","done":false}\n'
        body = b"%x\r\n%b\r\n0\r\n\r\n" % (len(line), line)
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(5)
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                conn.sendall(head + body)

    def close(self) -> None:
        self.listener.close()
        self._thread.join(5)


def test_a_stream_without_its_final_line_is_not_retried():
    server = _NoFinalLine()
    try:
        inbox = Inbox()
        url = f"http://127.0.0.1:{server.port}"
        with Ollama(url, timeout=Timeout(connect=5, read=5, total=20)) as client:
            handle = client.completion(model="m", prompt="x", stream=inbox, retry=FAST)
            messages = messages_of(inbox, handle.ref)
        assert kinds(messages) == ["data", "error"]
        assert isinstance(messages[-1][1], IncompleteStream)
        assert server.connections == 1
    finally:
        server.close()
