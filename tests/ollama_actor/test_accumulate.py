"""Accumulating a stream into what Ollama's non-streaming reply would be."""

import json
import logging
import re

import pytest

from actors import Inbox
from ollama_actor import DecodeError, Ollama
from ollama_actor._accumulate import Accumulator
from tests.ollama_actor.protocol import messages_of
from tests.reliability.test_secure_defaults import tiny_server


def test_generate_joins_text_and_thinking_and_keeps_final_metrics():
    acc = Accumulator("generate")
    acc.add({"model": "m", "response": "", "thinking": "Hm", "done": False})
    acc.add({"model": "m", "response": "", "thinking": "m.", "done": False})
    acc.add({"model": "m", "response": "The", "done": False})
    acc.add({"model": "m", "response": " sky", "done": False})
    acc.add({"model": "m", "response": "", "done": True, "done_reason": "stop", "eval_count": 4})
    assert acc.result() == {
        "model": "m",
        "response": "The sky",
        "thinking": "Hmm.",
        "done": True,
        "done_reason": "stop",
        "eval_count": 4,
    }


def test_chat_joins_content_thinking_and_late_tool_calls():
    call = {"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}
    acc = Accumulator("chat")
    acc.add(
        {"message": {"role": "assistant", "content": "", "thinking": "I should"}, "done": False}
    )
    acc.add({"message": {"role": "assistant", "content": "Let me"}, "done": False})
    acc.add(
        {"message": {"role": "assistant", "content": " check", "tool_calls": [call]}, "done": False}
    )
    acc.add({"message": {"role": "assistant", "content": ""}, "done": True, "total_duration": 9})
    result = acc.result()
    assert result["message"] == {
        "role": "assistant",
        "content": "Let me check",
        "thinking": "I should",
        "tool_calls": [call],
    }
    assert result["done"] is True
    assert result["total_duration"] == 9


def test_chat_final_chunk_without_message_still_gives_one():
    acc = Accumulator("chat")
    acc.add({"message": {"role": "assistant", "content": "Hi"}, "done": False})
    acc.add({"done": True})
    assert acc.result()["message"] == {"role": "assistant", "content": "Hi"}


def test_progress_result_is_the_last_status():
    acc = Accumulator("progress")
    acc.add({"status": "pulling manifest"})
    acc.add({"status": "pulling abc", "digest": "sha256:abc", "total": 10, "completed": 5})
    acc.add({"status": "success"})
    assert acc.result() == {"status": "success"}


def test_empty_stream_result():
    assert Accumulator("generate").result() == {}


BAD_FIELDS = [
    ("generate", {"response": 5}, "response is a number, not a string"),
    ("generate", {"response": ["a"]}, "response is an array, not a string"),
    ("generate", {"response": "a", "thinking": {"a": 1}}, "thinking is an object, not a string"),
    ("generate", {"response": "a", "logprobs": 3}, "logprobs is a number, not an array"),
    ("chat", {"message": "hi"}, "message is a string, not an object"),
    ("chat", {"message": {"content": True}}, "message.content is a boolean, not a string"),
    (
        "chat",
        {"message": {"content": "", "tool_calls": {}}},
        "message.tool_calls is an object, not an array",
    ),
    (
        "chat",
        {"message": {"content": "", "tool_calls": [1]}},
        "message.tool_calls[0] is a number, not an object",
    ),
    (
        "chat",
        {"message": {"content": "", "tool_calls": [None]}},
        "message.tool_calls[0] is null, not an object",
    ),
]


@pytest.mark.parametrize(("kind", "fields", "message"), BAD_FIELDS)
def test_a_field_of_the_wrong_type_is_a_decode_error(kind, fields, message):
    acc = Accumulator(kind)
    with pytest.raises(DecodeError) as info:
        acc.add({"model": "m", "done": False, **fields})
    assert str(info.value) == f"a streamed chunk's {message}"  # the field's whole path


def test_a_progress_stream_joins_no_text_and_checks_none():
    # pull, push and create report status objects: fields named like a generation's are not
    # text to join (nor to check), and the result is the last status as it came.
    acc = Accumulator("progress")
    odd = {"status": "pulling", "response": 5, "thinking": [], "logprobs": 3, "message": "x"}
    acc.add(odd)
    acc.add({"status": "success"})
    assert acc.result() == {"status": "success"}
    only = Accumulator("progress")
    only.add(odd)
    assert only.result() == odd


def test_a_chat_keeps_its_images_and_the_final_messages_own_fields():
    acc = Accumulator("chat")
    acc.add({"message": {"role": "assistant", "content": "A", "images": ["aGk="]}, "done": False})
    acc.add({"message": {"role": "assistant", "content": "B"}, "done": False})
    acc.add({"message": {"role": "assistant", "content": "", "tool_name": "t"}, "done": True})
    assert acc.result()["message"] == {
        "role": "assistant",
        "content": "AB",
        "images": ["aGk="],
        "tool_name": "t",
    }


def test_empty_and_null_fields_are_no_text():
    acc = Accumulator("chat")
    acc.add({"model": "m", "message": None, "done": False})
    acc.add({"model": "m", "message": {"content": None, "thinking": "", "tool_calls": None}})
    acc.add({"model": "m", "message": {"content": "hi"}, "logprobs": None, "done": True})
    assert acc.result()["message"] == {"role": "assistant", "content": "hi"}


@pytest.mark.parametrize(("kind", "fields", "message"), BAD_FIELDS)
def test_a_hostile_chunk_ends_the_stream_cleanly(caplog, kind, fields, message):
    """A server that sends ``"response": 5`` ended the stream as an "internal error" with a
    logged traceback (``TypeError`` while joining the text); now it is the server's error."""
    caplog.set_level(logging.DEBUG)
    first = {"model": "m", "done": False, "response": "a", "message": {"content": "a"}}
    lines = [first, {"model": "m", "done": False, **fields}, {"model": "m", "done": True}]
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n"
    reply += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    with tiny_server(lambda head: reply) as (port, _), Ollama(f"http://127.0.0.1:{port}") as c:
        start = c.completion if kind == "generate" else c.chat
        params = {"prompt": "x"} if kind == "generate" else {"messages": []}
        with pytest.raises(DecodeError, match=re.escape(message)) as info:
            for _ in start(model="m", stream=True, **params):
                pass
        inbox = Inbox()
        handle = start(model="m", stream=inbox, **params)
        kinds = [k for k, _ in messages_of(inbox, handle.ref)]
    assert "internal error" not in str(info.value)
    assert kinds == ["data", "error"]
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not logged, [r.getMessage() for r in logged]


def _lp(token, logprob):
    return {"token": token, "logprob": logprob, "bytes": list(token.encode())}


@pytest.mark.parametrize("kind", ["generate", "chat"])
def test_logprobs_of_every_chunk_survive_accumulation_in_order(kind):
    # Ollama's non-streamed reply carries the log probabilities of every token; the
    # accumulated stream must too (a chunk without any, or with [] or null, adds none).
    key = "response" if kind == "generate" else "content"

    def chunk(text, logprobs, done=False):
        body = {key: text} if kind == "generate" else {"message": {key: text}}
        if logprobs is not ...:
            body["logprobs"] = logprobs
        return {"model": "m", "done": done, **body}

    acc = Accumulator(kind)
    acc.add(chunk("The", [_lp("The", -0.1)]))
    acc.add(chunk(" sky", [_lp(" sky", -0.2), _lp(" is", -0.3)]))
    acc.add(chunk("", []))
    acc.add(chunk("", None))
    acc.add(chunk("", ...))
    acc.add(chunk("", [_lp(".", -0.4)], done=True))
    result = acc.result()
    assert result["logprobs"] == [
        _lp("The", -0.1),
        _lp(" sky", -0.2),
        _lp(" is", -0.3),
        _lp(".", -0.4),
    ]
    without = Accumulator(kind)
    without.add(chunk("hi", ..., done=True))
    assert "logprobs" not in without.result()


def test_a_streamed_reply_keeps_its_logprobs_end_to_end():
    lines = [
        {"model": "m", "response": "Hi", "logprobs": [_lp("Hi", -0.5)], "done": False},
        {"model": "m", "response": "!", "logprobs": [_lp("!", -0.25)], "done": False},
        {"model": "m", "response": "", "done": True, "done_reason": "stop"},
    ]
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n"
    reply += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    with tiny_server(lambda head: reply) as (port, _), Ollama(f"http://127.0.0.1:{port}") as c:
        handle = c.completion(model="m", prompt="x", logprobs=True, stream=Inbox())
        response = handle.result(timeout=10)
    assert response["response"] == "Hi!"
    assert response["logprobs"] == [_lp("Hi", -0.5), _lp("!", -0.25)]
