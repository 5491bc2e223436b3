"""``run``, ``stop``, ``embed`` and the program's own flags, as the ``ollama`` command has them."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ollama_actor import Ollama
from ollama_actor.emulator import expected_reply

from .conftest import CLI, WAIT, environment
from .terminal import Pty

PROMPT = "Why is the sky blue?"


def test_run_with_a_prompt_prints_one_answer(cli, ollama_emulator):
    result = cli("run", "llama3.2", "Why", "is", "the", "sky", "blue?")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == expected_reply("llama3.2", PROMPT).text + "\n"
    request = ollama_emulator.last_request("/api/generate")
    assert request.body == {"model": "llama3.2", "prompt": PROMPT, "stream": True}


def test_run_puts_piped_stdin_before_the_prompt(cli, ollama_emulator):
    result = cli("run", "llama3.2", "Summarise this.", input="A long text.\n")
    assert result.returncode == 0
    prompt = "A long text.\n Summarise this."  # as ollama joins them
    assert ollama_emulator.last_request("/api/generate").body["prompt"] == prompt
    assert result.stdout == expected_reply("llama3.2", prompt).text + "\n"
    alone = cli("run", "llama3.2", input=PROMPT)
    assert alone.stdout == expected_reply("llama3.2", PROMPT).text + "\n"


def test_run_takes_the_generation_flags(cli, ollama_emulator):
    result = cli(
        "run", "qwen3", PROMPT, "--system", "Be brief.", "--think", "low", "--keepalive", "1m",
        "-o", "seed=3", "--format", "json", "--hidethinking",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = ollama_emulator.last_request("/api/generate").body
    assert body == {
        "model": "qwen3", "prompt": PROMPT, "system": "Be brief.", "think": "low",
        "keep_alive": "1m", "options": {"seed": 3}, "format": "json", "stream": True,
    }  # fmt: skip


def test_run_pulls_a_model_that_is_not_here_first(cli, ollama_emulator):
    result = cli("run", "tinyllama", PROMPT, "--insecure", "--nowordwrap")
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected_reply("tinyllama", PROMPT).text + "\n"
    assert "pulling manifest" in result.stderr
    assert result.stderr.rstrip().endswith("success")
    paths = [r.path for r in ollama_emulator.requests]
    assert paths == ["/api/show", "/api/pull", "/api/show", "/api/generate"]
    assert ollama_emulator.last_request("/api/pull").body == {
        "model": "tinyllama", "insecure": True, "stream": True,
    }  # fmt: skip


def test_run_of_a_model_nowhere_is_the_users_mistake(cli):
    result = cli("run", "nosuchmodel", PROMPT)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == ("error: pull model manifest: file does not exist")


def test_run_of_an_embedding_model_prints_the_embedding(cli, ollama_emulator):
    result = cli("run", "nomic-embed-text", "hello", "world", "--dimensions", "8")
    assert result.returncode == 0, result.stderr
    with Ollama(ollama_emulator.base_url) as client:
        expected = client.embed(model="nomic-embed-text", input="hello world", dimensions=8)
    assert result.stdout == json.dumps(expected["embeddings"][0], separators=(",", ":")) + "\n"
    assert len(json.loads(result.stdout)) == 8
    missing = cli("run", "nomic-embed-text", input="")
    assert missing.returncode == 2
    assert "embedding models need input text" in missing.stderr


def test_embed_prints_the_vector_of_the_text_or_of_stdin(cli, ollama_emulator):
    from_args = cli("embed", "nomic-embed-text", "hello", "world")
    from_stdin = cli("embed", "nomic-embed-text", input="hello world\n")
    assert from_args.returncode == from_stdin.returncode == 0
    assert from_args.stdout == from_stdin.stdout
    with Ollama(ollama_emulator.base_url) as client:
        expected = client.embed(model="nomic-embed-text", input="hello world")
    assert json.loads(from_args.stdout) == expected["embeddings"][0]
    whole = cli("embed", "nomic-embed-text", "hi", "--json", "--no-truncate", "--dimensions", "4")
    assert json.loads(whole.stdout)["model"] == "nomic-embed-text"
    body = ollama_emulator.last_request("/api/embed").body
    assert body == {"model": "nomic-embed-text", "input": "hi", "truncate": False, "dimensions": 4}


def test_stop_unloads_a_model(cli, ollama_emulator):
    with Ollama(ollama_emulator.base_url) as client:
        assert client.preload(model="llama3.2")
        assert [m["name"] for m in client.list_running()["models"]] == ["llama3.2:latest"]
        result = cli("stop", "llama3.2")
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        assert client.list_running()["models"] == []
    body = ollama_emulator.last_request("/api/generate").body
    assert body == {"model": "llama3.2", "keep_alive": 0, "stream": False}
    missing = cli("stop", "nope")
    assert missing.returncode == 2
    assert missing.stderr == 'error: couldn\'t find model "nope" to stop\n'


def test_version_flag_and_no_command(cli, ollama_emulator):
    for flag in ("-v", "--version"):
        result = cli(flag)
        assert result.returncode == 0
        assert result.stdout.splitlines()[1] == "server version is 0.12.6"
    helped = cli()
    assert (helped.returncode, helped.stderr) == (0, "")
    assert helped.stdout.startswith("usage: ollama-actor ")
    for command in ("run", "stop", "embed", "chat", "show"):
        assert f"    {command} " in helped.stdout


def test_version_without_a_server_still_gives_the_clients():
    result = subprocess.run(
        [*CLI, "--host", "127.0.0.1:9", "-v"], capture_output=True, text=True, timeout=30,
        env=environment("127.0.0.1:9"), check=False,
    )  # fmt: skip
    assert result.returncode == 0
    client_line, warning = result.stdout.splitlines()
    assert client_line.startswith("client version is ")
    assert warning == "Warning: could not connect to a running Ollama instance"


def test_the_emulator_command_names_itself_in_its_help(cli):
    result = cli("emulator", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: ollama-actor emulator ")


def test_run_on_a_terminal_is_a_conversation(ollama_emulator):
    terminal = Pty(["run", "llama3.2"], environment(ollama_emulator.url))
    try:
        terminal.wait_for(">>> ")
        answer = terminal.ask("Hi")
        terminal.type("/bye\n")
        assert terminal.exit_code() == 0
    finally:
        terminal.close()
    assert expected_reply("llama3.2", [{"role": "user", "content": "Hi"}]).text in answer
    chat = ollama_emulator.last_request("/api/chat").body
    assert chat["messages"] == [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize("errors", ["strict", "surrogateescape"])
@pytest.mark.parametrize("command", ["run", "generate", "chat", "embed"])
def test_bytes_on_stdin_that_are_not_utf8_are_sent_as_ollama_sends_them(
    ollama_emulator, command, errors
):
    # `ollama run` sends what it read; Go's JSON writes each invalid byte as U+FFFD.
    # Python's stdin is strict under a UTF-8 locale, surrogateescape under C or POSIX.
    model = "nomic-embed-text" if command == "embed" else "llama3.2"
    result = subprocess.run(
        [*CLI, command, model],
        input=b"caf\xe9 \xff\xfe ok\n",
        capture_output=True,
        timeout=WAIT,
        env=environment(ollama_emulator.url, PYTHONIOENCODING=f"utf-8:{errors}"),
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, b""), result.stderr.decode(errors="replace")
    body = ollama_emulator.requests[-1].body
    text = body.get("prompt") or body.get("input") or body["messages"][-1]["content"]
    assert text.removesuffix("\n") == "caf\ufffd \ufffd\ufffd ok"


def test_a_conversation_on_a_terminal_takes_bytes_that_are_not_utf8(ollama_emulator):
    terminal = Pty(["chat", "llama3.2"], environment(ollama_emulator.url))
    try:
        terminal.wait_for(">>> ")
        os.write(terminal.fd, b"caf\xe9 \xff ok\n")
        terminal.wait_for(">>> ", count=2)  # answered, and the conversation goes on
        terminal.type("/bye\n")
        assert terminal.exit_code() == 0
    finally:
        terminal.close()
    asked = [r.body["messages"][-1] for r in ollama_emulator.requests if r.path == "/api/chat"]
    assert len(asked) == 1
    # readline may drop a byte that starts a character never finished (\xe9 here)
    assert asked[0]["content"] in ("caf\ufffd \ufffd ok", "caf \ufffd ok")
