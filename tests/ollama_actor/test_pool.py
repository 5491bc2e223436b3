"""A pool of hosts (``Ollama([url, ...])``): routing, the queue, health, and whole calls.

Routing tests run against in-process emulators; crashes are SIGKILLs of emulator subprocesses
(the ``ollama_emulators`` fixture). Supervised streams' failover is in test_pool_failover.py.
"""

from __future__ import annotations

import gc
import inspect
import itertools
import json
import re
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

import actors
from actors import Backoff
from ollama_actor import (
    ConnectError,
    ConnectionLost,
    HTTPError,
    NoHostUp,
    Ollama,
    OllamaError,
    OllamaPool,
    PoolBusy,
    StreamCancelled,
    Timeout,
    ValidationError,
)
from ollama_actor._pool import model_key
from ollama_actor.emulator import Emulator, close_before_response, cut, delay, stall, status
from tests.ollama_actor.rawserver import RawServer, response

TIMEOUT = Timeout(connect=2, read=10, total=60)
OPTIONS = {"num_predict": 4}


def wait_until(predicate, timeout=10.0, what="the condition"):
    """Poll a condition that has no event to wait on (a pool's report, a log), with a bound."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come true within {timeout} s")
        time.sleep(0.01)


def generated(emulators, path="/api/generate"):
    """How many requests to ``path`` each emulator has had."""
    return [emulator.request_count(path) for emulator in emulators]


@pytest.fixture
def three() -> Iterator[list[Emulator]]:
    """Three in-process emulators: llama3.2 in memory on the first, qwen3 on the second."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(Emulator(loaded=models)) for models in (["llama3.2"], ["qwen3"], [])
        ]


def pool_of(emulators, **options) -> OllamaPool:
    client = Ollama([e.url for e in emulators], timeout=options.pop("timeout", TIMEOUT), **options)
    assert isinstance(client, OllamaPool)
    client.refresh()
    return client


# -- the client --------------------------------------------------------------------------------


def test_a_list_of_urls_makes_a_pool_and_a_url_one_server_s_client(three):
    single = Ollama(three[0].url)
    assert type(single) is Ollama
    with Ollama([e.url for e in three]) as client:
        assert type(client) is OllamaPool
        assert isinstance(client, Ollama)
        assert client.base_urls == tuple(e.base_url for e in three)
        assert repr(client) == f"Ollama({[e.base_url for e in three]!r})"
        assert [h["url"] for h in client.hosts()] == [e.url for e in three]
    with OllamaPool((three[0].url,)) as one:
        assert one.completion(model="llama3.2", prompt="x", options=OPTIONS)["done"] is True


@pytest.mark.parametrize(
    ("args", "options", "field"),
    [
        ([], {}, "base_url"),
        (["http://a:1", 5], {}, "base_url"),
        (["http://a:1", "http://a:1/api"], {}, "base_url"),
        (["http://a:1"], {"max_in_flight": 0}, "max_in_flight"),
        (["http://a:1"], {"max_in_flight": True}, "max_in_flight"),
        (["http://a:1"], {"max_queue": -1}, "max_queue"),
        (["http://a:1"], {"refresh": 0}, "refresh"),
        (["http://a:1"], {"probe": 1.0}, "probe"),
        (["ftp://a:1"], {}, "base_url"),
    ],
)
def test_a_pool_s_arguments_are_checked_before_anything_starts(args, options, field):
    with pytest.raises(ValidationError) as raised:
        OllamaPool(args, **options)
    assert raised.value.field == field


def test_the_constructors_show_what_they_take():
    assert "headers" in inspect.signature(Ollama).parameters
    assert "max_in_flight" not in inspect.signature(Ollama).parameters
    assert "max_in_flight" in inspect.signature(OllamaPool).parameters


def test_web_search_goes_to_the_hosted_api_not_to_a_host(three):
    with Emulator() as cloud:
        urls = [e.url for e in three]
        with Ollama(urls, cloud_url=cloud.base_url, api_key="k", timeout=TIMEOUT) as client:
            client.refresh()
            assert "results" in client.web_search(query="pools", max_results=1)
        assert cloud.request_count("/api/web_search") == 1
        assert {info.path for e in three for info in e.requests} == {"/api/ps"}


