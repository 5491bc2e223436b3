"""The Prometheus exposition, read back by prometheus_client's own parser: the numbers match
what happened (streams, cuts, tokens, supervisor restarts), escaping survives the round trip."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

import actors
from actors import ChildSpec, Supervisor, telemetry
from ollama_actor import RetryPolicy
from ollama_actor.emulator import cut
from ollama_actor.prometheus import PrometheusMetrics
from ollama_actor.telemetry import STREAM_START, STREAM_STOP


@pytest.fixture
def metrics():
    metrics = PrometheusMetrics().attach()
    yield metrics
    metrics.detach()


def parse(text):
    """{(sample name, frozenset(labels)): value} from the exposition."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


def test_streams_cuts_and_tokens_add_up(emu, client, metrics):
    emu.inject(cut(after=2), path="/api/generate", times=3)
    inbox = actors.Inbox()
    handles = [
        client.completion(
            model="llama3.2", prompt=f"q{i}", stream=inbox, retry=RetryPolicy(backoff=None)
        )
        for i in range(10)
    ]
    responses = [h.result(timeout=60) for h in handles]
    failed = client.completion(model="nope", prompt="x", stream=inbox)
    with pytest.raises(Exception, match="not found"):
        failed.result(timeout=30)
    _wait_for_stops(metrics, 11)
    samples = parse(metrics.exposition())
    host = emu.base_url.removesuffix("/api")
    where = {"model": "llama3.2", "host": host}
    assert value(samples, "ollama_actor_streams_started_total", **where) == 10
    assert value(samples, "ollama_actor_streams_started_total", model="nope", host=host) == 1
    finished = "ollama_actor_streams_finished_total"
    assert value(samples, finished, **where, outcome="done", error="") == 10
    assert (
        value(samples, finished, model="nope", host=host, outcome="error", error="HTTPError") == 1
    )
    assert value(samples, "ollama_actor_streams_in_flight", **where) == 0
    assert value(samples, "ollama_actor_stream_restarts_total", **where) == 3
    assert value(samples, "ollama_actor_generated_tokens_total", **where) == sum(
        r["eval_count"] for r in responses
    )
    assert value(samples, "ollama_actor_prompt_tokens_total", **where) == sum(
        r["prompt_eval_count"] for r in responses
    )
    duration = "ollama_actor_stream_duration_seconds"
    assert value(samples, f"{duration}_count", **where, outcome="done") == 10
    assert value(samples, f"{duration}_bucket", **where, outcome="done", le="+Inf") == 10
    first = "ollama_actor_stream_time_to_first_chunk_seconds"
    assert value(samples, f"{first}_count", **where) == 13, "10 first attempts and 3 retries"
    buckets = sorted(
        (float(dict(labels)["le"]), v)
        for (name, labels), v in samples.items()
        if name == f"{first}_bucket"
    )
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "cumulative buckets"


def _wait_for_stops(metrics, n):
    deadline = time.monotonic() + 10
    while True:
        samples = parse(metrics.exposition())
        stopped = sum(
            v for (name, _), v in samples.items() if name == "ollama_actor_streams_finished_total"
        )
        if stopped >= n:
            return
        assert time.monotonic() < deadline, f"{stopped} of {n} streams finished"
        time.sleep(0.01)


class Crashy(actors.Actor):
    def on_receive(self, message):
        raise RuntimeError("crash")


def test_supervisor_restarts_and_the_loop_lag_are_counted(metrics):
    sup = Supervisor.start([ChildSpec("c", Crashy.start)], max_restarts=10)
    try:
        for _ in range(2):
            ref = sup.proxy().which_children().get(timeout=5)[0][1]
            down = actors.Inbox()
            actors.monitor(ref, down)
            ref.tell("boom")
            down.receive(timeout=5)
        sup.proxy().which_children().get(timeout=5)
    finally:
        sup.stop()
    # The loop's own heartbeat reports lags too (a loaded machine's land in any bucket): a lag
    # no heartbeat reaches (0.75 s) must land in the (0.5, 1.0] bucket, and only there.
    before = parse(metrics.exposition())
    telemetry.execute(telemetry.LOOP_LAG, {"lag": 0.75})
    samples = parse(metrics.exposition())

    def rise(le):
        name = "actors_loop_lag_seconds_bucket"
        key = (name, frozenset({"le": le}.items()))
        return samples.get(key, 0) - before.get(key, 0)  # no sample yet: no lag reported yet

    assert value(samples, "actors_supervisor_restarts_total") == 2
    assert value(samples, "actors_supervisor_give_ups_total") == 0
    assert rise("0.5") == 0
    assert rise("1.0") == 1
    assert value(samples, "actors_application_draining") == 0


def test_label_values_and_help_survive_escaping():
    metrics = PrometheusMetrics(prefix="odd").attach()
    try:
        weird = 'qu"ote\\back\nslash'
        ref = actors.Ref()
        telemetry.execute(STREAM_START, {}, {"ref": ref, "model": weird, "host": "h"})
        telemetry.execute(
            STREAM_STOP,
            {"duration": 0.5, "eval_count": 7},
            {"ref": ref, "model": weird, "host": "h", "outcome": "done", "error": None},
        )
        samples = parse(metrics.exposition())
    finally:
        metrics.detach()
    assert value(samples, "odd_streams_started_total", model=weird, host="h") == 1
    assert value(samples, "odd_generated_tokens_total", model=weird, host="h") == 7
    assert (
        value(samples, "odd_stream_duration_seconds_sum", model=weird, host="h", outcome="done")
        == 0.5
    )


def test_a_fresh_exposition_parses_and_names_every_family():
    text = PrometheusMetrics().exposition()
    families = {family.name: family.type for family in text_string_to_metric_families(text)}
    assert families["ollama_actor_streams_started"] == "counter"
    assert families["ollama_actor_streams_in_flight"] == "gauge"
    assert families["ollama_actor_stream_duration_seconds"] == "histogram"
    assert families["actors_loop_lag_seconds"] == "histogram"
    assert families["ollama_actor_host_up"] == "gauge"
    assert families["ollama_actor_host_down"] == "counter"
    assert len(families) == 16
