"""Control characters from the server, shown harmlessly on a terminal, kept for pipes and --raw.

The server here is hostile: its tokens, model names, pull status lines and error texts carry
escape sequences that retitle the window (OSC 0), write the clipboard (OSC 52), hide a link
(OSC 8), clear the screen, and C1, BEL, CR, backspace and DEL. The command runs on a real
pseudo-terminal (its stdout and stderr each a pty in raw mode, so every byte written is read
back unchanged), on a pipe, and with ``--raw-output``.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
import tty

import pytest

from ollama_actor._cli._terminal import visible
from tests.reliability.test_secure_defaults import tiny_server

from .conftest import CLI, environment
from .terminal import Terminal, run_on_pty

TITLE = "\x1b]0;pwned\x07"
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"
LINK = "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\"
CLEAR = "\x1b[2J\x1b[H"
C1 = "\x9b31m"
OTHERS = "bell\x07 back\x08 del\x7f cr\rend"
TOKENS = ["Hello ", TITLE, "world ", CLIPBOARD, LINK, CLEAR, C1, OTHERS, "\ttab\n"]
HOSTILE = (TITLE, CLIPBOARD, "\x1b]8;;", CLEAR, "\x9b", "\x07", "\x08", "\x7f", "\r")
NAME = f"evil{TITLE}:latest"


def _reply(status, body, content_type="application/json; charset=utf-8"):
    data = body.encode() if isinstance(body, str) else body
    head = f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nConnection: close\r\n"
    return head.encode() + b"Content-Length: %d\r\n\r\n%s" % (len(data), data)


def _lines(*chunks):
    return "".join(json.dumps(chunk) + "\n" for chunk in chunks)


def hostile_server(head: bytes) -> bytes:
    """The one route server: what a hostile Ollama answers to each request."""
    target = head.split(b" ", 2)[1].decode()
    if target == "/api/generate":
        chunks = [{"model": "m", "response": t, "done": False} for t in TOKENS]
        chunks.insert(0, {"model": "m", "thinking": f"hmm{TITLE}", "response": "", "done": False})
        done = {"model": "m", "response": "", "done": True, "eval_count": len(TOKENS)}
        return _reply(200, _lines(*chunks, done), "application/x-ndjson")
    if target == "/api/tags":
        model = {"name": NAME, "digest": "0" * 64, "size": 1, "modified_at": ""}
        return _reply(200, json.dumps({"models": [model]}))
    if target == "/api/pull":
        statuses = [{"status": f"pulling manifest{TITLE}"}, {"status": "success"}]
        return _reply(200, _lines(*statuses), "application/x-ndjson")
    return _reply(500, json.dumps({"error": f"boom{TITLE}{CLEAR}"}))


@pytest.fixture
def hostile():
    with tiny_server(hostile_server) as (port, _):
        yield f"http://127.0.0.1:{port}"


def _terminal():
    """A pty pair in raw mode (no CR added to LF) and 200 columns wide."""
    main, side = pty.openpty()
    tty.setraw(side)
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    return main, side


def _drain(fd: int, until: float) -> bytes:
    data = b""
    while time.monotonic() < until:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            continue
        try:
            piece = os.read(fd, 65536)
        except OSError:  # the other side is closed
            break
        if not piece:
            break
        data += piece
    return data


def on_terminal(host: str, *args: str, color: bool = False) -> tuple[int, str, str]:
    """Run the command with stdout and stderr on two terminals; (exit code, out, err)."""
    out_main, out_side = _terminal()
    err_main, err_side = _terminal()
    env = environment(host)
    if color:
        env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [*CLI, *args], stdin=subprocess.DEVNULL, stdout=out_side, stderr=err_side, env=env
    )
    os.close(out_side)
    os.close(err_side)
    try:
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    until = time.monotonic() + 2
    out, err = _drain(out_main, until), _drain(err_main, until)
    os.close(out_main)
    os.close(err_main)
    return code, out.decode(errors="replace"), err.decode(errors="replace")


def on_pipes(host: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command with stdout and stderr on pipes (their bytes decoded, CR kept)."""
    result = subprocess.run(
        [*CLI, *args], capture_output=True, timeout=30, env=environment(host), check=False
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def assert_harmless(text: str) -> None:
    for sequence in HOSTILE:
        assert sequence not in text, f"{sequence!r} reached the terminal: {text!r}"


def test_visible_replaces_every_control_but_tab_and_newline():
    controls = "".join(map(chr, [*range(0x20), 0x7F, *range(0x80, 0xA0)]))
    shown = visible(controls)
    assert shown == ("␀␁␂␃␄␅␆␇␈\t\n␋␌␍␎␏␐␑␒␓␔␕␖␗␘␙␚␛␜␝␞␟␡" + "\ufffd" * 32)
    assert visible("naïve 東京 🙂 <b> \u00a0") == "naïve 東京 🙂 <b> \u00a0"  # text stays text


@pytest.mark.parametrize("buffer", [[], ["--buffer"]], ids=["shown-live", "held"])
def test_model_output_on_a_terminal_shows_controls_visibly(hostile, buffer):
    code, out, err = on_terminal(hostile, "generate", "m", "hi", *buffer)
    assert code == 0, err
    assert_harmless(out)
    assert "Hello ␛]0;pwned␇world ␛]52;c;cm0gLXJmIH4=␇␛]8;;http://evil.example␛\\click" in out
    assert "␛[2J␛[H\ufffd31mbell␇ back␈ del␡ cr␍end\ttab\n" in out


@pytest.mark.parametrize("buffer", [[], ["--buffer"]], ids=["shown-live", "held"])
def test_own_colours_still_reach_the_terminal(hostile, buffer):
    code, out, err = on_terminal(hostile, "generate", "m", "hi", *buffer, color=True)
    assert code == 0, err
    assert "\x1b[2mThinking...\n\x1b[0m\x1b[2mhmm␛]0;pwned␇\x1b[0m" in out  # dimmed, its text safe
    assert_harmless(out.replace("\x1b[2m", "").replace("\x1b[0m", ""))


def test_a_pipe_gets_the_bytes_as_received(hostile):
    result = on_pipes(hostile, "generate", "m", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Thinking...\nhmm" + TITLE + "\n...done thinking.\n\n" + "".join(TOKENS)


def test_raw_keeps_the_bytes_on_a_terminal(hostile):
    code, out, _ = on_terminal(hostile, "--raw-output", "generate", "m", "hi")
    assert code == 0
    assert "".join(TOKENS) in out


def test_server_error_text_on_a_terminal(hostile):
    code, _, err = on_terminal(hostile, "show", "m")
    assert code == 1
    assert err.startswith("error: boom␛]0;pwned␇␛[2J␛[H")
    assert_harmless(err)
    raw = on_pipes(hostile, "show", "m")
    assert raw.stderr.startswith(f"error: boom{TITLE}{CLEAR}")


def test_model_names_on_a_terminal(hostile):
    code, out, err = on_terminal(hostile, "list")
    assert code == 0, err
    assert_harmless(out)
    assert "evil␛]0;pwned␇:latest" in out
    assert NAME in on_pipes(hostile, "list").stdout


def test_json_lines_escape_every_control(hostile):
    code, out, err = on_terminal(hostile, "--json", "list")
    assert code == 0, err
    assert_harmless(out)
    assert json.loads(out)["models"][0]["name"] == NAME  # the same value, escaped
    piped = on_pipes(hostile, "--json", "generate", "m", "hi").stdout
    assert "\x9b" not in piped
    assert [json.loads(line).get("response") for line in piped.splitlines()][1:-1] == TOKENS


@pytest.mark.parametrize("progress", ["plain", "auto"])  # auto: rich's live bars
def test_pull_status_on_a_terminal(hostile, progress):
    code, out, err = on_terminal(hostile, "pull", "m", "--progress", progress)
    assert code == 0, err
    assert "pulling manifest␛]0;pwned␇" in out
    assert TITLE not in out
    assert "]0;pwned\x07" not in out


def test_a_retry_on_a_terminal_erases_a_partial_answer_with_controls_in_it():
    """The erasing counts the rows the answer takes as shown (``␛``, ``␍`` take a column)."""
    attempts = []
    partial = ["Partial ", CLEAR, "text\rmore ", "x" * 50, TITLE]

    def cut_once(head):
        attempts.append(head)
        if len(attempts) == 1:  # promises more than it sends, then closes: a retryable cut
            body = _lines(*({"model": "m", "response": t, "done": False} for t in partial))
            return _reply(200, body, "application/x-ndjson").replace(
                b"Content-Length: %d" % len(body), b"Content-Length: 100000"
            )
        chunks = [{"model": "m", "response": "Final answer", "done": False}]
        return _reply(200, _lines(*chunks, {"model": "m", "response": "", "done": True}))

    with tiny_server(cut_once) as (port, _):
        env = environment(f"http://127.0.0.1:{port}")
        code, output = run_on_pty(["generate", "m", "hi"], env, columns=40)
    assert code == 0, output
    own = re.sub(r"\r\x1b\[\d+A\x1b\[J", "", output)  # the erasing: the command's own
    assert_harmless(own.replace("\r\n", "\n"))  # (a terminal adds CR to LF)
    note, answer = Terminal(columns=40).feed(output).text.split("\n", 1)
    assert note.startswith("[retry 1 after: ")
    assert answer == "Final answer"
