"""Every endpoint against the emulator over a real socket, streamed and not."""

import json

import pytest

from ollama_actor import ResponseError, Streaming, blob_digest
from ollama_actor.emulator import error_line, expected_reply, expected_tokens

USER = [{"role": "user", "content": "Why is the sky blue?"}]


def stable(reply):
    """A reply without the fields that differ between two runs (times and durations)."""
    return {k: v for k, v in reply.items() if "duration" not in k and k != "created_at"}


def test_completion_whole_response(client, emu):
    reply = client.completion(model="llama3.2", prompt="Why is the sky blue?")
    expected = expected_reply("llama3.2", "Why is the sky blue?")
    assert reply["response"] == expected.text
    assert reply["done"] is True
    assert reply["done_reason"] == "stop"
    assert reply["eval_count"] == expected.eval_count
    body = emu.last_request("/api/generate").body
    assert body == {"model": "llama3.2", "prompt": "Why is the sky blue?", "stream": False}


def test_completion_stream_yields_each_chunk_then_the_accumulated_response(client):
    stream = client.completion(model="llama3.2", prompt="hello there", stream=True)
    assert isinstance(stream, Streaming)
    chunks = list(stream)
    tokens = expected_tokens("llama3.2", "hello there")
    assert [c["response"] for c in chunks[:-1]] == tokens
    assert chunks[-1]["done"] is True
    assert all(c["done"] is False for c in chunks[:-1])
    assert stream.response["response"] == "".join(tokens)
    assert stream.response["eval_count"] == chunks[-1]["eval_count"]
    assert stable(stream.response) == stable(
        client.completion(model="llama3.2", prompt="hello there")
    )


def test_stream_and_whole_reply_agree_for_thinking_and_tools(client):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather in a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    for params in (
        {"model": "qwen3", "messages": USER, "think": True},
        {"model": "llama3.2", "messages": USER, "tools": tools},
    ):
        whole = client.chat(**params)
        stream = client.chat(stream=True, **params)
        chunks = list(stream)
        assert chunks[-1]["done"] is True
        streamed = stream.response
        assert streamed["message"] == whole["message"], params
        assert stable(streamed) == stable(whole)
    assert whole["message"]["tool_calls"][0]["function"]["name"] == "get_weather"


def test_thinking_is_accumulated_for_generate(client):
    stream = client.completion(model="qwen3", prompt="think about it", think=True, stream=True)
    list(stream)
    expected = expected_reply("qwen3", "think about it", think=True)
    assert stream.response["thinking"] == expected.thinking_text
    assert stream.response["response"] == expected.text


def test_chat_with_options_and_format(client, emu):
    reply = client.chat(
        model="llama3.2",
        messages=USER,
        options={"temperature": 0.1},
        format="json",
        keep_alive="5m",
    )
    json.loads(reply["message"]["content"])  # the emulator honours format=json
    body = emu.last_request("/api/chat").body
    assert body["options"] == {"temperature": 0.1}
    assert body["keep_alive"] == "5m"
    assert body["stream"] is False
    short = client.chat(model="llama3.2", messages=USER, options={"num_predict": 5})
    assert short["done_reason"] == "length"
    assert short["eval_count"] == 5


def test_embed_and_legacy_embeddings(client):
    one = client.embed(model="nomic-embed-text", input="hello")
    many = client.embed(model="nomic-embed-text", input=["a", "b", "c"])
    assert len(one["embeddings"]) == 1
    assert len(many["embeddings"]) == 3
    assert many["embeddings"][0] != many["embeddings"][1]
    legacy = client.embeddings(model="nomic-embed-text", prompt="hello")
    assert isinstance(legacy["embedding"], list)
    assert legacy["embedding"]


def test_model_management_round_trip(client):
    names = {m["name"] for m in client.list_models()["models"]}
    assert "llama3.2:latest" in names
    shown = client.show_model(model="llama3.2")
    assert "completion" in shown["capabilities"]
    assert "model_info" in shown
    assert client.show_model(name="llama3.2")["details"] == shown["details"]
    assert client.copy_model(source="llama3.2", destination="my-copy") is True
    assert "my-copy:latest" in {m["name"] for m in client.list_models()["models"]}
    assert client.delete_model(model="my-copy") is True
    assert client.delete_model(name="my-copy") is False
    assert client.copy_model(source="no-such-model", destination="x") is False


def test_preload_unload_and_running_models(client, emu):
    assert client.preload(model="llama3.2", keep_alive="10m") is True
    assert "llama3.2:latest" in {m["name"] for m in client.list_running()["models"]}
    assert client.unload(model="llama3.2") is True
    assert emu.last_request("/api/generate").body == {
        "model": "llama3.2",
        "stream": False,
        "keep_alive": 0,
    }  # no prompt: Ollama's unload shortcut
    assert "llama3.2:latest" not in {m["name"] for m in client.list_running()["models"]}
    assert client.preload(model="no-such-model") is False


def test_version(client):
    assert isinstance(client.version()["version"], str)


