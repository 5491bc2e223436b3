"""Attacks on the pool of hosts (issue 14): each test here once failed on the code it guards."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from ollama_actor import Ollama, OllamaPool, Timeout, TotalTimeout
from ollama_actor.emulator import Emulator, delay, stall


@pytest.fixture
def two() -> Iterator[list[Emulator]]:
    """Two in-process emulators, qwen3 in memory on the first only (so it is tried first)."""
    with ExitStack() as stack:
        yield [stack.enter_context(Emulator(loaded=models)) for models in (["qwen3"], [])]


def pool_of(emulators, **options) -> OllamaPool:
    client = Ollama([e.url for e in emulators], **options)
    assert isinstance(client, OllamaPool)
    client.refresh()
    return client


def test_the_total_bound_is_the_whole_request_s_across_hosts(two):
    """A request that moves on to another host keeps its one total bound: the caller's budget."""
    with pool_of(two, timeout=Timeout(connect=2, read=2.0, total=2.8)) as client:
        two[0].inject(stall(after=0), path="/api/generate")
        two[1].inject(delay(1.2), path="/api/generate")
        started = time.monotonic()
        with pytest.raises(TotalTimeout):  # not an answer at 3.2 s
            client.completion(model="qwen3", prompt="x", options={"num_predict": 2})
        assert time.monotonic() - started < 2.8 + 1.0
        assert [e.request_count("/api/generate") for e in two] == [1, 1]
