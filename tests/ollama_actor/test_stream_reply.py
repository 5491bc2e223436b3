"""`StreamReply`: a recipient folds a stream's messages without bookkeeping of its own."""

from __future__ import annotations

import pytest

from actors import Backoff, Inbox, Ref
from ollama_actor import ConnectionLost, HTTPError, RetryPolicy, StreamReply
from ollama_actor.emulator import cut, expected_reply, status

from .protocol import messages_of

PROMPT = "Why is the sky blue?"
FAST = RetryPolicy(backoff=Backoff(min=0.01, max=0.05))


def fold(inbox, reply, seen):
    """Apply the stream's messages one by one, recording the text after each."""
    while not reply.ended:
        assert reply.apply(inbox.receive(match=reply.matches, timeout=10))
        seen.append(reply.text)


def test_the_text_restarts_with_the_stream_and_is_never_mixed(client, emu):
    emu.inject(cut(after=4), path="/api/chat")
    messages = [{"role": "user", "content": PROMPT}]
    answer = expected_reply("llama3.2", messages).text
    inbox = Inbox()
    handle = client.chat(model="llama3.2", messages=messages, stream=inbox, retry=FAST)
    reply = StreamReply(handle)
    seen = []
    fold(inbox, reply, seen)
    assert all(answer.startswith(text) for text in seen)  # only ever a prefix of the answer
    assert "" in seen[1:]  # the restart emptied it
    assert reply.attempt == 1
    assert reply.done
    assert reply.text == answer
    assert reply.result() == handle.result(timeout=5)
    assert reply.result()["message"]["content"] == answer


def test_generate_and_thinking(client):
    reply_of = expected_reply("qwen3", PROMPT)
    inbox = Inbox()
    reply = StreamReply(client.completion(model="qwen3", prompt=PROMPT, stream=inbox))
    fold(inbox, reply, [])
    assert (reply.text, reply.thinking) == (reply_of.text, reply_of.thinking_text)


def test_a_pull_keeps_its_last_status(client):
    inbox = Inbox()
    reply = StreamReply(client.pull_model(model="tinyllama", stream=inbox))
    fold(inbox, reply, [])
    assert reply.last == {"status": "success"}
    assert reply.text == ""


def test_a_failed_stream_raises_its_error(client, emu):
    emu.inject(status(503), path="/api/generate", times=4)
    inbox = Inbox()
    reply = StreamReply(
        client.completion(model="llama3.2", prompt=PROMPT, stream=inbox, retry=FAST)
    )
    fold(inbox, reply, [])
    assert reply.ended
    assert not reply.done
    assert reply.attempt == 3
    assert isinstance(reply.error, HTTPError)
    with pytest.raises(HTTPError):
        reply.result()


def test_messages_of_other_streams_are_left_alone():
    mine, other = Ref(), Ref()
    reply = StreamReply(mine)
    assert not reply.apply((other, ("data", {"response": "x", "done": False})))
    assert not reply.apply("not a stream message")
    assert reply.apply((mine, ("data", {"response": "Hi", "done": False})))
    assert reply.text == "Hi"
    with pytest.raises(RuntimeError, match="not ended"):
        reply.result()
    assert reply.apply((mine, ("error", ConnectionLost("cut"))))
    assert reply.ended


def test_an_actor_folds_every_message_it_is_told(client, emu):
    """The shape of examples/liveview.py: one StreamReply per stream in an actor's state."""
    emu.inject(cut(after=2), path="/api/generate")
    inbox = Inbox()
    handle = client.completion(model="llama3.2", prompt=PROMPT, stream=inbox, retry=FAST)
    reply = StreamReply(handle)
    for message in messages_of(inbox, handle.ref):
        reply.apply((handle.ref, message))
    assert reply.text == expected_reply("llama3.2", PROMPT).text
