"""Ctrl-C: the running stream is cancelled, the server sees the connection close, exit 130."""

import os
import selectors
import signal
import subprocess
import time

from .conftest import CLI, environment
from .terminal import Pty

PROMPT = "Why is the sky blue?"


def _first_output(process, timeout=15.0):
    """Wait (bounded) for the first bytes the command prints."""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(timeout), "the command printed nothing"
    return os.read(process.stdout.fileno(), 4096)


def _interrupt_mid_stream(emulator, *args, input=None):
    emulator.set_pacing(token_rate=10)  # a slow model: the stream is still running
    process = subprocess.Popen(
        [*CLI, *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=environment(emulator.url),
    )  # fmt: skip
    try:
        if input is not None:
            process.stdin.write(input)
            process.stdin.flush()
        printed = _first_output(process)
        request = emulator.last_request()
        assert not request.ended
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=10)
        exited = time.monotonic()
        out, err = process.communicate(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return code, printed + out, err, emulator.wait_until_ended(request.id, timeout=5), sent, exited


def test_ctrl_c_cancels_generate_and_exits_130(ollama_emulator):
    code, out, err, request, sent, exited = _interrupt_mid_stream(
        ollama_emulator, "generate", "llama3.2", PROMPT, "-o", "num_predict=200"
    )
    assert code == 130
    assert b"Traceback" not in err
    assert err == b""
    assert out.endswith(b"\n")  # the partial answer's line is ended
    assert request.outcome == "client_closed"  # the server saw the connection close
    assert request.lines < 200
    assert exited - sent < 5


def test_ctrl_c_in_a_piped_chat_exits_130(ollama_emulator):
    code, _out, err, request, _sent, _exited = _interrupt_mid_stream(
        ollama_emulator, "chat", "llama3.2", "-o", "num_predict=200", input=b"Tell me more\n"
    )
    assert code == 130
    assert err == b""
    assert request.path == "/api/chat"
    assert request.outcome == "client_closed"


def test_ctrl_c_in_an_interactive_chat_stops_the_answer(ollama_emulator):
    ollama_emulator.set_pacing(token_rate=10)
    terminal = Pty(["chat", "llama3.2", "-o", "num_predict=200"], environment(ollama_emulator.url))
    try:
        terminal.wait_for(">>> ")
        terminal.type("Hello\n")
        request = ollama_emulator.last_request("/api/chat")
        terminal.wait_for("Hello\r\n")
        terminal.wait_for_output_after("Hello\r\n")  # the answer has begun
        terminal.type("\x03")
        terminal.wait_for("[cancelled: this question is not kept]")
        assert ollama_emulator.wait_until_ended(request.id).outcome == "client_closed"
        terminal.wait_for(">>> ", count=2)  # back at the prompt

        ollama_emulator.set_pacing(token_rate=None)
        terminal.type("Again\n")
        terminal.wait_for(">>> ", count=3)
        sent = ollama_emulator.last_request("/api/chat").body["messages"]
        assert sent == [{"role": "user", "content": "Again"}]  # the cancelled turn was dropped
        terminal.type("/bye\n")
        assert terminal.exit_code() == 0
    finally:
        terminal.close()
