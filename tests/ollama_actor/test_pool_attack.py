"""Attacks on the pool of hosts (issue 14): each test here once failed on the code it guards."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

import actors
from actors import Backoff, telemetry
from ollama_actor import (
    ConnectionLost,
    HTTPError,
    Ollama,
    OllamaError,
    OllamaPool,
    RetryPolicy,
    StreamCancelled,
    Timeout,
    TotalTimeout,
)
from ollama_actor._status import Observer
from ollama_actor.emulator import Emulator, cut, delay, stall, status
from ollama_actor.prometheus import PrometheusMetrics
from ollama_actor.telemetry import STREAM_EVENTS
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


# -- telemetry -------------------------------------------------------------------------------------


@pytest.fixture
def stream_events() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Each stream event as ``(kind, metadata)``, in the order they came."""
    got: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def record(event, _measurements, metadata, _config):
        with lock:
            got.append((event[-1], dict(metadata)))

    telemetry.attach_many("pool-attack", STREAM_EVENTS, record)
    yield got
    telemetry.detach("pool-attack")


def hosts_of(events, ref, kind):
    return [meta["host"] for k, meta in events if meta["ref"] == ref and k == kind]


def test_stream_telemetry_names_the_host_each_attempt_went_to(two, stream_events):
    """qwen3 is in memory on the first host only: a stream goes there, is cut, restarts on the
    second host; its first chunks and its stop name the hosts the attempts really went to."""
    with pool_of(two, timeout=Timeout(connect=2, read=10)) as client:
        two[0].inject(cut(after=2), path="/api/generate")
        handle = client.completion(
            model="qwen3",
            prompt="x",
            options={"num_predict": 3},
            stream=actors.Inbox(),
            retry=RetryPolicy(backoff=None),
        )
        handle.result(timeout=30)
        wait_until(lambda: hosts_of(stream_events, handle.ref, "stop"), what="the stop event")
        assert handle.hosts == [two[0].url, two[1].url]
        assert hosts_of(stream_events, handle.ref, "first_chunk") == handle.hosts
        assert hosts_of(stream_events, handle.ref, "stop") == [two[1].url]


def test_a_stream_that_fails_before_a_chunk_stops_naming_the_host_it_went_to(two, stream_events):
    """The second host has the model; it answers 404: the stop names it, not the pool's first."""
    with pool_of(two[::-1]) as client:  # the host with qwen3 is listed second
        two[0].inject(status(404), path="/api/generate")
        streaming = client.completion(model="qwen3", prompt="x", stream=True)
        with pytest.raises(HTTPError):
            list(streaming)
        assert streaming.hosts == [two[0].url]
        wait_until(lambda: hosts_of(stream_events, streaming.ref, "stop"), what="the stop")
        assert hosts_of(stream_events, streaming.ref, "stop") == [two[0].url]


def test_a_pool_s_streams_in_flight_gauge_comes_back_to_zero_on_every_host(two):
    """The Prometheus gauge of streams in flight goes up at a stream's start and down at its
    stop, by host: a pool's stream must do both on the same label, whichever host it ran on."""
    metrics = PrometheusMetrics().attach()
    try:
        with pool_of(two[::-1]) as client:  # the host with qwen3 is listed second
            for _ in range(2):
                list(client.completion(model="qwen3", prompt="x", options={"num_predict": 2},
                                       stream=True))  # fmt: skip
            text = metrics.exposition()
    finally:
        metrics.detach()
    gauges = [line for line in text.splitlines() if line.startswith("ollama_actor_streams_in_f")]
    assert gauges, text
    assert all(line.endswith(" 0") for line in gauges), gauges


