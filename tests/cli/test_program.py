"""The installed program: its help, and ``ollama-actor emulator`` serving the bundled emulator."""

import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CLI, environment

SCRIPT = Path(sys.executable).parent / "ollama-actor"


@pytest.mark.skipif(not SCRIPT.exists(), reason="the console script is not installed")
def test_the_console_script_lists_the_commands():
    result = subprocess.run(
        [str(SCRIPT), "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0
    for command in ("generate", "chat", "pull", "push", "create", "list", "ps", "show", "cp",
                    "rm", "version", "emulator"):  # fmt: skip
        assert f"    {command} " in result.stdout or f"    {command}\n" in result.stdout


def test_emulator_command_serves_until_interrupted():
    process = subprocess.Popen(
        [*CLI, "emulator", "--port", "0", "--token-rate", "500"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment("127.0.0.1:9"),
    )  # fmt: skip
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(15), "the emulator did not start"
        line = os.read(process.stdout.fileno(), 4096).decode().splitlines()[0]
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ")
        version = subprocess.run(
            [*CLI, "--host", url, "version"],
            capture_output=True, text=True, env=environment(url), timeout=30, check=False,
        )  # fmt: skip
        assert version.stdout.splitlines()[-1] == "server version is 0.12.6"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_emulator_help_is_the_emulators():
    result = subprocess.run(
        [*CLI, "emulator", "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0
    assert "--token-rate" in result.stdout
