"""Shared fixtures: a client talking to a fresh emulator over a real socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ollama_actor import Ollama, Timeout
from ollama_actor.emulator import Emulator


@pytest.fixture
def emu(ollama_emulator: Emulator) -> Emulator:
    return ollama_emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[Ollama]:
    with Ollama(emu.base_url, timeout=Timeout(connect=5, read=10, total=60)) as c:
        yield c