def test_a_pool_is_made_from_a_list_only(three):
    with pytest.raises(ValidationError, match="must be a non-empty list"):
        OllamaPool(three[0].url)
    with pytest.raises(ValidationError, match="must be a URL or a list of URLs"):
        Ollama(42)  # type: ignore[arg-type]


def test_host_gives_each_member_s_own_client(three):
    with pool_of(three) as client:
        member = client.host(three[1].url)
        assert type(member) is Ollama
        assert member.base_url == three[1].base_url
        assert client.host(three[1].base_url) is member
        assert member.list_running()["models"][0]["name"] == "qwen3:latest"
        with pytest.raises(ValidationError, match="is not a host of this pool"):
            client.host("http://127.0.0.1:1")


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda c: c.pull_model(model="tinyllama"), "pull_model"),
        (lambda c: c.delete_model(model="qwen3"), "delete_model"),
        (lambda c: c.copy_model(source="qwen3", destination="q"), "copy_model"),
        (lambda c: c.create_model(model="m", from_="qwen3"), "create_model"),
        (lambda c: c.check_blob(b"data"), "check_blob"),
        (lambda c: c.create_blob(b"data"), "create_blob"),
    ],
)
def test_model_management_on_a_pool_is_refused_naming_client_host(three, call, name):
    with pool_of(three) as client, pytest.raises(ValidationError, match=rf"\.host\(url\)\.{name}"):
        call(client)
    assert {info.path for e in three for info in e.requests} == {"/api/ps"}  # nothing else sent


# -- routing -------------------------------------------------------------------------------------


def test_requests_go_to_the_host_with_their_model_in_memory(three):
    with pool_of(three) as client:
        for _ in range(10):
            client.completion(model="qwen3", prompt="q", options=OPTIONS)
            client.chat(model="llama3.2", messages=[{"role": "user", "content": "l"}])
        assert generated(three) == [0, 10, 0]
        assert generated(three, "/api/chat") == [10, 0, 0]
        assert [h["requests"] for h in client.hosts()] == [10, 10, 0]


def test_a_new_pool_s_first_request_waits_for_its_first_ps_reads(three):
    with Ollama([e.url for e in three], timeout=TIMEOUT) as client:  # no refresh() first
        client.completion(model="qwen3", prompt="first", options=OPTIONS)
    assert generated(three) == [0, 1, 0]


def test_that_wait_is_bounded_when_a_host_does_not_answer_its_ps(three):
    three[2].inject(stall(after=0), path="/api/ps")
    started = time.monotonic()
    with Ollama([e.url for e in three], timeout=TIMEOUT) as client:
        client.completion(model="qwen3", prompt="first", options=OPTIONS)
        waited = time.monotonic() - started
    assert 0.9 < waited < 1.9, waited  # not until the stalled read times out (2 s)
    assert generated(three) == [0, 1, 0]  # the hosts that answered were known


def test_names_are_matched_as_ollama_matches_them(three):
    with pool_of(three) as client:
        for name in ("qwen3", "QWEN3:latest", "library/qwen3", "registry.ollama.ai/library/qwen3"):
            client.completion(model=name, prompt="q", options=OPTIONS)
        assert generated(three) == [0, 4, 0]


def test_without_a_preferred_host_requests_spread_by_requests_in_flight(ollama_emulators):
    hosts = ollama_emulators(["llama3.2"], ["llama3.2"], ["llama3.2"], token_rate=20)
    inbox = actors.Inbox()
    with pool_of(hosts) as client:
        handles = [
            client.completion(
                model="llama3.2", prompt=f"p{i}", options={"num_predict": 10}, stream=inbox
            )
            for i in range(9)
        ]
        wait_until(lambda: sum(generated(hosts)) == 9, what="nine requests")
        assert generated(hosts) == [3, 3, 3]
        for handle in handles:
            assert handle.result(timeout=30)["done"] is True
        assert [h["in_flight"] for h in client.hosts()] == [0, 0, 0]


