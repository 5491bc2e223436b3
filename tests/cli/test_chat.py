"""``ollama-actor chat``: a REPL that keeps the conversation across turns."""

import json

from ollama_actor.emulator import expected_reply


def _user(text):
    return {"role": "user", "content": text}


def test_chat_keeps_history_and_bye_ends_it(cli, ollama_emulator):
    result = cli("chat", "llama3.2", input="Hello there\nAnd why?\n/bye\nnever sent\n")
    assert (result.returncode, result.stderr) == (0, "")
    first = expected_reply("llama3.2", [_user("Hello there")])
    requests = [r for r in ollama_emulator.requests if r.path == "/api/chat"]
    assert len(requests) == 2
    assert requests[0].body["messages"] == [_user("Hello there")]
    history = requests[1].body["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    assert history[1]["content"] == first.text
    assert history[2] == _user("And why?")
    second = expected_reply("llama3.2", history)
    assert result.stdout == f"{first.text}\n{second.text}\n"


def test_end_of_input_ends_the_chat_and_clear_forgets(cli, ollama_emulator):
    result = cli("chat", "llama3.2", "--system", "be brief", input="One\n/clear\nTwo\n")
    assert result.returncode == 0
    assert "Cleared" in result.stderr
    requests = [r for r in ollama_emulator.requests if r.path == "/api/chat"]
    system = {"role": "system", "content": "be brief"}
    sent = [r.body["messages"] for r in requests]
    assert sent == [[system, _user("One")], [system, _user("Two")]]


def test_chat_json_prints_chunks(cli):
    result = cli("chat", "llama3.2", "--json", input="Hi\n")
    assert result.returncode == 0
    chunks = [json.loads(line) for line in result.stdout.splitlines()]
    text = "".join(c["message"]["content"] for c in chunks)
    assert text == expected_reply("llama3.2", [_user("Hi")]).text
    assert chunks[-1]["done"] is True


def test_chat_with_an_unknown_model_fails_before_reading(cli, ollama_emulator):
    result = cli("chat", "nope", input="Hi\n")
    assert result.returncode == 2
    assert result.stderr == "error: model 'nope' not found (HTTP 404 from POST /api/show)\n"
    assert ollama_emulator.request_count("/api/chat") == 0


def test_chat_shows_thinking_and_tool_calls(cli):
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {}}}]
    result = cli("chat", "qwen3", "--tools", json.dumps(tools), input="Weather in Paris?\n")
    assert result.returncode == 0, result.stderr
    reply = expected_reply("qwen3", [_user("Weather in Paris?")], tools=tools)
    assert reply.tool_calls
    assert result.stdout.startswith("Thinking...\n")
    assert "[tool call] weather(" in result.stdout
