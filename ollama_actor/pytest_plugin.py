"""pytest fixtures for testing against the Ollama emulator (``ollama_actor.emulator``).

Enable with ``pytest_plugins = ["ollama_actor.pytest_plugin"]`` in a top-level conftest (or the
``pytest11`` entry point), or import the fixtures into a conftest.

Installing the package loads this plugin into every pytest run, so it imports the emulator only
when a test asks for one of its fixtures (a test checks that loading it imports neither the
emulator nor the client).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ollama_actor.emulator import Emulator, EmulatorProcess


@pytest.fixture
def ollama_emulator() -> Iterator[Emulator]:
    """A fresh in-process emulator (no faults, empty log, seeded models), stopped afterwards."""
    from ollama_actor.emulator import Emulator

    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def ollama_emulator_process() -> Iterator[EmulatorProcess]:
    """A fresh emulator in a subprocess (for crash and restart tests), stopped afterwards."""
    from ollama_actor.emulator import EmulatorProcess

    with EmulatorProcess() as emulator:
        yield emulator