def test_sequential_requests_go_round_the_hosts_that_are_alike(three):
    with pool_of(three) as client:
        for _ in range(9):
            client.embed(model="nomic-embed-text", input="x")  # in memory nowhere: loads once
        counts = generated(three, "/api/embed")
        assert sorted(counts) == [0, 0, 9], "once loaded there, the model draws them to that host"
        for _ in range(6):
            client.version()
        assert generated(three, "/api/version") == [2, 2, 2]


def test_a_burst_for_a_model_in_memory_nowhere_loads_it_on_one_host(ollama_emulators):
    hosts = ollama_emulators([], [], [], token_rate=50)
    for host in hosts:  # loading takes a while: no answer says where the model is meanwhile
        host.inject(delay(0.5), path="/api/generate", times=6)
    inbox = actors.Inbox()
    with pool_of(hosts) as client:
        handles = [
            client.completion(
                model="llava", prompt=f"p{i}", options={"num_predict": 5}, stream=inbox
            )
            for i in range(6)
        ]
        for handle in handles:
            handle.result(timeout=30)
        counts = generated(hosts)
        assert sorted(counts) == [0, 0, 6]
        loaded_on = counts.index(6)
        wait_until(
            lambda: client.hosts()[loaded_on]["models"] == ["llava:latest"],
            what="the host's /api/ps read after the load",
        )
        assert hosts[loaded_on].request_count("/api/ps") >= 2  # refreshed after the load


def test_the_limit_of_requests_in_flight_queues_the_rest(ollama_emulators):
    hosts = ollama_emulators(["llama3.2"], ["llama3.2"], token_rate=40)
    inbox = actors.Inbox()
    with pool_of(hosts, max_in_flight=1) as client:
        handles = [
            client.completion(
                model="llama3.2", prompt=f"p{i}", options={"num_predict": 8}, stream=inbox
            )
            for i in range(6)
        ]
        for handle in handles:
            assert handle.result(timeout=30)["done"] is True
        assert [h["in_flight"] for h in client.hosts()] == [0, 0]
    kinds = [message[0] for _ref, message in inbox.drain()]
    assert kinds.count("done") == 6
    assert "restart" not in kinds  # each waited for a slot: none timed out and retried
    for host in hosts:
        spans = sorted(
            (info.started_at, info.ended_at)
            for info in host.requests
            if info.path == "/api/generate"
        )
        assert len(spans) == 3
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end is not None
            assert start >= end - 0.01, "two requests were in flight at once on one host"


def test_a_full_queue_fails_at_once(three):
    for e in three:
        e.set_pacing(token_rate=10)
    with pool_of(three, max_in_flight=1, max_queue=1) as client:
        running = [client.completion(model="qwen3", prompt=f"{i}", stream=True) for i in range(4)]
        for streaming in running[:3]:
            next(streaming)  # each host has its one request in flight
        queued = client.completion(model="qwen3", prompt="q", stream=True)
        waiter = threading.Thread(target=lambda: list(queued), daemon=True)
        waiter.start()
        wait_until(lambda: len(client._pool.waiting) == 1, what="one request queued")
        started = time.monotonic()
        with pytest.raises(PoolBusy, match="the pool's queue is full"):
            next(running[3])
        assert time.monotonic() - started < 2
        for streaming in running[:3]:
            streaming.cancel()
        waiter.join(10)
        assert not waiter.is_alive()
        assert PoolBusy("x").retryable


def test_a_queued_request_waits_no_longer_than_its_read_bound(three):
    three[0].set_pacing(token_rate=2)
    with pool_of(three[:1], max_in_flight=1) as client:
        holding = client.completion(model="llama3.2", prompt="hold", stream=True)
        next(holding)
        started = time.monotonic()
        with pytest.raises(PoolBusy, match=r"no host of the pool had a free slot for 0\.5 s"):
            client.completion(model="llama3.2", prompt="late", timeout=Timeout(read=0.5))
        assert 0.4 < time.monotonic() - started < 5
        holding.cancel()
    assert three[0].request_count("/api/generate") == 1


