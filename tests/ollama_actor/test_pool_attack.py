"""Attacks on the pool of hosts (issue 14): each test here once failed on the code it guards."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from ollama_actor import (
    ConnectionLost,
    HTTPError,
    Ollama,
    OllamaError,
    OllamaPool,
    Timeout,
    TotalTimeout,
)
from ollama_actor.emulator import Emulator, delay, stall, status
from tests.ollama_actor.test_pool import wait_until


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


def test_a_queued_request_with_no_untried_host_left_ends_at_once(ollama_emulators):
    """Queued after a 503 from one host, for the other's slot: when that other host dies,
    no host it has not tried is up, so it ends with the last host's own error, at once
    (even though no slot is free then, the 503 host being full again)."""
    hosts = ollama_emulators(["qwen3"], [], token_rate=5)
    with pool_of(hosts, max_in_flight=1, timeout=Timeout(connect=2, read=20)) as client:
        holding = client.completion(model="qwen3", prompt="hold", stream=True)
        next(holding)
        hosts[1].inject(status(503), path="/api/generate")
        outcome: list[BaseException] = []
        late = threading.Thread(target=lambda: outcome.append(raised_by(client)))
        late.start()
        wait_until(lambda: len(client._pool.waiting) == 1, what="the request queued")
        other = client.completion(
            model="qwen3", prompt="fills the 503 host", options={"num_predict": 1000}, stream=True
        )
        next(other)  # both hosts full again
        hosts[0].kill()
        late.join(10)
        assert not late.is_alive(), "the request is still queued"
        assert isinstance(outcome[0], HTTPError), outcome
        assert outcome[0].status == 503
        with pytest.raises(ConnectionLost):
            list(holding)
        other.cancel()


def raised_by(client: OllamaPool) -> BaseException:
    with pytest.raises(OllamaError) as raised:
        client.completion(model="qwen3", prompt="late", options={"num_predict": 2})
    return raised.value


def test_a_slot_freed_by_a_host_s_failure_is_not_given_to_a_request_waiting(ollama_emulators):
    """The host whose request just failed is down before its slot is handed on: the request
    waiting in the queue gets the other host's slot, and is never sent to the dead one."""
    hosts = ollama_emulators(["qwen3"], ["qwen3"], token_rate=5)
    with pool_of(hosts, max_in_flight=1, timeout=Timeout(connect=2, read=20)) as client:
        holding = [client.completion(model="qwen3", prompt="hold", stream=True) for _ in hosts]
        for streaming in holding:
            next(streaming)
        late = client.completion(model="qwen3", prompt="late", options={"num_predict": 2},
                                 stream=True)  # fmt: skip
        late.start(sink := Collected())
        wait_until(lambda: len(client._pool.waiting) == 1, what="the request queued")
        hosts[0].kill()
        wait_until(lambda: not client.hosts()[0]["up"], what="the dead host marked down")
        assert client.hosts()[0]["requests"] == 1
        holding[1].cancel()
        assert sink.ended.wait(10)
        assert sink.error is None
        assert late.hosts == [hosts[1].url]


class Collected:
    """A stream sink that keeps its end (loop thread)."""

    def __init__(self) -> None:
        self.ended = threading.Event()
        self.error: BaseException | None = None

    def on_chunk(self, chunk: object) -> None:
        pass

    def on_done(self, response: object) -> None:
        self.ended.set()

    def on_error(self, exc: BaseException) -> None:
        self.error = exc
        self.ended.set()
