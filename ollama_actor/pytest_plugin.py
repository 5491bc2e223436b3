"""pytest fixtures for testing against the Ollama emulator (``ollama_actor.emulator``).

Enable with ``pytest_plugins = ["ollama_actor.pytest_plugin"]`` in a top-level conftest (or the
``pytest11`` entry point), or import the fixtures into a conftest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ollama_actor.emulator import Emulator, EmulatorProcess


@pytest.fixture
def ollama_emulator() -> Iterator[Emulator]:
    """A fresh in-process emulator (no faults, empty log, seeded models), stopped afterwards."""
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def ollama_emulator_process() -> Iterator[EmulatorProcess]:
    """A fresh emulator in a subprocess (for crash and restart tests), stopped afterwards."""
    with EmulatorProcess() as emulator:
        yield emulator
