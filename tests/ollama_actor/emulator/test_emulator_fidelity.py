"""The official ``ollama`` Python client (0.6.3) against the emulator: every endpoint, streamed
and not, parses into its pydantic models; errors raise ``ResponseError`` as with a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import pytest

from ollama_actor.emulator import Emulator, cut, error_line, expected_reply, expected_tokens, stall


@pytest.fixture
def client(ollama_emulator: Emulator) -> Iterator[ollama.Client]:
    with ollama.Client(host=ollama_emulator.url) as client:
        yield client


def get_weather(city: str) -> str:
    """Get the weather in a city.

    Args:
        city: The city.

    Returns:
        The weather.
    """
    return "sunny"


def test_generate(client: ollama.Client) -> None:
    reply = client.generate(model="llama3.2", prompt="Why is the sky blue?")
    assert isinstance(reply, ollama.GenerateResponse)
    assert reply.response == "".join(expected_tokens("llama3.2", "Why is the sky blue?"))
    assert reply.done
    assert reply.done_reason == "stop"
    assert reply.context
    assert reply.eval_count
    assert reply.total_duration
    parts = list(client.generate(model="llama3.2", prompt="Why is the sky blue?", stream=True))
    assert [p.response for p in parts[:-1]] == expected_tokens("llama3.2", "Why is the sky blue?")
    assert parts[-1].done is True


def test_generate_thinking(client: ollama.Client) -> None:
    reply = client.generate(model="qwen3", prompt="riddle", think=True)
    assert reply.thinking == expected_reply("qwen3", "riddle").thinking_text
    parts = list(client.generate(model="qwen3", prompt="riddle", think="low", stream=True))
    assert parts[0].thinking
    assert not parts[0].response


def test_chat_with_tools_and_thinking(client: ollama.Client) -> None:
    messages: list[ollama.Message | dict[str, object]] = [
        {"role": "user", "content": "Weather in Paris?"}
    ]
    reply = client.chat(model="qwen3", messages=messages, tools=[get_weather], think=True)
    assert isinstance(reply, ollama.ChatResponse)
    assert reply.message.thinking
    (call,) = reply.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert call.function.arguments == {"city": "Paris"}
    messages += [reply.message, {"role": "tool", "content": "sunny", "tool_name": "get_weather"}]
    answer = client.chat(model="qwen3", messages=messages, tools=[get_weather], think=False)
    assert "sunny" in (answer.message.content or "")
    parts = list(
        client.chat(model="llama3.2", messages=messages[:1], tools=[get_weather], stream=True)
    )
    assert parts[0].message.tool_calls
    assert parts[-1].done


def test_chat_stream(client: ollama.Client) -> None:
    messages = [{"role": "user", "content": "hello"}]
    parts = list(client.chat(model="llama3.2", messages=messages, stream=True))
    assert all(isinstance(p, ollama.ChatResponse) for p in parts)
    assert [p.message.content for p in parts[:-1]] == expected_tokens("llama3.2", messages)


def test_embed_and_embeddings(client: ollama.Client) -> None:
    one = client.embed(model="nomic-embed-text", input="hello")
    assert isinstance(one, ollama.EmbedResponse)
    assert len(one.embeddings) == 1
    two = client.embed(model="nomic-embed-text", input=["hello", "world"])
    assert len(two.embeddings) == 2
    assert two.embeddings[0] == one.embeddings[0]
    legacy = client.embeddings(model="nomic-embed-text", prompt="hello")
    assert isinstance(legacy, ollama.EmbeddingsResponse)
    assert len(legacy.embedding) == 16


def test_list_ps_show(client: ollama.Client) -> None:
    listed = client.list()
    assert isinstance(listed, ollama.ListResponse)
    assert [m.model for m in listed.models][:2] == ["llama3.2:latest", "qwen3:latest"]
    assert listed.models[0].modified_at is not None
    assert client.ps().models == []
    client.generate(model="llama3.2")
    (running,) = client.ps().models
    assert running.model == "llama3.2:latest"
    assert running.expires_at is not None
    shown = client.show("llava")
    assert isinstance(shown, ollama.ShowResponse)
    assert shown.capabilities == ["completion", "vision"]
    assert shown.modelinfo
    assert shown.details
    assert shown.details.families == ["llama", "clip"]


def test_create_copy_delete(client: ollama.Client, tmp_path: Path) -> None:
    progress = list(client.create(model="pirate", from_="llama3.2", system="Arr.", stream=True))
    assert progress[-1].status == "success"
    blob = tmp_path / "model.gguf"
    blob.write_bytes(b"GGUF weights")
    digest = client.create_blob(blob)
    assert client.create_blob(blob) == digest
    made = client.create(model="mine", files={"model.gguf": digest})
    assert made.status == "success"
    assert client.copy("mine", "mine2").status == "success"
    assert {"pirate:latest", "mine:latest", "mine2:latest"} <= {
        m.model for m in client.list().models
    }
    assert client.delete("mine2").status == "success"
    with pytest.raises(ollama.ResponseError) as error:
        client.delete("mine2")
    assert (error.value.status_code, error.value.error) == (404, "model 'mine2' not found")


def test_pull_and_push(client: ollama.Client) -> None:
    assert client.pull("tinyllama").status == "success"
    parts = list(client.pull("all-minilm", stream=True))
    assert parts[0].status == "pulling manifest"
    assert parts[-1].status == "success"
    assert any(p.total and p.completed for p in parts)
    client.copy("tinyllama", "me/tiny")
    assert client.push("me/tiny").status == "success"
    assert list(client.push("me/tiny", stream=True))[-1].status == "success"
    with pytest.raises(ollama.ResponseError) as error:
        client.pull("no-such-model")
    assert (error.value.status_code, error.value.error) == (
        500,
        "pull model manifest: file does not exist",
    )
    with pytest.raises(ollama.ResponseError) as error:
        list(client.pull("no-such-model", stream=True))
    assert (error.value.status_code, error.value.error) == (
        -1,
        "pull model manifest: file does not exist",
    )


def test_http_errors(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as error:
        client.generate(model="nope", prompt="x")
    assert (error.value.status_code, error.value.error) == (404, "model 'nope' not found")
    with pytest.raises(ollama.ResponseError) as error:
        list(client.generate(model="nope", prompt="x", stream=True))
    assert (error.value.status_code, error.value.error) == (404, "model 'nope' not found")
    with pytest.raises(ollama.ResponseError) as error:
        list(client.chat(model="nomic-embed-text", messages=[], stream=True))
    assert (error.value.status_code, error.value.error) == (
        400,
        '"nomic-embed-text" does not support chat',
    )


def test_method_not_allowed(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as error:
        client._request_raw("GET", "/api/show")  # type: ignore[no-untyped-call]
    assert (error.value.status_code, error.value.error) == (405, "405 method not allowed")


def test_server_busy() -> None:
    with Emulator(num_parallel=1, max_queue=0) as emulator, ollama.Client(emulator.url) as client:
        emulator.inject(stall(after=1), path="/api/chat")
        messages = [{"role": "user", "content": "x"}]
        stalled = client.chat(model="llama3.2", messages=messages, stream=True)
        assert next(stalled).message.role == "assistant"
        with pytest.raises(ollama.ResponseError) as error:
            client.chat(model="llama3.2", messages=messages)
        stalled.close()  # type: ignore[attr-defined,no-untyped-call,unused-ignore]
    assert error.value.status_code == 503
    assert error.value.error == "server busy, please try again.  maximum pending requests exceeded"


def test_mid_stream_error_line(ollama_emulator: Emulator, client: ollama.Client) -> None:
    ollama_emulator.inject(error_line(after=3), path="/api/generate")
    parts: list[ollama.GenerateResponse] = []
    with pytest.raises(ollama.ResponseError) as error:
        parts.extend(client.generate(model="llama3.2", prompt="x", stream=True))
    assert len(parts) == 3
    assert error.value.status_code == -1
    assert error.value.error == "an error was encountered while running the model"


def test_cut_stream_is_an_incomplete_chunked_read(
    ollama_emulator: Emulator, client: ollama.Client
) -> None:
    ollama_emulator.inject(cut(after=2), path="/api/chat")
    parts: list[ollama.ChatResponse] = []
    messages = [{"role": "user", "content": "x"}]
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
        parts.extend(client.chat(model="llama3.2", messages=messages, stream=True))
    assert len(parts) == 2


async def _async_generate(url: str) -> list[str]:
    client = ollama.AsyncClient(host=url)
    try:
        stream = await client.generate(model="llama3.2", prompt="async", stream=True)
        return [part.response or "" async for part in stream]
    finally:
        await client.close()  # type: ignore[no-untyped-call]


def test_async_client(ollama_emulator: Emulator) -> None:
    tokens = asyncio.run(_async_generate(ollama_emulator.url))
    assert tokens[:-1] == expected_tokens("llama3.2", "async")