def test_pull_stream_reports_progress_and_ends_with_success(client):
    stream = client.pull_model(model="tinyllama", stream=True)
    statuses = [c["status"] for c in stream]
    assert statuses[0] == "pulling manifest"
    assert statuses[-1] == "success"
    assert any(s.startswith("pulling ") and s != "pulling manifest" for s in statuses)
    assert stream.response == {"status": "success"}
    assert "tinyllama:latest" in {m["name"] for m in client.list_models()["models"]}
    assert client.pull_model(name="tinyllama") == {"status": "success"}


def test_push_and_create_streams(client):
    pushed = [c["status"] for c in client.push_model(model="llama3.2", stream=True)]
    assert pushed[0] == "retrieving manifest"
    assert pushed[-1] == "success"
    created = list(
        client.create_model(model="mine", from_="llama3.2", system="Be brief.", stream=True)
    )
    assert created[-1] == {"status": "success"}
    assert client.show_model(model="mine")["system"] == "Be brief."


def test_blobs(client, emu):
    data = b"GGUF fake weights"
    digest = blob_digest(data)
    assert client.check_blob(digest) is False
    assert client.check_blob(data) is False
    assert client.create_blob(data) == digest
    assert client.check_blob(digest) is True
    assert client.check_blob(data) is True
    assert emu.last_request().method == "HEAD"
    assert client.create_model(model="from-blob", files={"model.gguf": digest}) == {
        "status": "success"
    }


def test_requests_carry_user_agent_accept_and_merged_headers(emu):
    from ollama_actor import Ollama

    with Ollama(emu.base_url, headers={"X-Test": "yes", "User-Agent": "mine/1"}) as c:
        c.list_models()
        list(c.completion(model="llama3.2", prompt="x", stream=True))
    get, post = emu.requests[-2:]
    assert get.headers["x-test"] == "yes"
    assert get.headers["user-agent"] == "mine/1"
    assert get.headers["accept"] == "application/json"
    assert post.headers["accept"] == "application/x-ndjson"
    assert post.headers["content-type"] == "application/json"


def test_a_callers_content_type_does_not_relabel_json_or_blob_bodies(emu):
    from ollama_actor import Ollama

    # ollama-python's own test_headers passes Content-Type: text/plain and expects JSON.
    with Ollama(emu.base_url, headers={"Content-Type": "text/plain"}) as c:
        c.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
        chat = emu.last_request()
        c.create_blob(b"weights")
        blob = emu.last_request()
        c.list_models()
        get = emu.last_request()
    assert chat.headers["content-type"] == "application/json"
    assert blob.headers["content-type"] == "application/octet-stream"
    assert get.headers["content-type"] == "text/plain"  # no body: sent as the caller gave it


def test_default_user_agent(client, emu):
    client.version()
    assert emu.last_request().headers["user-agent"].startswith("ollama-actor/")


def test_api_key_is_sent_as_bearer_and_never_shown(emu, monkeypatch):
    from ollama_actor import Ollama

    monkeypatch.setenv("OLLAMA_API_KEY", "sekrit-from-env")
    with Ollama(emu.base_url) as c:
        c.version()
        assert "sekrit" not in repr(c)
    assert emu.last_request().headers["authorization"] == "Bearer sekrit-from-env"
    with Ollama(emu.base_url, api_key="sekrit-arg") as c:
        c.version()
        assert "sekrit" not in repr(c) + str(vars(c).get("base_url"))
    assert emu.last_request().headers["authorization"] == "Bearer sekrit-arg"


def test_a_whole_reply_that_is_an_error_raises_it(client, emu):
    # A 200 whose body is {"error": ...} (the emulator's error_line on a reply that is not
    # streamed) is an error, as the same line in a stream is, not a reply holding an error.
    message = "an error was encountered while running the model: unexpected EOF"
    emu.inject(error_line(after=0, message=message), path="/api/chat")
    with pytest.raises(ResponseError) as info:
        client.chat(model="llama3.2", messages=[{"role": "user", "content": "x"}])
    assert info.value.error == message
    assert info.value.retryable  # classified as the streamed line is
    emu.inject(error_line(after=0, message="pull model manifest: file does not exist"))
    with pytest.raises(ResponseError, match="file does not exist") as info:
        client.pull_model(model="llama3.2")
    assert info.value.refused


CALLS = {
    "completion": ("/api/generate", {"model": "llama3.2", "prompt": "hi"}),
    "chat": ("/api/chat", {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}),
    "pull_model": ("/api/pull", {"model": "llama3.2"}),
    "push_model": ("/api/push", {"model": "llama3.2"}),
    "create_model": ("/api/create", {"model": "mine", "from_": "llama3.2"}),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_call_not_streamed_says_stream_false_to_a_route_that_streams_by_default(
    client, emu, name
):
    # Ollama streams these unless the body says "stream": false; a body without it would be
    # answered with a stream the whole-response path cannot read as one object.
    path, params = CALLS[name]
    answer = getattr(client, name)(**params)
    body = emu.last_request(path).body
    assert body["stream"] is False
    assert isinstance(answer, dict)
    list(getattr(client, name)(**params, stream=True))
    assert emu.last_request(path).body["stream"] is True