# -- busy and down -------------------------------------------------------------------------------


def test_a_503_sends_the_request_elsewhere_and_marks_the_host_busy_not_down(three):
    with pool_of(three) as client:
        three[1].inject(status(503), path="/api/generate")
        answer = client.completion(model="qwen3", prompt="busy", options=OPTIONS)
        assert answer["done"] is True
        assert generated(three)[1] == 1
        assert sum(generated(three)) == 2
        report = client.hosts()[1]
        assert report["up"] is True
        assert report["busy"] is True
        assert report["last_error"] is None


def test_when_every_host_is_busy_the_answer_is_their_503(three):
    with pool_of(three) as client:
        for e in three:
            e.inject(status(503), path="/api/generate")
        with pytest.raises(HTTPError) as raised:
            client.completion(model="qwen3", prompt="busy")
        assert raised.value.status == 503
        assert generated(three) == [1, 1, 1]
        assert all(h["up"] for h in client.hosts())


def test_a_host_that_refuses_connections_is_down_and_the_call_goes_elsewhere(ollama_emulators):
    hosts = ollama_emulators(["qwen3"], [], [])
    with pool_of(hosts) as client:
        hosts[0].kill()
        answer = client.completion(model="qwen3", prompt="after", options=OPTIONS)
        assert answer["done"] is True
        report = client.hosts()[0]
        assert report["up"] is False
        # refused, or (when the request took the keep-alive connection of the refresh before
        # the kernel had told of its reset) reset before any response
        assert re.search("cannot connect|closed the connection before", report["last_error"])
        assert report["models"] == []
        for _ in range(5):
            client.completion(model="qwen3", prompt="more", options=OPTIONS)
        assert client.hosts()[0]["requests"] == 1  # the one that found it dead
        hosts[0].start()
        wait_until(
            lambda: client.hosts()[0]["models"] == ["qwen3:latest"],
            what="the probe bringing it back, then its /api/ps read",
        )
        assert client.hosts()[0]["up"] is True
        for _ in range(3):  # qwen3 is in memory there and on the host that took its requests
            client.completion(model="qwen3", prompt="back", options=OPTIONS)
        assert hosts[0].request_count("/api/generate") >= 1


def test_refresh_asks_every_host_now_and_takes_back_those_that_answer(ollama_emulators):
    hosts = ollama_emulators(["qwen3"], [])
    with pool_of(hosts, probe=Backoff(min=30, max=60)) as client:  # no probe within the test
        hosts[0].kill()
        client.completion(model="qwen3", prompt="x", options=OPTIONS)
        assert client.hosts()[0]["up"] is False
        client.refresh()
        assert client.hosts()[0]["up"] is False
        hosts[0].start()
        client.refresh()
        report = client.hosts()[0]
        assert report["up"] is True
        assert report["models"] == ["qwen3:latest"]
        assert report["down_since"] is None
        assert "cannot connect" in report["last_error"]  # kept: the last failure it had


def test_hosts_reports_each_host(three):
    with pool_of(three) as client:
        client.completion(model="qwen3", prompt="x", options=OPTIONS)
        first, second, third = client.hosts()
        assert set(first) == {
            "url", "up", "in_flight", "models", "last_error", "busy", "requests",
            "last_routed", "down_since",
        }  # fmt: skip
        assert (first["url"], first["models"], first["requests"]) == (
            three[0].url, ["llama3.2:latest"], 0,
        )  # fmt: skip
        assert (second["models"], second["requests"], second["in_flight"]) == (
            ["qwen3:latest"], 1, 0,
        )  # fmt: skip
        assert second["last_routed"] <= time.monotonic()
        assert third["models"] == []
        assert not any(h["busy"] or h["last_error"] or h["down_since"] for h in (first, third))


