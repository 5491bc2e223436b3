"""The OpenTelemetry exporter, read back through the SDK's in-memory reader and span exporter:
one span per stream with its events and counts, an error status for a failed one, metrics."""

from __future__ import annotations

import time

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import actors
from ollama_actor import HTTPError, RetryPolicy
from ollama_actor.emulator import cut
from ollama_actor.otel import OpenTelemetry


@pytest.fixture
def otel():
    reader = InMemoryMetricReader()
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    exporter = OpenTelemetry(
        meter_provider=MeterProvider(metric_readers=[reader]), tracer_provider=tracer_provider
    ).attach()
    yield reader, spans
    exporter.detach()


def points(reader):
    """{metric name: [(attributes, value or (count, sum))]}."""
    found = {}
    for resource in reader.get_metrics_data().resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found[metric.name] = [
                    (
                        dict(p.attributes),
                        (p.count, p.sum) if hasattr(p, "bucket_counts") else p.value,
                    )
                    for p in metric.data.data_points
                ]
    return found


def wait_for_spans(spans, n):
    deadline = time.monotonic() + 10
    while len(spans.get_finished_spans()) < n:
        assert time.monotonic() < deadline, f"{len(spans.get_finished_spans())} of {n} spans"
        time.sleep(0.01)
    return spans.get_finished_spans()


def test_a_span_per_stream_with_its_restart_first_chunks_and_counts(emu, client, otel):
    reader, spans = otel
    emu.inject(cut(after=2), path="/api/generate")
    handle = client.completion(
        model="llama3.2", prompt="Why?", stream=actors.Inbox(), retry=RetryPolicy(backoff=None)
    )
    response = handle.result(timeout=30)
    failed = client.completion(model="nope", prompt="x", stream=actors.Inbox())
    with pytest.raises(HTTPError):
        failed.result(timeout=30)
    ok, bad = sorted(wait_for_spans(spans, 2), key=lambda s: s.attributes["model"])
    assert ok.name == "ollama stream"
    assert ok.attributes["ollama.ref"] == str(handle.ref)
    assert ok.attributes["ollama.eval_count"] == response["eval_count"]
    assert ok.attributes["ollama.attempts"] == 1
    assert [e.name for e in ok.events] == ["first_chunk", "restart", "first_chunk"]
    assert ok.status.status_code is StatusCode.UNSET
    assert ok.end_time > ok.start_time
    assert bad.attributes["model"] == "nope"
    assert bad.status.status_code is StatusCode.ERROR
    assert [e.name for e in bad.events] == ["exception"]
    found = points(reader)
    host = emu.base_url.removesuffix("/api")
    assert sorted(v for _, v in found["ollama_actor.streams.started"]) == [1, 1]
    assert ({"model": "llama3.2", "host": host}, 1) in found["ollama_actor.stream.restarts"]
    assert sorted(v for _, v in found["ollama_actor.streams.in_flight"]) == [0, 0]
    done = {"model": "llama3.2", "host": host, "outcome": "done"}
    assert (done, 1) in found["ollama_actor.streams.finished"]
    assert ({"model": "llama3.2", "host": host}, response["eval_count"]) in found[
        "ollama_actor.tokens.generated"
    ]
    (count, _sum) = next(v for a, v in found["ollama_actor.stream.duration"] if a == done)
    assert count == 1


def test_detach_ends_the_spans_of_streams_still_running(emu, client):
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    exporter = OpenTelemetry(tracer_provider=provider).attach()
    emu.set_pacing(5.0)
    streaming = client.completion(model="llama3.2", prompt="slow", stream=True)
    with streaming:
        next(streaming)
        exporter.detach()
        assert [s.attributes["ollama.ref"] for s in spans.get_finished_spans()] == [
            str(streaming.ref)
        ]
