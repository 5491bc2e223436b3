"""Testing your own code against the Ollama emulator, with the ``ollama_emulator`` fixture.

Installing ollama-actor registers its pytest plugin, so a test only names the fixture: each test
gets a fresh emulator (seeded models, no faults, an empty request log) on a free port. The
emulator's model is deterministic, so ``expected_reply`` says exactly what it will answer, and
``inject`` makes the next matching request fail in a chosen way. Run it with::

    pytest examples/test_with_emulator.py

The top half is the code under test (yours would live in your package); the bottom half tests
it: the happy path, a connection cut mid-answer, a stalled server, and a server that keeps
failing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import actors
from ollama_actor import HTTPError, Ollama, Timeout
from ollama_actor.emulator import Emulator, cut, expected_reply, stall, status

MODEL = "llama3.2"

# --- the code under test ---------------------------------------------------------------------


def answer(client: Ollama, question: str, *, timeout: float = 30.0) -> tuple[str, int]:
    """Stream the answer to ``question`` into an inbox; return its text and the retries it took.

    A retry (``("restart", ...)``) means the answer starts again from its beginning.
    """
    inbox = actors.Inbox()
    handle = client.chat(
        model=MODEL, messages=[{"role": "user", "content": question}], stream=inbox
    )
    text, retries = "", 0
    while True:
        match inbox.receive(match=lambda m: m[0] == handle.ref, timeout=timeout):
            case (_, ("data", chunk)):
                text += chunk["message"]["content"]
            case (_, ("restart", _)):
                text, retries = "", retries + 1
            case (_, ("done", _)):
                return text, retries
            case (_, ("error", error)):
                raise error


# --- its tests -------------------------------------------------------------------------------

QUESTION = "Why is the sky blue?"
EXPECTED = expected_reply(MODEL, [{"role": "user", "content": QUESTION}]).text


@pytest.fixture
def client(ollama_emulator: Emulator) -> Iterator[Ollama]:
    """A client of this test's emulator, with short time bounds."""
    with Ollama(ollama_emulator.base_url, timeout=Timeout(connect=2, read=1, total=30)) as c:
        yield c


def test_answer(client: Ollama, ollama_emulator: Emulator) -> None:
    assert answer(client, QUESTION) == (EXPECTED, 0)
    request = ollama_emulator.last_request("/api/chat")
    assert request.body["messages"] == [{"role": "user", "content": QUESTION}]


def test_answer_survives_a_connection_cut_mid_answer(
    client: Ollama, ollama_emulator: Emulator
) -> None:
    ollama_emulator.inject(cut(after=3), path="/api/chat")  # 3 chunks, then the socket closes
    assert answer(client, QUESTION) == (EXPECTED, 1)
    assert ollama_emulator.request_count("/api/chat") == 2


def test_answer_survives_a_stalled_server(client: Ollama, ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(stall(after=2), path="/api/chat")  # 2 chunks, then silence
    assert answer(client, QUESTION) == (EXPECTED, 1)  # the 1 s read bound ended the first try
    first = ollama_emulator.requests[0]
    assert ollama_emulator.wait_until_ended(first.id).outcome == "client_closed"


def test_a_failing_server_is_reported(client: Ollama, ollama_emulator: Emulator) -> None:
    ollama_emulator.inject(status(500), path="/api/chat", times=10)
    with pytest.raises(HTTPError) as failed:
        answer(client, QUESTION)
    assert failed.value.status == 500
    assert ollama_emulator.request_count("/api/chat") == 4  # the first try and 3 retries