def test_nothing_but_probes_reach_a_host_while_it_is_down(three):
    with pool_of(three) as client:
        three[1].inject(status(500), path="/api/generate")
        three[1].inject(status(500), path="/api/version", times=1000)
        assert client.completion(model="qwen3", prompt="boom", options=OPTIONS)["done"]
        assert client.hosts()[1]["up"] is False  # its 500 sent that request elsewhere
        for _ in range(10):
            client.completion(model="qwen3", prompt="elsewhere", options=OPTIONS)
        three[1].wait_for_requests(2, path="/api/version")  # probed meanwhile
        paths = {info.path for info in three[1].requests}
        assert paths == {"/api/ps", "/api/generate", "/api/version"}
        assert three[1].request_count("/api/generate") == 1


def test_probes_back_off_with_jitter_until_the_host_answers(three):
    with pool_of(three) as client:
        three[1].inject(status(500), path="/api/generate")
        three[1].inject(status(500), path="/api/version", times=3)
        client.completion(model="qwen3", prompt="boom", options=OPTIONS)
        wait_until(lambda: client.hosts()[1]["up"], what="the fourth probe")
        probes = [i.started_at for i in three[1].requests if i.path == "/api/version"]
        assert len(probes) == 4
        gaps = [b - a for a, b in itertools.pairwise(probes)]
        for gap, base in zip(gaps, (0.5, 1.0, 2.0), strict=True):  # 0.25 s doubling
            assert base * 0.9 <= gap <= base * 1.2 + 0.3, gaps


def test_a_5xx_that_blames_the_request_leaves_the_host_up(three):
    with pool_of(three) as client:
        three[1].inject(status(500, "model requires more system memory than is available"))
        assert client.completion(model="qwen3", prompt="x", options=OPTIONS)["done"]
        assert client.hosts()[1]["up"] is False
        assert sum(generated(three)) == 2  # that 500 was retryable: another host answered
    for emulator in three:
        emulator.clear_requests()
    with pool_of(three) as client:
        three[1].inject(status(500, "model 'qwen3' not found, try pulling it first"))
        with pytest.raises(HTTPError) as raised:
            client.completion(model="qwen3", prompt="x")
        assert raised.value.refused
        assert raised.value.error == "model 'qwen3' not found, try pulling it first"
        assert client.hosts()[1]["up"] is True
        assert generated(three) == [0, 1, 0]  # passed on as it came, not sent elsewhere


def test_a_host_that_fails_before_answering_passes_the_request_on(three):
    with pool_of(three) as client:
        three[1].inject(close_before_response(), path="/api/generate")
        assert client.completion(model="qwen3", prompt="x", options=OPTIONS)["done"]
        assert client.hosts()[1]["up"] is False
        assert "closed the connection before responding" in client.hosts()[1]["last_error"]
        three[0].inject(status(500), path="/api/chat")
        chat = client.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}],
                           stream=True)  # fmt: skip
        chunks = list(chat)
        assert chunks[-1]["done"] is True
        assert chat.hosts == [three[0].url, chat.hosts[1]]
        assert chat.hosts[1] != three[0].url


def test_the_last_host_s_own_failure_is_what_the_caller_gets(ollama_emulators):
    (host,) = ollama_emulators(["qwen3"])
    with pool_of([host]) as client:
        host.inject(close_before_response(), path="/api/generate")
        with pytest.raises(ConnectionLost, match="before responding"):
            client.completion(model="qwen3", prompt="x")
        host.kill()
        with pytest.raises(NoHostUp):
            client.completion(model="qwen3", prompt="x")


def test_a_request_that_may_have_been_processed_is_not_sent_elsewhere(three):
    with pool_of(three) as client:
        three[1].inject(cut(after=1), path="/api/generate")
        with pytest.raises(ConnectionLost):
            client.completion(model="qwen3", prompt="cut")
        assert generated(three) == [0, 1, 0]
        three[0].inject(status(404), path="/api/chat")
        with pytest.raises(HTTPError) as raised:
            client.chat(model="llama3.2", messages=[{"role": "user", "content": "x"}])
        assert raised.value.status == 404
        assert generated(three, "/api/chat") == [1, 0, 0]


