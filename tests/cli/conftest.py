"""Run the ``ollama-actor`` command as a user would: a subprocess talking to an emulator."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "ollama_actor.cli"]
WAIT = 30.0


def environment(host: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "OLLAMA_HOST": host, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    env.pop("OLLAMA_API_KEY", None)
    env.update(extra)
    return env


@pytest.fixture
def cli(ollama_emulator):
    """``cli("generate", "llama3.2", "hi", input="")``: the finished process (text output)."""

    def run(*args: str, input: str = "", timeout: float = WAIT, **env: str):
        return subprocess.run(
            [*CLI, *args],
            input=input,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            env=environment(ollama_emulator.url, **env),
            check=False,
        )

    return run
