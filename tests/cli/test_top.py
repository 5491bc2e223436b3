"""``ollama-actor top URL``: a running tree's status drawn live on a pseudo-terminal (redrawn as
streams come and go; q and Ctrl-C end it with 0), once on a pipe, as JSON with --json."""

from __future__ import annotations

import json
import subprocess

import pytest

import actors
from actors import ChildSpec, DynamicSupervisor, Supervisor
from ollama_actor import Ollama, StatusServer

from .conftest import CLI, WAIT, environment
from .terminal import Pty


@pytest.fixture
def program(ollama_emulator):
    """A running tree with a status server and slow streams in flight (what top looks at)."""
    ollama_emulator.set_pacing(10.0)
    root = Supervisor.start(
        [
            ChildSpec("status", StatusServer.start, name="status"),
            ChildSpec(
                "streams",
                lambda: DynamicSupervisor.start(max_restarts=None),
                type="supervisor",
                name="streams",
            ),
        ]
    )
    client = Ollama(ollama_emulator.base_url)
    url = actors.Address("status").proxy().url.get(timeout=5)

    def start_streams(n, prompt="q"):
        return [
            client.completion(
                model="llama3.2",
                prompt=f"{prompt}{i}",
                stream=actors.Inbox(),
                supervisor=actors.whereis("streams"),
                options={"num_predict": 10_000},
            )
            for i in range(n)
        ]

    yield url, start_streams
    root.stop()
    client.close()


def test_top_draws_the_tree_and_the_streams_live_and_q_ends_it(program):
    url, start_streams = program
    handles = start_streams(3)
    top = Pty(["top", url, "--interval", "0.2"], environment("http://127.0.0.1:1"))
    try:
        top.wait_for("streams in flight: 3", timeout=WAIT)
        top.wait_for("DynamicSupervisor one_for_one", timeout=WAIT)
        top.wait_for("3 running", timeout=WAIT)
        assert "llama3.2" in top.screen
        assert str(handles[0].ref) in top.screen
        more = start_streams(2, prompt="more")
        top.wait_for("streams in flight: 5", timeout=WAIT)  # redrawn as streams come
        for handle in handles + more:
            handle.cancel()
        top.wait_for("streams in flight: 0", timeout=WAIT)  # ... and go
        top.wait_for("stream error", timeout=WAIT)
        top.type("q")
        assert top.exit_code(timeout=WAIT) == 0
    finally:
        top.close()


def test_ctrl_c_ends_top_with_0_and_a_program_that_goes_away_is_shown(program):
    url, _start_streams = program
    top = Pty(["top", url, "--interval", "0.2"], environment("http://127.0.0.1:1"))
    try:
        top.wait_for("streams in flight: 0", timeout=WAIT)
        actors.whereis("status").stop()  # the program stops answering
        top.wait_for("not answering", timeout=WAIT)
        top.type("\x03")
        assert top.exit_code(timeout=WAIT) == 0
    finally:
        top.close()


def test_on_a_pipe_top_draws_once_and_json_prints_the_status(program):
    url, start_streams = program
    handles = start_streams(2)
    env = environment("http://127.0.0.1:1")
    drawn = subprocess.run(
        [*CLI, "top", url], capture_output=True, text=True, timeout=WAIT, env=env, check=False
    )
    assert drawn.returncode == 0, drawn.stderr
    assert "Supervisor one_for_one" in drawn.stdout
    assert "streams in flight:" in drawn.stdout
    printed = subprocess.run(
        [*CLI, "--json", "top", url],
        capture_output=True,
        text=True,
        timeout=WAIT,
        env=env,
        check=False,
    )
    assert printed.returncode == 0, printed.stderr
    document = json.loads(printed.stdout)
    assert {s["ref"] for s in document["streams"]["oldest"]} >= {str(h.ref) for h in handles}
    for handle in handles:
        handle.cancel()


def test_a_url_that_does_not_answer_is_one_error_line():
    done = subprocess.run(
        [*CLI, "top", "127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=WAIT,
        env=environment("http://127.0.0.1:1"),
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot read the status at http://127.0.0.1:1/status")
    assert done.stderr.count("\n") == 1