def test_a_stream_not_yet_read_is_routed_when_it_starts(ollama_emulators):
    hosts = ollama_emulators(["qwen3"], [])
    with pool_of(hosts) as client:
        streaming = client.completion(model="qwen3", prompt="lazy", options=OPTIONS, stream=True)
        hosts[0].kill()
        chunks = list(streaming)  # the dead host refuses: the second one takes it
        assert chunks[-1]["done"] is True
        assert len(chunks) == OPTIONS["num_predict"] + 1  # thinking and content, then done
        assert hosts[1].request_count("/api/generate") == 1
        assert streaming.hosts == [hosts[0].url, hosts[1].url]
        assert Ollama(hosts[1].url).completion(model="qwen3", prompt="x", stream=True).hosts == []


def test_when_no_host_is_up_a_call_fails_at_once_naming_each(ollama_emulators):
    hosts = ollama_emulators([], [])
    with pool_of(hosts) as client:
        for host in hosts:
            host.kill()
        started = time.monotonic()
        with pytest.raises(NoHostUp) as raised:
            client.completion(model="qwen3", prompt="x")
        assert time.monotonic() - started < 2
        for host in hosts:
            assert host.url in str(raised.value)
        assert isinstance(raised.value, ConnectError)
        assert raised.value.retryable
        with pytest.raises(NoHostUp):  # now known down: nothing is tried
            client.embed(model="nomic-embed-text", input="x")


# -- every host ----------------------------------------------------------------------------------


def test_lists_answer_for_every_host_with_its_url(three):
    with pool_of(three) as client:
        running = client.list_running()
        assert [(m["name"], m["host"]) for m in running["models"]] == [
            ("llama3.2:latest", three[0].url),
            ("qwen3:latest", three[1].url),
        ]
        assert "errors" not in running
        models = client.list_models()["models"]
        assert len(models) == 3 * 4
        assert {m["host"] for m in models} == {e.url for e in three}


def test_a_host_that_is_down_is_named_in_a_list_s_errors(ollama_emulators):
    hosts = ollama_emulators(["llama3.2"], ["qwen3"])
    with pool_of(hosts) as client:
        hosts[0].kill()
        running = client.list_running()
        assert [m["host"] for m in running["models"]] == [hosts[1].url]
        (error,) = running["errors"]
        assert error["host"] == hosts[0].url
        assert "cannot connect" in error["error"]
        assert client.hosts()[0]["up"] is False
        running = client.list_running()  # known down now: named, not asked
        assert running["errors"][0]["error"].startswith("down: cannot connect")
        hosts[1].kill()
        with pytest.raises(OllamaError):
            client.list_running()


def test_unload_goes_to_every_host(three):
    with pool_of(three) as client:
        assert client.unload(model="qwen3") is True
        assert generated(three) == [1, 1, 1]
        assert client.host(three[1].url).list_running()["models"] == []


# -- lifetime ------------------------------------------------------------------------------------


def test_closing_the_pool_ends_queued_requests(three):
    three[0].set_pacing(token_rate=2)
    client = pool_of(three[:1], max_in_flight=1)
    holding = client.completion(model="llama3.2", prompt="hold", stream=True)
    next(holding)
    queued = client.completion(model="llama3.2", prompt="queued", stream=True)
    failure: list[BaseException] = []

    def read() -> None:
        try:
            list(queued)
        except OllamaError as exc:
            failure.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    wait_until(lambda: len(client._pool.waiting) == 1, what="the request queued")
    client.close()
    reader.join(10)
    assert isinstance(failure[0], StreamCancelled)
    with pytest.raises(StreamCancelled, match="the client was closed"):
        client.completion(model="llama3.2", prompt="after")
    assert three[0].request_count("/api/generate") == 1


def collected(ref: weakref.ref[object]) -> bool:
    gc.collect()
    return ref() is None


