"""``ollama-actor generate``: tokens as they arrive, thinking set apart, JSON lines, retries."""

import json
import threading

from ollama_actor import Ollama, Timeout
from ollama_actor._cli._printer import run_stream
from ollama_actor.emulator import cut, expected_reply

PROMPT = "Why is the sky blue?"


def test_generate_prints_the_answer(cli, ollama_emulator):
    result = cli("generate", "llama3.2", PROMPT)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == expected_reply("llama3.2", PROMPT).text + "\n"
    request = ollama_emulator.last_request("/api/generate")
    assert request.body["stream"] is True
    assert request.body["prompt"] == PROMPT


def test_thinking_is_framed_and_can_be_hidden(cli):
    reply = expected_reply("qwen3", PROMPT)
    assert reply.thinking  # qwen3 thinks unless told not to
    shown = cli("generate", "qwen3", PROMPT)
    assert shown.returncode == 0
    assert shown.stdout == (
        f"Thinking...\n{reply.thinking_text}\n...done thinking.\n\n{reply.text}\n"
    )
    hidden = cli("generate", "qwen3", PROMPT, "--hidethinking")
    assert hidden.stdout == reply.text + "\n"


def test_json_prints_each_chunk_as_sent(cli):
    result = cli("--json", "generate", "llama3.2", PROMPT)
    assert result.returncode == 0
    chunks = [json.loads(line) for line in result.stdout.splitlines()]
    reply = expected_reply("llama3.2", PROMPT)
    assert [c["response"] for c in chunks[:-1]] == list(reply.content)
    assert chunks[-1]["done"] is True
    assert chunks[-1]["eval_count"] == reply.eval_count


def test_global_options_may_follow_the_command(cli):
    before = cli("--json", "generate", "llama3.2", PROMPT).stdout.splitlines()
    after = cli("generate", "llama3.2", PROMPT, "--json").stdout.splitlines()
    assert [json.loads(line)["response"] for line in before] == [
        json.loads(line)["response"] for line in after
    ]


def test_prompt_from_stdin(cli):
    result = cli("generate", "llama3.2", input=PROMPT + "\n")
    assert result.returncode == 0
    assert result.stdout == expected_reply("llama3.2", PROMPT).text + "\n"


def test_schema_flags_reach_the_request(cli, ollama_emulator):
    result = cli(
        "generate", "llama3.2", PROMPT, "-o", "seed=7", "-o", "num_predict=4",
        "--keep-alive", "5m", "--system", "be brief", "--no-raw",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = ollama_emulator.last_request("/api/generate").body
    assert body["options"] == {"seed": 7, "num_predict": 4}
    assert (body["keep_alive"], body["system"], body["raw"]) == ("5m", "be brief", False)
    reply = expected_reply("llama3.2", PROMPT, {"seed": 7, "num_predict": 4}, system="be brief")
    assert result.stdout == reply.text + "\n"
    assert reply.done_reason == "length"


def test_a_cut_stream_is_retried_and_the_answer_is_printed_once(cli, ollama_emulator):
    ollama_emulator.inject(cut(after=3), path="/api/generate")
    result = cli("generate", "llama3.2", PROMPT, "--buffer")
    assert result.returncode == 0
    text = expected_reply("llama3.2", PROMPT).text
    assert result.stderr.startswith("[retry 1 after: ")
    assert result.stderr.count("\n") == 1
    assert result.stdout == text + "\n"  # the whole answer only (test_once.py has the rest)
    assert ollama_emulator.request_count("/api/generate") == 2


def test_retries_zero_fails_at_the_first_cut(cli, ollama_emulator):
    ollama_emulator.inject(cut(after=3), path="/api/generate")
    result = cli("generate", "llama3.2", PROMPT, "--retries", "0")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert ollama_emulator.request_count("/api/generate") == 1


class _RecordingView:
    """Records which thread shows each message."""

    def __init__(self):
        self.threads = []
        self.kinds = []

    def data(self, chunk):
        self.threads.append(threading.current_thread())
        self.kinds.append("data")

    def restart(self, attempt, error):
        self.kinds.append("restart")

    def done(self, response):
        self.threads.append(threading.current_thread())
        self.kinds.append("done")

    def error(self, exc):
        self.kinds.append("error")


def test_tokens_are_shown_by_the_printing_actor(ollama_emulator):
    """What the command prints travels stream=<actor>: the printer's thread shows each chunk."""
    view = _RecordingView()
    with Ollama(ollama_emulator.base_url, timeout=Timeout(connect=5, read=10)) as client:
        response = run_stream(
            lambda recipient, retry: client.completion(
                model="llama3.2", prompt=PROMPT, stream=recipient, retry=retry
            ),
            view,
        )
    assert response["response"] == expected_reply("llama3.2", PROMPT).text
    assert view.kinds[-1] == "done"
    assert view.kinds.count("data") == len(expected_reply("llama3.2", PROMPT).content) + 1
    (printer,) = set(view.threads)  # one thread showed everything: the printer actor's own
    assert printer.name.startswith("StreamPrinter-")


def test_json_marks_a_restart_and_the_chunks_start_over(cli, ollama_emulator):
    ollama_emulator.inject(cut(after=3), path="/api/generate")
    result = cli("--json", "generate", "llama3.2", PROMPT)
    assert result.returncode == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    (marker,) = [i for i, line in enumerate(lines) if "restart" in line]
    assert lines[marker]["restart"]["attempt"] == 1
    assert lines[marker]["restart"]["error"]
    assert marker == 3  # the three chunks the cut let through
    after = lines[marker + 1 :]
    assert "".join(c["response"] for c in after) == expected_reply("llama3.2", PROMPT).text