def test_the_status_view_shows_a_pool_s_stream_on_the_host_it_went_to(two):
    """``/status``'s hosts and streams: a pool's stream running on the second host is counted
    there (not under the pool's first host), and leaves no count behind when it ends."""
    observer = Observer()
    telemetry.attach_many("pool-attack-status", observer.handlers, observer.handle)
    try:
        two[0].set_pacing(token_rate=20)
        with pool_of(two[::-1]) as client:  # the host with qwen3 is listed second
            streaming = client.completion(model="qwen3", prompt="x", stream=True,
                                          options={"num_predict": 1000})  # fmt: skip
            next(iter(streaming))
            running = observer.snapshot(10)
            streaming.cancel()
            with pytest.raises(StreamCancelled):
                list(streaming)
            wait_until(lambda: observer.snapshot(10)["streams"]["in_flight"] == 0, what="stop")
            ended = observer.snapshot(10)
    finally:
        telemetry.detach("pool-attack-status")
    assert [s["host"] for s in running["streams"]["oldest"]] == [two[0].url]
    assert {h["host"]: h["in_flight"] for h in running["hosts"] if h["in_flight"]} == {
        two[0].url: 1
    }
    assert all(h["in_flight"] == 0 for h in ended["hosts"]), ended["hosts"]


def test_a_host_that_flaps_while_probed_has_one_probe_at_a_time(two):
    """A probe is under way (stalled) when a refresh brings the host back and a request marks
    it down again: the stalled probe's failure must not start a second chain of probes."""
    steady = Backoff(min=0.25, max=0.25, jitter=0)
    with pool_of(two, probe=steady, timeout=Timeout(connect=2, read=10)) as client:
        two[0].inject(stall(after=0), path="/api/version")  # the first probe: fails at 2 s
        two[0].inject(status(500), path="/api/version", times=1000)  # every later one
        two[0].inject(status(500), path="/api/generate", times=2)
        client.completion(model="qwen3", prompt="x", options={"num_predict": 1})
        wait_until(lambda: two[0].request_count("/api/version") == 1, what="the first probe")
        client.refresh()  # its /api/ps answers: up
        assert client.hosts()[0]["up"] is True
        client.completion(model="qwen3", prompt="x", options={"num_predict": 1})  # down again
        assert client.hosts()[0]["up"] is False
        time.sleep(2.5)  # the stalled probe has failed by now
        before = two[0].request_count("/api/version")
        time.sleep(2.0)
        probes = two[0].request_count("/api/version") - before
        assert probes <= 10, f"{probes} probes in 2 s, 0.25 s apart: more than one chain"


def test_opentelemetry_counts_a_pool_s_stream_in_flight_on_one_host(two):
    """The OpenTelemetry in-flight counter of a pool's streams comes back to 0 on every host,
    and each stream's span names the host it went to."""
    sdk = pytest.importorskip("opentelemetry.sdk.metrics")
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from ollama_actor.otel import OpenTelemetry

    reader, spans, tracing = InMemoryMetricReader(), InMemorySpanExporter(), TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(spans))
    meters = sdk.MeterProvider(metric_readers=[reader])
    exporter = OpenTelemetry(meter_provider=meters, tracer_provider=tracing).attach()
    try:
        with pool_of(two[::-1]) as client:  # the host with qwen3 is listed second
            for _ in range(2):
                list(client.completion(model="qwen3", prompt="x", options={"num_predict": 2},
                                       stream=True))  # fmt: skip
            wait_until(lambda: len(spans.get_finished_spans()) == 2, what="both spans")
    finally:
        exporter.detach()
    in_flight = [
        (dict(point.attributes)["host"], point.value)
        for resource in reader.get_metrics_data().resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "ollama_actor.streams.in_flight"
        for point in metric.data.data_points
    ]
    assert in_flight, "no in-flight points"
    assert all(value == 0 for _, value in in_flight), in_flight
    assert [span.attributes["host"] for span in spans.get_finished_spans()] == [two[0].url] * 2


def test_a_host_whose_ps_answers_404_is_up_and_takes_requests(two):
    """A 4xx says nothing of the host, from /api/ps too (an Ollama without it, or a proxy in
    front that does not pass it): the host stays in rotation, its models unknown."""
    two[1].inject(status(404, "404 page not found"), path="/api/ps", times=1000)
    with pool_of(two[1:], probe=Backoff(min=30, max=60)) as client:
        assert client.hosts()[0]["up"] is True
        assert client.completion(model="qwen3", prompt="x", options={"num_predict": 1})["done"]
        client.refresh()
        assert client.hosts()[0]["up"] is True
        assert client.hosts()[0]["last_error"] is None
