"""pytest fixtures for testing against the Ollama emulator (``ollama_actor.emulator``).

Enable with ``pytest_plugins = ["ollama_actor.pytest_plugin"]`` in a top-level conftest (or the
``pytest11`` entry point), or import the fixtures into a conftest.

Installing the package loads this plugin into every pytest run, so it imports the emulator only
when a test asks for one of its fixtures (a test checks that loading it imports neither the
emulator nor the client).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

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


class EmulatorFleet:
    """Starts emulator subprocesses for a pool of hosts, and stops them all at the end.

    ``fleet(["llama3.2"], ["qwen3"], [])`` starts three emulators at once, each with those
    models in memory (``loaded``), and returns them in that order; other keyword arguments
    (``token_rate``, ``num_parallel``, ...) go to every `EmulatorProcess`. Each can then be
    killed (``kill()``: SIGKILL, a crash) and started again on its port (``start()``).
    """

    def __init__(self) -> None:
        self.emulators: list[EmulatorProcess] = []

    def __call__(self, *loaded: Sequence[str], **settings: Any) -> list[EmulatorProcess]:
        from ollama_actor.emulator import EmulatorProcess

        started = [EmulatorProcess(loaded=tuple(models), **settings) for models in loaded]
        self.emulators += started
        failures: list[BaseException] = []

        def start(emulator: EmulatorProcess) -> None:
            try:
                emulator.start()
            except BaseException as exc:  # reported below, on the test's thread
                failures.append(exc)

        threads = [threading.Thread(target=start, args=(e,)) for e in started]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]
        return started

    def stop(self) -> None:
        """Stop every emulator this fleet started (those killed already are left as they are)."""
        for emulator in self.emulators:
            emulator.stop()


@pytest.fixture
def ollama_emulators() -> Iterator[EmulatorFleet]:
    """Several emulator subprocesses, each with its own models in memory, for a pool of hosts:
    ``hosts = ollama_emulators(["llama3.2"], ["qwen3"], [])``; all stopped afterwards."""
    fleet = EmulatorFleet()
    try:
        yield fleet
    finally:
        fleet.stop()
