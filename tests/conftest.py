"""Fixtures for the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ollama_actor import Ollama, Timeout, stop_default_supervisor
from ollama_actor.emulator import Emulator


@pytest.fixture
def emu(ollama_emulator: Emulator) -> Emulator:
    """A fresh emulator (the plugin's ``ollama_emulator``), by a shorter name."""
    return ollama_emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[Ollama]:
    """A client of ``emu`` with bounded waits."""
    with Ollama(emu.base_url, timeout=Timeout(connect=5, read=10, total=60)) as c:
        yield c


@pytest.fixture(autouse=True)
def _fresh_default_supervisor() -> Iterator[None]:
    """Each test that streams to a recipient gets the package's default supervisor afresh."""
    yield
    stop_default_supervisor(timeout=10)
