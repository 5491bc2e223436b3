"""The answer is printed exactly once, whatever the retries: to a pipe, a file, a terminal.

To a pipe or a file nothing can be taken back: a failure is retried only before the first word
was written (else the error says how to retry), unless ``--buffer`` holds the answer until it is
complete. On a terminal a retry erases the partial answer. ``--json`` marks restarts (see
test_generate.py). And what a retry cannot mend is not retried: pull of a missing model.
"""

from __future__ import annotations

import subprocess

from ollama_actor.emulator import cut, error_line, expected_reply

from .conftest import CLI, WAIT, environment
from .terminal import Terminal, run_on_pty

PROMPT = "Why is the sky blue?"
REPLY = expected_reply("llama3.2", PROMPT)
ANSWER = REPLY.text
FIRST_WORDS = "".join(REPLY.content[:3])  # what cut(after=3) lets through


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_to_a_pipe_a_failure_before_any_word_is_retried(cli, ollama_emulator):
    ollama_emulator.inject(cut(after=0), path="/api/generate")
    result = cli("generate", "llama3.2", PROMPT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    assert result.stderr.startswith("[retry 1 after: ")
    assert ollama_emulator.request_count("/api/generate") == 2


def test_to_a_pipe_a_failure_after_the_first_words_is_not_retried(cli, ollama_emulator):
    ollama_emulator.inject(cut(after=3), path="/api/generate")
    result = cli("generate", "llama3.2", PROMPT)
    assert result.returncode == 1
    assert result.stdout == FIRST_WORDS + "\n"  # written once, never followed by the whole
    line = _error_line(result.stderr)
    assert "the answer above is incomplete" in line
    assert "--buffer" in line
    assert "[retry" not in result.stderr
    assert ollama_emulator.request_count("/api/generate") == 1


def test_to_a_file_the_answer_is_written_once(ollama_emulator, tmp_path):
    ollama_emulator.inject(cut(after=3), path="/api/generate")
    out = tmp_path / "out.txt"
    with out.open("w", encoding="utf-8") as file:
        result = subprocess.run(
            [*CLI, "generate", "llama3.2", PROMPT],
            stdout=file, stderr=subprocess.PIPE, text=True, timeout=WAIT,
            env=environment(ollama_emulator.url), check=False,
        )  # fmt: skip
    assert result.returncode == 1
    assert out.read_text(encoding="utf-8") == FIRST_WORDS + "\n"
    assert "the answer above is incomplete" in _error_line(result.stderr)


def test_buffer_retries_and_writes_the_whole_answer_once(cli, ollama_emulator):
    ollama_emulator.inject(cut(after=3), path="/api/generate")
    result = cli("generate", "llama3.2", PROMPT, "--buffer")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    assert result.stderr.startswith("[retry 1 after: ")
    assert ollama_emulator.request_count("/api/generate") == 2


def test_buffer_writes_nothing_of_an_answer_that_never_completes(cli, ollama_emulator):
    ollama_emulator.inject(error_line(after=3), path="/api/generate", times=4)
    result = cli("generate", "llama3.2", PROMPT, "--buffer")
    assert result.returncode == 1
    assert result.stdout == ""
    assert _error_line(result.stderr) == "error: an error was encountered while running the model"
    assert ollama_emulator.request_count("/api/generate") == 4  # the first try and 3 retries


def test_a_chat_to_a_pipe_is_written_once(cli, ollama_emulator):
    ollama_emulator.inject(cut(after=3), path="/api/chat")
    question = [{"role": "user", "content": PROMPT}]
    first = "".join(expected_reply("llama3.2", question).content[:3])
    result = cli("chat", "llama3.2", input=PROMPT + "\n")
    assert result.returncode == 1
    assert result.stdout == first + "\n"
    assert "the answer above is incomplete" in _error_line(result.stderr)
    buffered = cli("chat", "llama3.2", "--buffer", input=PROMPT + "\n")
    assert buffered.returncode == 0
    assert buffered.stdout == expected_reply("llama3.2", question).text + "\n"


def test_on_a_terminal_a_retry_erases_the_partial_answer(ollama_emulator):
    ollama_emulator.inject(cut(after=12), path="/api/generate")
    partial = "".join(REPLY.content[:12])
    assert len(partial) > 40  # two rows of the 40-column terminal, wide characters included
    env = environment(ollama_emulator.url)
    code, output = run_on_pty(["generate", "llama3.2", PROMPT], env, columns=40)
    assert code == 0, output
    assert partial in output  # it was shown, then erased
    screen = Terminal(columns=40).feed(output).text
    note, answer = screen.split("\n", 1)
    assert note.startswith("[retry 1 after: ")
    assert note.endswith("; the answer starts over]")
    assert answer == ANSWER  # wrapped over three rows, and shown once
    assert ollama_emulator.request_count("/api/generate") == 2


def test_on_a_terminal_too_small_to_erase_the_answer_starts_on_a_marked_line(ollama_emulator):
    ollama_emulator.inject(cut(after=12), path="/api/generate")
    partial = "".join(REPLY.content[:12])
    env = environment(ollama_emulator.url)
    code, output = run_on_pty(["generate", "llama3.2", PROMPT], env, columns=12, lines=3)
    assert code == 0, output
    before, note, after = Terminal(columns=12).feed(output).text.split("\n")
    assert before == partial  # five rows: the first ones have scrolled off a 3-line screen
    assert note.startswith("[retry 1 after: ")
    assert note.endswith("; the answer starts over below]")
    assert after == ANSWER


def test_on_a_terminal_buffer_shows_the_answer_before_the_verbose_figures(ollama_emulator):
    ollama_emulator.inject(cut(after=3), path="/api/generate")
    env = environment(ollama_emulator.url)
    args = ["generate", "llama3.2", PROMPT, "--buffer", "--verbose"]
    code, output = run_on_pty(args, env, columns=200)
    assert code == 0, output
    note, answer, *figures = Terminal(columns=200).feed(output).text.split("\n")
    assert note.startswith("[retry 1 after: ")
    assert answer == ANSWER  # held until complete, and then before the figures that follow it
    assert figures[0].startswith("total duration:")
    assert figures[-2].startswith("eval rate:")
    assert figures[-1].startswith("time to first token:")


def test_pull_of_a_missing_model_is_one_request_exit_2_and_no_retry_line(cli, ollama_emulator):
    result = cli("pull", "nosuchmodel")
    assert result.returncode == 2
    assert result.stderr == "error: pull model manifest: file does not exist\n"
    assert ollama_emulator.request_count("/api/pull") == 1
    pushed = cli("push", "nosuchmodel")
    assert pushed.returncode == 2
    assert _error_line(pushed.stderr).endswith("no such file or directory")
    assert ollama_emulator.request_count("/api/push") == 1
