"""Every error is one line on stderr, and the exit code says whose mistake it was."""

import socket
import subprocess
import time

import pytest

from ollama_actor.emulator import error_line, stall, status

from .conftest import CLI, environment

PROMPT = "Why is the sky blue?"


def _one_error_line(result):
    assert result.stderr.startswith("error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.removeprefix("error: ").rstrip("\n")


def test_unknown_model_is_the_users_mistake(cli):
    result = cli("generate", "nope", PROMPT)
    assert result.returncode == 2
    assert result.stdout == ""
    assert _one_error_line(result) == "model 'nope' not found (HTTP 404 from POST /api/generate)"


def test_invalid_parameter_names_the_flag_and_sends_nothing(cli, ollama_emulator):
    result = cli("generate", "llama3.2", PROMPT, "--top-logprobs", "50")
    assert result.returncode == 2
    assert _one_error_line(result) == "--top-logprobs: must be between 0 and 20, not 50"
    option = cli("generate", "llama3.2", PROMPT, "-o", "temperature=hot")
    assert option.returncode == 2
    assert _one_error_line(option) == "--option temperature: must be a number, not str"
    assert ollama_emulator.request_count("/api/generate") == 0


@pytest.mark.parametrize(
    "args",
    [
        ("bogus",),
        ("generate",),
        ("list", "--nope"),
        ("--timeout", "-1", "list"),
        ("generate", "llama3.2", "hi", "--retries", "x"),
        ("--host", "http://x:port", "list"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(cli, args):
    result = cli(*args)
    assert result.returncode == 2
    _one_error_line(result)


def test_server_errors_exit_1(cli, ollama_emulator):
    ollama_emulator.inject(status(500), path="/api/tags")
    listing = cli("list")
    assert listing.returncode == 1
    assert _one_error_line(listing) == "internal server error (HTTP 500 from GET /api/tags)"
    ollama_emulator.inject(status(503), path="/api/generate")
    busy = cli("generate", "llama3.2", PROMPT, "--retries", "0")
    assert busy.returncode == 1
    assert "(HTTP 503 from POST /api/generate)" in _one_error_line(busy)
    ollama_emulator.inject(status(429), path="/api/generate")
    limited = cli("generate", "llama3.2", PROMPT, "--retries", "0")
    assert limited.returncode == 1  # rate limited: the server's state, not the user's mistake


def test_an_error_line_mid_stream_exits_1_after_the_partial_answer(cli, ollama_emulator):
    ollama_emulator.inject(error_line(after=3, message="out of memory"), path="/api/generate")
    result = cli("generate", "llama3.2", PROMPT, "--retries", "0")
    assert result.returncode == 1
    assert _one_error_line(result) == "out of memory"
    assert result.stdout.endswith("\n")
    assert len(result.stdout.split()) >= 2  # the tokens that came before the error


def test_a_stalled_stream_times_out(cli, ollama_emulator):
    ollama_emulator.inject(stall(after=2), path="/api/generate")
    started = time.monotonic()
    result = cli("--timeout", "0.5", "generate", "llama3.2", PROMPT, "--retries", "0")
    assert result.returncode == 1
    assert "0.5" in _one_error_line(result)
    assert time.monotonic() - started < 10


def test_connection_refused_exits_1_with_a_hint(ollama_emulator):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, not listening: the connection is refused
        host = f"127.0.0.1:{s.getsockname()[1]}"
        result = subprocess.run(
            [*CLI, "--host", host, "list"],
            capture_output=True, text=True, env=environment(ollama_emulator.url),
            timeout=30, check=False,
        )  # fmt: skip
    assert result.returncode == 1
    line = _one_error_line(result)
    assert line.startswith(f"cannot connect to Ollama at http://{host}")
    assert line.endswith("(is Ollama running? use --host or OLLAMA_HOST to point elsewhere)")


def test_debug_adds_the_traceback_and_keeps_the_code(cli):
    result = cli("--debug", "generate", "nope", PROMPT)
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip("\n").endswith(
        "error: model 'nope' not found (HTTP 404 from POST /api/generate)"
    )


def test_a_closed_output_ends_quietly(ollama_emulator):
    ollama_emulator.set_pacing(token_rate=200)
    process = subprocess.Popen(
        [*CLI, "generate", "llama3.2", PROMPT, "-o", "num_predict=400"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment(ollama_emulator.url),
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stderr is not None
    assert process.stdout.read(5)  # the reader takes a little, then goes away: `| head -c 5`
    process.stdout.close()
    assert process.wait(timeout=30) == 141
    assert process.stderr.read() == b""
    process.stderr.close()


def test_a_misspelt_option_is_refused_naming_the_nearest_and_sends_nothing(cli, ollama_emulator):
    result = cli("generate", "llama3.2", PROMPT, "-o", "temprature=0.2")
    assert result.returncode == 2
    assert _one_error_line(result) == (
        "--option temprature: is not one of Ollama's options (did you mean 'temperature'?); "
        "send it anyway with --unchecked-options"
    )
    assert ollama_emulator.request_count("/api/generate") == 0


def test_option_values_as_ollama_takes_them_and_newer_names_on_request(cli, ollama_emulator):
    result = cli("generate", "llama3.2", PROMPT, "-o", "num_predict=10.0")
    assert (result.returncode, result.stderr) == (0, "")
    assert ollama_emulator.last_request("/api/generate").body["options"] == {"num_predict": 10}
    newer = cli("generate", "llama3.2", PROMPT, "-o", "new_knob=1", "--unchecked-options")
    assert (newer.returncode, newer.stderr) == (0, "")
    body = ollama_emulator.last_request("/api/generate").body
    assert body["options"] == {"new_knob": 1}