def test_a_pool_nobody_holds_stops_probing(three):
    client = pool_of(three)
    pool = weakref.ref(client._pool)
    client.close()
    del client
    wait_until(lambda: collected(pool), what="the closed pool collected")  # once the loop let go
    client = pool_of(three, refresh=0.05)
    pool = weakref.ref(client._pool)
    del client
    wait_until(lambda: collected(pool), what="the dropped pool collected")  # timers hold it weakly
    before = generated(three, "/api/ps")
    time.sleep(0.3)  # time must pass: six refresh periods, in which a live timer would read
    assert generated(three, "/api/ps") == before


def test_many_threads_through_kills_and_restarts_leave_no_slot_taken(ollama_emulators):
    hosts = ollama_emulators(["llama3.2"], ["llama3.2"], ["llama3.2"])
    outcomes: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    with pool_of(hosts, max_in_flight=4) as client:

        def work() -> None:
            while not stop.is_set():
                try:
                    client.completion(model="llama3.2", prompt="hammer", options=OPTIONS)
                    result = "ok"
                except OllamaError as exc:
                    result = type(exc).__name__
                with lock:
                    outcomes.append(result)

        workers = [threading.Thread(target=work) for _ in range(8)]
        for worker in workers:
            worker.start()
        for round_ in range(3):
            victim = hosts[round_ % 3]
            victim.kill()
            time.sleep(0.3)  # time must pass: an outage the workers' requests run into
            victim.start()
            wait_until(lambda: all(h["up"] for h in client.hosts()), what="every host back")
        stop.set()
        for worker in workers:
            worker.join(30)
            assert not worker.is_alive()
        assert [h["in_flight"] for h in client.hosts()] == [0, 0, 0]
        assert client._pool.waiting == type(client._pool.waiting)()
    assert outcomes.count("ok") > 50
    assert set(outcomes) <= {"ok", "ConnectionLost"}, set(outcomes)


def test_model_key():
    assert model_key("Llama3.2") == "llama3.2:latest"
    assert model_key("llama3.2:1b") == "llama3.2:1b"
    assert model_key("registry.ollama.ai/library/qwen3:8b") == "qwen3:8b"
    assert model_key("me/model") == "me/model:latest"
    assert model_key("host:5000/me/model") == "host:5000/me/model:latest"
    assert model_key(None) is None
    assert model_key("") is None


def test_credentials_a_host_echoes_back_are_hidden_in_what_the_pool_says():
    key = "sk-PoOlKeY7"

    def echo(request):
        head = request.head.decode("latin-1")
        if request.target.endswith("/api/ps") and "ps-ok" in head:
            return [response(b'{"models": []}')]
        return [response(json.dumps({"error": head}).encode(), "500 Internal Server Error")]

    with RawServer(echo) as quoting, RawServer(echo) as sane:
        urls = [f"http://127.0.0.1:{quoting.port}", f"http://127.0.0.1:{sane.port}"]
        with Ollama(urls, api_key=key, headers={"X-Tag": "t"}, timeout=TIMEOUT) as client:
            client.refresh()  # both quote the request in a 500: both down
            report = client.hosts()
            assert [h["up"] for h in report] == [False, False]
            assert all("<hidden>" in h["last_error"] and key not in h["last_error"] for h in report)
            with pytest.raises(NoHostUp) as raised:
                client.completion(model="m", prompt="x")
            assert key not in str(raised.value)
        with Ollama(
            urls, api_key=key, headers={"X-Tag": "ps-ok"}, timeout=TIMEOUT
        ) as client:  # their /api/ps answers; their /api/generate quotes the request in a 500
            client.refresh()
            with pytest.raises(HTTPError) as first:  # the last host's own, after both
                client.completion(model="m", prompt="x")
            with pytest.raises(NoHostUp) as then:  # both are down now
                list(client.completion(model="m", prompt="x", stream=True))
            for error in (first.value, then.value):
                assert "<hidden>" in str(error)
                assert key not in str(error)
            assert key not in first.value.error
            assert all(key not in h["last_error"] for h in client.hosts())
