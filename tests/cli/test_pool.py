"""``--host`` given several times: a pool of servers, and a HOST column in ``list`` and ``ps``."""

from __future__ import annotations

import json
import re
import subprocess
from contextlib import ExitStack

import pytest

from ollama_actor.emulator import Emulator, expected_tokens

from .conftest import CLI, WAIT, environment


@pytest.fixture
def two():
    with ExitStack() as stack:
        yield [stack.enter_context(Emulator(loaded=models)) for models in (["llama3.2"], ["qwen3"])]


def run(emulators, *args: str):
    urls = [e if isinstance(e, str) else e.url for e in emulators]
    hosts = [part for url in urls for part in ("--host", url)]
    return subprocess.run(
        [*CLI, *hosts, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=WAIT,
        env=environment("http://127.0.0.1:9"),  # OLLAMA_HOST is not used when --host is given
        check=False,
    )


def test_ps_shows_each_model_with_its_host(two):
    done = run(two, "ps")
    assert (done.returncode, done.stderr) == (0, "")
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["HOST", "NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"]
    assert [row.split()[:2] for row in rows] == [
        [two[0].url, "llama3.2:latest"],
        [two[1].url, "qwen3:latest"],
    ]
    as_json = json.loads(run(two, "--json", "ps").stdout)
    assert [m["host"] for m in as_json["models"]] == [two[0].url, two[1].url]


def test_list_shows_every_host_s_models(two):
    done = run(two, "list")
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["HOST", "NAME", "ID", "SIZE", "MODIFIED"]
    assert {row.split()[0] for row in rows} == {two[0].url, two[1].url}
    assert len(rows) == 8


def test_a_host_that_does_not_answer_is_a_warning(two):
    done = run([*two, "http://127.0.0.1:9"], "ps")  # nothing listens there
    assert done.returncode == 0
    # "down: ..." when the pool's first /api/ps read found it refusing before ps asked it
    warning = r"warning: http://127\.0\.0\.1:9: (down: )?cannot connect to Ollama at "
    assert re.match(warning, done.stderr), done.stderr
    assert len(done.stdout.splitlines()) == 3


def test_generate_goes_to_the_host_with_the_model(two):
    done = run(list(reversed(two)), "generate", "llama3.2", "pool", "-o", "num_predict=5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "".join(expected_tokens("llama3.2", "pool", {"num_predict": 5}))
    assert [e.request_count("/api/generate") for e in two] == [1, 0]


@pytest.mark.parametrize("command", [["pull", "tinyllama"], ["rm", "qwen3"], ["cp", "a", "b"]])
def test_model_management_needs_one_host(two, command):
    done = run(two, *command)
    assert done.returncode == 2
    assert (
        done.stderr == f"error: {command[0]} manages the models of one server: give --host once\n"
    )
    assert sum(e.request_count() for e in two) == 0
