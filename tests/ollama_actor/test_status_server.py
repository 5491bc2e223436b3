"""`StatusServer`: /status shows the tree, the streams in flight, the hosts and recent errors;
/metrics the Prometheus text; loopback only, DNS rebinding refused; it stops cleanly."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse

import pytest

import actors
from actors import ChildSpec, DynamicSupervisor, Supervisor
from ollama_actor import RetryPolicy, StatusServer
from ollama_actor.prometheus import PrometheusMetrics


def get(url, path="/status", host=None):
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", host or parts.netloc)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


@pytest.fixture
def tree():
    metrics = PrometheusMetrics().attach()
    root = Supervisor.start(
        [
            ChildSpec("status", lambda: StatusServer.start(metrics=metrics), name="status"),
            ChildSpec(
                "streams",
                lambda: DynamicSupervisor.start(max_restarts=None),
                type="supervisor",
                name="streams",
            ),
        ]
    )
    url = actors.Address("status").proxy().url.get(timeout=5)
    yield root, url
    root.stop()
    metrics.detach()


def wait_for(predicate, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return found


def status(url):
    code, kind, body = get(url)
    assert code == 200
    assert kind == "application/json"
    return json.loads(body)


def test_status_shows_the_tree_the_streams_in_flight_and_the_hosts(emu, client, tree):
    _root, url = tree
    emu.set_pacing(20.0)
    streams = actors.whereis("streams")
    inbox = actors.Inbox()
    handles = [
        client.completion(
            model="llama3.2",
            prompt=f"q{i}",
            stream=inbox,
            supervisor=streams,
            options={"num_predict": 1000},
        )
        for i in range(5)
    ]
    document = wait_for(
        lambda: (
            (d := status(url))["streams"]["in_flight"] == 5
            and all(s["time_to_first_chunk"] is not None for s in d["streams"]["oldest"])
            and d
        ),
        "5 streams with their first chunk",
    )
    (root,) = [t for t in document["tree"] if t["children"] and t["children"][0]["id"] == "status"]
    assert root["kind"] == "Supervisor"
    assert [c["id"] for c in root["children"]] == ["status", "streams"]
    assert [c["state"] for c in root["children"]] == ["running", "running"]
    nested = root["children"][1]["supervisor"]
    assert nested["kind"] == "DynamicSupervisor"
    assert nested["counts"]["running"] == 5
    assert {c["id"] for c in nested["children"]} == {str(h.ref) for h in handles}
    oldest = document["streams"]["oldest"]
    assert [s["ref"] for s in oldest] == [str(h.ref) for h in handles], "oldest first"
    assert all(s["model"] == "llama3.2" for s in oldest)
    host = emu.base_url.removesuffix("/api")
    assert document["hosts"] == [
        {"host": host, "in_flight": 5, "started": 5, "finished": 0, "errors": 0}
    ]
    assert document["loop"]["lag"] >= 0
    handles[0].cancel()
    document = wait_for(lambda: (d := status(url))["errors"] and d, "the cancelled stream's error")
    assert document["errors"][0]["what"] == "stream error"
    assert "StreamCancelled" in document["errors"][0]["text"]
    assert document["hosts"][0]["errors"] == 1
    for handle in handles[1:]:
        handle.cancel()


def test_a_restart_is_shown_with_its_error(emu, client, tree):
    from ollama_actor.emulator import cut

    _root, url = tree
    emu.inject(cut(after=2), path="/api/generate")
    handle = client.completion(
        model="llama3.2",
        prompt="x",
        stream=actors.Inbox(),
        supervisor=actors.whereis("streams"),
        retry=RetryPolicy(backoff=None),
    )
    handle.result(timeout=30)
    document = wait_for(lambda: (d := status(url))["streams"]["finished"] == 1 and d, "the end")
    assert [e["what"] for e in document["errors"]] == ["stream restart"]
    assert "ConnectionLost" in document["errors"][0]["text"]


def test_metrics_and_the_other_paths(tree):
    _root, url = tree
    code, kind, body = get(url, "/metrics")
    assert code == 200
    assert kind.startswith("text/plain; version=0.0.4")
    assert b"# TYPE ollama_actor_streams_started_total counter" in body
    assert get(url, "/nothing")[0] == 404


def test_a_request_for_another_host_name_is_refused(tree):
    """A page on evil.example that resolves its name to 127.0.0.1 cannot read the status."""
    _root, url = tree
    code, _, body = get(url, host="evil.example:80")
    assert code == 403
    assert b"loopback" in body
    assert get(url, host="localhost")[0] == 200
    assert get(url, host="[::1]:1")[0] == 200


def test_only_loopback_addresses_are_served():
    with pytest.raises(ValueError, match="loopback only"):
        StatusServer(host="0.0.0.0")


def test_stopping_it_closes_the_port():
    ref = StatusServer.start()
    url = ref.proxy().url.get(timeout=5)
    assert get(url)[0] == 200
    ref.stop()
    with pytest.raises(ConnectionRefusedError):
        get(url)
