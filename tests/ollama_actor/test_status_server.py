"""`StatusServer`: /status shows the tree, the streams in flight, the hosts and recent errors;
/metrics the Prometheus text; loopback only, DNS rebinding refused; it stops cleanly."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
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
        {"host": host, "up": None, "in_flight": 5, "started": 5, "finished": 0, "errors": 0}
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


def test_a_pool_s_host_going_down_and_up_is_an_event_a_status_and_a_metric(tree):
    from ollama_actor import Ollama, OllamaPool, Timeout
    from ollama_actor.emulator import Emulator
    from ollama_actor.emulator import status as emulator_status
    from ollama_actor.telemetry import POOL_EVENTS, POOL_HOST_DOWN, POOL_HOST_UP

    _root, url = tree
    events = []
    actors.telemetry.attach_many(
        "test-pool-events", POOL_EVENTS, lambda e, m, md, _c: events.append((e, dict(m), dict(md)))
    )
    try:
        with Emulator(loaded=["qwen3"]) as sick, Emulator() as well:
            sick.inject(emulator_status(500), path="/api/generate")
            sick.inject(emulator_status(500), path="/api/version")  # the first probe fails too
            with Ollama([sick.url, well.url], timeout=Timeout(connect=2, read=10)) as pool:
                assert isinstance(pool, OllamaPool)
                pool.refresh()
                assert pool.completion(model="qwen3", prompt="x", options={"num_predict": 2})
                down = wait_for(
                    lambda: next((h for h in status(url)["hosts"] if h["host"] == sick.url), None),
                    "the sick host in the status",
                )
                assert down["up"] is False
                assert any(
                    e["what"] == "host down" and sick.url in e["text"]
                    for e in status(url)["errors"]
                )
                wait_for(lambda: pool.hosts()[0]["up"], "the second probe bringing it back")
                hosts = {h["host"]: h for h in status(url)["hosts"]}
                assert hosts[sick.url]["up"] is True
                assert hosts.get(well.url, {}).get("up") is None  # never reported down
    finally:
        actors.telemetry.detach("test-pool-events")
    assert [(e, md["host"]) for e, _m, md in events] == [
        (POOL_HOST_DOWN, sick.url),
        (POOL_HOST_UP, sick.url),
    ]
    assert "500" in str(events[0][2]["error"])
    assert 0.2 < events[1][1]["down_for"] < 10  # one probe back-off (0.5 s) at least, about
    _code, _kind, body = get(url, "/metrics")
    text = body.decode()
    assert f'ollama_actor_host_up{{host="{sick.url}"}} 1' in text
    assert f'ollama_actor_host_down_total{{host="{sick.url}"}} 1' in text


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
    for malformed in ("[::1]evil.example", "[::1", "[::1]:80x", "::1"):
        assert get(url, host=malformed)[0] == 403, malformed


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


def test_slow_clients_neither_block_others_nor_pile_up_nor_outlive_the_server():
    """Clients that send half a request and wait: others are still answered, each holds at
    most one of a bounded number of threads, and stopping the server closes them all."""
    before = threading.active_count()
    ref = StatusServer.start()
    url = ref.proxy().url.get(timeout=5)
    parts = urllib.parse.urlsplit(url)
    slow = []
    try:
        for n in range(80):
            client = socket.create_connection((parts.hostname, parts.port), timeout=5)
            client.sendall(b"GET /status HTTP/1.1\r\n")  # and never the rest
            slow.append(client)
            if n == 20:
                assert get(url)[0] == 200, "a slow client blocks the others"
        spare = threading.active_count() - before
        assert spare <= 40, f"{spare} threads for 80 idle clients"
        ref.stop(timeout=10)
        for client in slow:  # closed by the server, not left hanging (a timeout fails)
            with contextlib.suppress(ConnectionResetError):
                assert client.recv(100) == b""
        wait_for(lambda: threading.active_count() <= before, "the server's threads to end")
    finally:
        for client in slow:
            client.close()
        ref.stop(timeout=10)
