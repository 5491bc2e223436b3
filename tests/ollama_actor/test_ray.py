"""ollama_actor.ray on a local Ray: Ray actors as recipients, and `StreamCluster`.

One Ray session for the module (2 CPUs, no dashboard, workers' logs kept out of the output),
one emulator process that every node reaches over loopback, and one cluster of two nodes for
the tests that do not kill a node; the fault tests make their own.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import threading
import time
from collections import Counter
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (the ray extra)")

from ollama_actor import (  # noqa: E402
    HTTPError,
    NodeLost,
    Ollama,
    RecipientBehind,
    RecipientDead,
    RetryPolicy,
    StreamCancelled,
    ValidationError,
)
from ollama_actor._ray_deliver import deliver as _deliver  # noqa: E402
from ollama_actor.emulator import EmulatorProcess, expected_tokens  # noqa: E402
from ollama_actor.ray import ClusterRef, RayRecipient, StreamCluster  # noqa: E402

MODEL = "llama3.2"
TERMINAL = ("done", "error")
LONG = 150  # tokens: 1.5 s at the paced rate, so that a node killed early is mid-stream


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    # Ray's C++ side logs to the process's stderr from its own threads, between pytest's
    # captures (an actor killed before it was created, for one): fatal errors only.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        configure_logging=True,
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def emulator():
    with EmulatorProcess() as server:
        yield server


@pytest.fixture
def paced(emulator):
    """The emulator at 100 tokens/s for one test (as fast as it can, after it)."""
    emulator.set_pacing(100)
    yield emulator
    emulator.set_pacing(None)


@pytest.fixture(scope="module")
def cluster(emulator):
    nodes = StreamCluster(emulator.url, nodes=2, timeout=10)
    yield nodes
    nodes.shutdown()


@ray.remote
class Collector:
    """A Ray actor recipient: keeps every message; ``delay`` s per message makes it slow."""

    def __init__(self, delay: float = 0.0) -> None:
        self.got: list[Any] = []
        self.delay = delay

    def tell(self, message: Any) -> None:
        if self.delay:
            time.sleep(self.delay)
        self.got.append(message)

    def receive(self, message: Any) -> None:
        self.got.append(("via receive", message))

    def messages(self) -> list[Any]:
        return self.got

    def pid(self) -> int:
        return os.getpid()


def _by_ref(messages: list[Any]) -> dict[Any, list[tuple[str, Any]]]:
    streams: dict[Any, list[tuple[str, Any]]] = {}
    for ref, body in messages:
        streams.setdefault(ref, []).append(body)
    return streams


def _wait_messages(collector: Any, count: int, timeout: float = 20.0) -> list[Any]:
    """The collector's messages once it has ``count`` terminal ones (each ref's last)."""
    deadline = time.monotonic() + timeout
    while True:
        got = ray.get(collector.messages.remote(), timeout=timeout)
        ends = sum(1 for _ref, (kind, _value) in got if kind in TERMINAL)
        if ends >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def _check_protocol(bodies: list[tuple[str, Any]]) -> None:
    """data* (restart data*)* (done | error): exactly one terminal, last."""
    kinds = [kind for kind, _ in bodies]
    assert kinds.count("done") + kinds.count("error") == 1, kinds
    assert kinds[-1] in TERMINAL, kinds
    assert set(kinds[:-1]) <= {"data", "restart"}, kinds


def _text_after_last_restart(bodies: list[tuple[str, Any]]) -> list[str]:
    tokens: list[str] = []
    for kind, value in bodies:
        if kind == "restart":
            tokens = []
        elif kind == "data" and not value.get("done"):
            tokens.append(value["response"])
    return tokens


# -- Ray actors as recipients of one process's streams ----------------------------------------


def test_a_ray_actor_receives_the_protocol_in_order(emulator):
    client = Ollama(emulator.url, timeout=10)
    collector = Collector.remote()
    handle = client.completion(
        model=MODEL, prompt="ray", options={"num_predict": 30}, stream=collector
    )
    response = handle.result(20)
    (bodies,) = _by_ref(_wait_messages(collector, 1)).values()
    _check_protocol(bodies)
    tokens = expected_tokens(MODEL, "ray", {"num_predict": 30})
    assert _text_after_last_restart(bodies) == tokens
    assert bodies[-1] == ("done", response)
    assert response["response"] == "".join(tokens)


def test_a_named_method_and_the_ref_the_handle_gives(emulator):
    client = Ollama(emulator.url, timeout=10)
    collector = Collector.remote()
    recipient = RayRecipient(collector, method="receive")
    handle = client.chat(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=recipient
    )
    handle.result(20)
    deadline = time.monotonic() + 10
    while True:
        got = ray.get(collector.messages.remote())
        if (got and got[-1][1][1][0] == "done") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert all(tag == "via receive" for tag, _ in got)
    assert {message[0] for _, message in got} == {handle.ref}
    assert got[-1][1][1][0] == "done"


def test_a_fast_stream_goes_in_batches_yet_one_message_per_chunk(emulator):
    client = Ollama(emulator.url, timeout=10)
    collector = Collector.remote()
    recipient = RayRecipient(collector)
    handle = client.completion(
        model=MODEL, prompt="fast", options={"num_predict": 3000}, stream=recipient
    )
    handle.result(30)
    (bodies,) = _by_ref(_wait_messages(collector, 1)).values()
    _check_protocol(bodies)
    assert _text_after_last_restart(bodies) == expected_tokens(MODEL, "fast", {"num_predict": 3000})
    calls, messages = recipient.sent()
    assert messages == len(bodies) == 3002  # 3000 tokens, the final chunk, done
    assert calls < messages / 5, (calls, messages)


def test_a_slow_recipient_ends_its_stream_at_its_bound(emulator):
    client = Ollama(emulator.url, timeout=10)
    collector = Collector.remote(delay=0.005)
    recipient = RayRecipient(collector, max_pending=50)
    handle = client.completion(
        model=MODEL, prompt="slow", options={"num_predict": 5000}, stream=recipient
    )
    with pytest.raises(RecipientBehind, match="50 messages behind"):
        handle.result(30)
    (bodies,) = _by_ref(_wait_messages(collector, 1, timeout=30)).values()
    _check_protocol(bodies)
    assert bodies[-1][0] == "error"
    assert isinstance(bodies[-1][1], RecipientBehind)
    assert len(bodies) < 5000  # it did not run to its end


def test_a_dead_ray_recipient_ends_its_stream(paced):
    client = Ollama(paced.url, timeout=10)
    collector = Collector.remote()
    handle = client.completion(
        model=MODEL, prompt="dies", options={"num_predict": 500}, stream=collector
    )
    _wait_for(lambda: len(ray.get(collector.messages.remote())) >= 3)
    ray.kill(collector)
    with pytest.raises(RecipientDead):
        handle.result(20)
    _wait_for(lambda: paced.active_streams() == 0)  # the request was cut, not left running


def test_ray_recipient_refuses_what_is_not_an_actor_and_pickles():
    import pickle

    with pytest.raises(TypeError, match="Ray actor handle"):
        RayRecipient(object())
    collector = Collector.remote()
    with pytest.raises(ValueError, match="method name"):
        RayRecipient(collector, method="not a name")
    with pytest.raises(ValueError, match="max_pending"):
        RayRecipient(collector, max_pending=0)
    copy = pickle.loads(pickle.dumps(RayRecipient(collector, "receive", max_pending=7)))
    assert (copy.method, copy.max_pending) == ("receive", 7)


def test_fences_drop_late_messages_and_anything_after_the_terminal():
    """In the recipient's process: a dead node's late messages (a lower epoch) and anything
    after a terminal message are dropped, so a ref has exactly one terminal message."""

    class Local:
        def __init__(self):
            self.got = []

        def tell(self, message):
            self.got.append(message)

    ref, other, actor = ClusterRef(), ClusterRef(), Local()
    batches = [  # as the Ray calls from two nodes and the driver may arrive
        [(0, ref, [("data", {"n": 1})])],
        [(1, ref, [("restart", {"attempt": 1})]), (None, other, [("data", {"n": 9})])],
        [(0, ref, [("data", {"n": 2}), ("done", {})])],  # late, from the node that died
        [(1, ref, [("data", {"n": 3}), ("done", {"n": 3}), ("data", {"n": 4})])],
        [(2, ref, [("error", RuntimeError("too late"))])],
        [(None, None, ["not a stream's message"])],
    ]
    for batch in batches:
        _deliver(actor, "tell", batch)
    assert actor.got == [
        (ref, ("data", {"n": 1})),
        (ref, ("restart", {"attempt": 1})),
        (other, ("data", {"n": 9})),
        (ref, ("data", {"n": 3})),
        (ref, ("done", {"n": 3})),
        "not a stream's message",
    ]


def test_a_ray_recipient_groups_by_ref_yet_keeps_each_refs_order(emulator):
    """Many interleaved streams to one actor: each ref's messages in order, none lost, and
    other messages (not a stream's) passed as they are."""
    client = Ollama(emulator.url, timeout=10)
    collector = Collector.remote()
    recipient = RayRecipient(collector)
    handles = [
        client.completion(
            model=MODEL, prompt=f"g{i}", options={"num_predict": 300}, stream=recipient
        )
        for i in range(8)
    ]
    recipient.tell(("hello", "not a stream's"))
    for handle in handles:
        handle.result(20)
    got = [m for m in _wait_messages_any(collector, 8) if m != ("hello", "not a stream's")]
    streams = _by_ref(got)
    for i, handle in enumerate(handles):
        bodies = streams[handle.ref]
        _check_protocol(bodies)
        assert _text_after_last_restart(bodies) == expected_tokens(
            MODEL, f"g{i}", {"num_predict": 300}
        )
    assert ("hello", "not a stream's") in ray.get(collector.messages.remote())


def _wait_messages_any(collector, ends, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        got = ray.get(collector.messages.remote())
        done = sum(1 for m in got if isinstance(m[1], tuple) and m[1][0] in TERMINAL)
        if done >= ends or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


# -- StreamCluster -------------------------------------------------------------------------------


def test_cluster_streams_go_to_the_least_loaded_node(cluster, paced):
    collector = Collector.remote()
    handles = [
        cluster.completion(
            model=MODEL, prompt=f"n{i}", options={"num_predict": 30}, stream=collector
        )
        for i in range(6)
    ]
    assert Counter(h.node for h in handles) == {0: 3, 1: 3}
    assert sorted(s["streams"] for s in cluster.stats()) == [3, 3]
    results = [h.result(20) for h in handles]
    streams = _by_ref(_wait_messages(collector, 6))
    assert set(streams) == {h.ref for h in handles}
    for i, handle in enumerate(handles):
        bodies = streams[handle.ref]
        _check_protocol(bodies)
        tokens = expected_tokens(MODEL, f"n{i}", {"num_predict": 30})
        assert _text_after_last_restart(bodies) == tokens
        assert results[i]["response"] == "".join(tokens)
    assert [s["streams"] for s in cluster.stats()] == [0, 0]


def test_cluster_routes_around_a_busy_node(cluster, paced):
    collector = Collector.remote()
    long = [
        cluster.completion(
            model=MODEL, prompt="long", options={"num_predict": 200}, stream=collector
        )
        for _ in range(2)
    ]
    short = cluster.completion(
        model=MODEL, prompt="s", options={"num_predict": 5}, stream=collector
    )
    short.result(20)
    busy = {h.node for h in long}
    assert busy == {0, 1}  # one each; the short one went to either
    third = cluster.completion(
        model=MODEL, prompt="t", options={"num_predict": 5}, stream=collector
    )
    assert third.node in busy
    for h in long:
        h.cancel()
    third.result(20)


def test_cluster_handle_cancel(cluster, paced):
    collector = Collector.remote()
    handle = cluster.completion(
        model=MODEL, prompt="cancel", options={"num_predict": 1000}, stream=collector
    )
    _wait_for(lambda: len(ray.get(collector.messages.remote())) >= 2)
    handle.cancel()
    with pytest.raises(StreamCancelled):
        handle.result(20)
    (bodies,) = _by_ref(_wait_messages(collector, 1)).values()
    _check_protocol(bodies)
    assert isinstance(bodies[-1][1], StreamCancelled)


def test_cluster_validates_before_sending(cluster):
    collector = Collector.remote()
    started = sum(s["started"] for s in cluster.stats())
    with pytest.raises(ValidationError, match="temprature"):
        cluster.completion(model=MODEL, prompt="x", options={"temprature": 1}, stream=collector)
    with pytest.raises(ValidationError, match="RayRecipient"):
        cluster.completion(model=MODEL, prompt="x", stream=print)
    for stream in (collector, True):  # timeout= too, as a local client checks it
        with pytest.raises(ValidationError, match="'timeout'"):
            cluster.completion(model=MODEL, prompt="x", timeout="soon", stream=stream)
        with pytest.raises(ValidationError, match="'timeout'"):
            cluster.completion(model=MODEL, prompt="x", timeout=-1, stream=stream)
    assert sum(s["started"] for s in cluster.stats()) == started  # nothing was sent


def test_cluster_iteration_sync_and_async(cluster):
    tokens = expected_tokens(MODEL, "it", {"num_predict": 500})
    stream = cluster.completion(model=MODEL, prompt="it", options={"num_predict": 500}, stream=True)
    chunks = list(stream)
    assert [c["response"] for c in chunks[:-1]] == tokens
    assert chunks[-1]["done"] is True

    async def consume():
        s = cluster.completion(model=MODEL, prompt="it", options={"num_predict": 500}, stream=True)
        return [c async for c in s]

    chunks = asyncio.run(consume())
    assert [c["response"] for c in chunks[:-1]] == tokens

    missing = cluster.completion(model="no-such-model", prompt="x", stream=True)
    with pytest.raises(HTTPError) as caught:
        list(missing)
    assert caught.value.status == 404


def test_cluster_iteration_cancelled_or_dropped_ends_on_its_node(cluster, paced):
    stream = cluster.completion(model=MODEL, prompt="c", options={"num_predict": 1000}, stream=True)
    assert next(stream)["response"]
    stream.cancel()
    with pytest.raises(StreamCancelled):
        for _ in stream:
            pass
    _wait_for(lambda: sum(s["streams"] for s in cluster.stats()) == 0)
    dropped = cluster.completion(
        model=MODEL, prompt="d", options={"num_predict": 5000}, stream=True
    )
    assert next(dropped)["response"]
    assert sum(s["streams"] for s in cluster.stats()) == 1
    del dropped
    gc.collect()
    # Cut long before its 50 s: on its node and at the server.
    _wait_for(lambda: sum(s["streams"] for s in cluster.stats()) == 0, timeout=15)
    _wait_for(lambda: paced.active_streams() == 0, timeout=15)


def test_a_node_runs_a_pool_of_hosts(emulator):
    """``hosts`` as a list: each node's client is a pool, with its failover; here one host of
    two refuses connections, and every stream still ends done, on the host that is up."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    pooled = StreamCluster([dead, emulator.url], nodes=1, timeout=10)
    try:
        collector = Collector.remote()
        handles = [
            pooled.completion(
                model=MODEL, prompt=f"p{i}", options={"num_predict": 5}, stream=collector
            )
            for i in range(6)
        ]
        for i, handle in enumerate(handles):
            expected = "".join(expected_tokens(MODEL, f"p{i}", {"num_predict": 5}))
            assert handle.result(20)["response"] == expected
        for bodies in _by_ref(_wait_messages(collector, 6)).values():
            _check_protocol(bodies)
            assert bodies[-1][0] == "done"
    finally:
        pooled.shutdown()


# -- faults ------------------------------------------------------------------------------------


def _start_streams(cluster, collector, count, **options):
    return [
        cluster.completion(
            model=MODEL, prompt=f"k{i}", options={"num_predict": LONG}, stream=collector, **options
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("how", ["ray.kill", "SIGKILL"])
def test_a_killed_node_moves_its_streams_and_comes_back(emulator, paced, how):
    cluster = StreamCluster(emulator.url, nodes=2, timeout=10)
    try:
        collector = Collector.remote()
        handles = _start_streams(cluster, collector, 10)
        _wait_for(lambda: len(ray.get(collector.messages.remote())) >= 10)
        victim = cluster.stats()[0]
        if how == "ray.kill":
            ray.kill(cluster.node(0), no_restart=False)
        else:
            os.kill(victim["pid"], signal.SIGKILL)
        results = [h.result(30) for h in handles]  # every one completes: moved, not lost
        moved = [h for h in handles if h.attempt == 1]
        assert len(moved) == 5
        assert all(h.node == 1 for h in moved)
        streams = _by_ref(_wait_messages(collector, 10))
        for i, handle in enumerate(handles):
            bodies = streams[handle.ref]
            _check_protocol(bodies)
            tokens = expected_tokens(MODEL, f"k{i}", {"num_predict": LONG})
            assert _text_after_last_restart(bodies) == tokens
            assert results[i]["response"] == "".join(tokens)
            restarts = [value for kind, value in bodies if kind == "restart"]
            if handle in moved:
                assert len(restarts) == 1, " ".join(k[0] for k, _ in bodies)
                assert restarts[0]["node"] == 1
                assert restarts[0]["attempt"] == 1
                assert isinstance(restarts[0]["error"], NodeLost)
            else:
                assert restarts == []
        # Ray restarts the node, and it takes streams again.
        _wait_for(lambda: cluster.stats()[0]["up"])
        node0 = cluster.stats()[0]
        assert node0["restarts"] == 1
        assert node0["pid"] != victim["pid"]
        again = _start_streams(cluster, collector, 2)
        assert sorted(h.node for h in again) == [0, 1]
        for h in again:
            h.result(20)
    finally:
        cluster.shutdown()


def test_a_killed_node_ends_temporary_streams_with_node_lost(emulator, paced):
    cluster = StreamCluster(emulator.url, nodes=2, timeout=10)
    try:
        collector = Collector.remote()
        handles = _start_streams(cluster, collector, 6, retry=RetryPolicy(restart="temporary"))
        _wait_for(lambda: len(ray.get(collector.messages.remote())) >= 6)
        os.kill(cluster.stats()[1]["pid"], signal.SIGKILL)
        outcomes = Counter()
        for h in handles:
            try:
                h.result(30)
                outcomes["done"] += 1
            except NodeLost:
                outcomes["lost"] += 1
        assert outcomes == {"done": 3, "lost": 3}
        streams = _by_ref(_wait_messages(collector, 6))
        for handle in handles:
            bodies = streams[handle.ref]
            _check_protocol(bodies)
            assert "restart" not in [kind for kind, _ in bodies]
            if handle.node == 1:
                assert isinstance(bodies[-1][1], NodeLost)
    finally:
        cluster.shutdown()


def test_iterating_a_stream_whose_node_dies_raises_node_lost(emulator, paced):
    cluster = StreamCluster(emulator.url, timeout=10, node_options=[{"max_restarts": 0}])
    try:
        stream = cluster.completion(
            model=MODEL, prompt="i", options={"num_predict": 500}, stream=True
        )
        assert next(stream)["response"]
        ray.kill(cluster.node(0))
        with pytest.raises(NodeLost):
            for _ in stream:
                pass
        assert len(cluster.stats()) == 1  # one node per entry of node_options
        _wait_for(lambda: cluster.stats()[0]["dead"])  # Ray will not restart it
        with pytest.raises(NodeLost, match="no node is up"):
            cluster.completion(model=MODEL, prompt="x", stream=Collector.remote()).result(10)
    finally:
        cluster.shutdown()


def test_shutdown_ends_running_streams_with_one_terminal_each(emulator, paced):
    cluster = StreamCluster(emulator.url, nodes=2, timeout=10)
    collector = Collector.remote()
    handles = _start_streams(cluster, collector, 6)
    _wait_for(lambda: len(ray.get(collector.messages.remote())) >= 6)
    started = time.monotonic()
    cluster.shutdown(timeout=10)
    assert time.monotonic() - started < 15
    for h in handles:
        with pytest.raises(StreamCancelled):
            h.result(5)
    streams = _by_ref(_wait_messages(collector, 6))
    assert len(streams) == 6
    for bodies in streams.values():
        _check_protocol(bodies)
    assert all(s["dead"] for s in cluster.stats())


def _wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_a_cluster_whose_nodes_cannot_start_says_why(emulator):
    with pytest.raises(RuntimeError, match=r"could not start: TypeError: .*no_such_option"):
        StreamCluster(emulator.url, nodes=1, no_such_option=1)


# -- attacks: each a defect found after the first round ----------------------------------------


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_ray_recipient_dropped_after_its_stream_is_reclaimed_by_ray(emulator):
    """This process's outbox for an actor must not keep the actor alive: once the caller has
    dropped every handle of it and its streams have ended, Ray ends its process (as it does
    for an actor never used as a recipient)."""
    client = Ollama(emulator.url, timeout=10)
    collector = Collector.remote()
    pid = ray.get(collector.pid.remote())
    handle = client.completion(
        model=MODEL, prompt="x", options={"num_predict": 5}, stream=collector
    )
    handle.result(20)
    _wait_messages(collector, 1)
    del collector, handle
    gc.collect()
    _wait_for(lambda: _process_gone(pid), timeout=20)


def test_a_recipient_ray_restarts_mid_stream_ends_it(paced):
    """Ray restarting the recipient (``max_restarts``) loses its state and the messages in
    flight: the stream ends with `RecipientDead`, as when it dies for good, rather than run on
    to the new process with a gap."""
    client = Ollama(paced.url, timeout=10)
    collector = Collector.options(max_restarts=1).remote()
    handle = client.completion(
        model=MODEL, prompt="restarts", options={"num_predict": 500}, stream=collector
    )
    _wait_for(lambda: len(ray.get(collector.messages.remote())) >= 3)
    ray.kill(collector, no_restart=False)
    with pytest.raises(RecipientDead):
        handle.result(20)
    # The new process of the actor takes new streams.
    again = client.completion(
        model=MODEL, prompt="new", options={"num_predict": 3}, stream=collector
    )
    again.result(20)
    (bodies,) = _by_ref(_wait_messages(collector, 1)).values()
    _check_protocol(bodies)
    assert bodies[-1][0] == "done"


@ray.remote
class Streamer:
    """Another process streaming to a shared recipient, its refs counted from ``start``."""

    def run(self, url: str, recipient: Any, start: int) -> Any:
        from actors import Ref

        while Ref()._n < start:  # as two processes that have made as many refs
            pass
        client = Ollama(url, timeout=10)
        handle = client.completion(
            model=MODEL, prompt="two", options={"num_predict": 3}, stream=recipient
        )
        handle.result(20)
        return handle.ref


def test_streams_from_two_processes_to_one_recipient_have_distinct_refs(emulator):
    """Each process numbers its refs from its own counter: two processes' streams to one Ray
    actor must still have two refs there, each with one terminal message, and each process's
    ``handle.ref`` must be the ref its stream's messages carry."""
    collector = Collector.remote()
    a, b = Streamer.remote(), Streamer.remote()
    refs = ray.get([s.run.remote(emulator.url, collector, 100_000) for s in (a, b)], timeout=60)
    streams = _by_ref(_wait_messages(collector, 2))
    assert len(streams) == 2, {repr(r): [k for k, _ in v] for r, v in streams.items()}
    assert set(streams) == set(refs)
    for bodies in streams.values():
        _check_protocol(bodies)


def test_a_cluster_leaves_no_thread_behind(emulator):
    """The driver's event thread of a cluster ends with it: at shutdown, and when its nodes
    could not start."""

    def event_threads() -> int:
        return sum(1 for t in threading.enumerate() if t.name == "ray-cluster")

    before = event_threads()
    StreamCluster(emulator.url, nodes=1, timeout=10).shutdown()
    with pytest.raises(RuntimeError, match="could not start"):
        StreamCluster(emulator.url, nodes=1, no_such_option=1)
    _wait_for(lambda: event_threads() == before, timeout=10)


def test_iterating_slowly_stops_the_node_reading_its_socket(cluster, emulator):
    """A driver that reads slower than the stream comes must not make the chunks pile up (in
    Ray's objects, here or on the node): the node stops reading, so the server waits. Here one
    chunk is read of 300,000 sent as fast as the emulator can: the server must still be
    sending seconds later, and the whole stream then arrives intact."""
    count = 300_000
    stream = cluster.completion(
        model=MODEL, prompt="slow reader", options={"num_predict": count}, stream=True
    )
    first = next(stream)
    time.sleep(3)  # unread: without a bound, the node reads it all within about a second
    assert emulator.active_streams() == 1
    rest = list(stream)
    assert rest[-1]["done"] is True
    tokens = [first["response"]] + [c["response"] for c in rest[:-1]]
    assert tokens == expected_tokens(MODEL, "slow reader", {"num_predict": count})


def test_streams_iterated_through_a_shutdown_say_cancelled_not_node_lost(emulator, paced):
    """`shutdown` cancels every stream: one the driver is iterating raises `StreamCancelled`,
    as a `ClusterHandle`'s result does, not `NodeLost` (no node died; shutdown ended them)."""
    cluster = StreamCluster(emulator.url, nodes=2, timeout=10)
    streams = [
        cluster.completion(model=MODEL, prompt=f"s{i}", options={"num_predict": 1000}, stream=True)
        for i in range(8)
    ]
    for stream in streams:
        assert next(stream)["response"]
    cluster.shutdown()
    for stream in streams:
        with pytest.raises(StreamCancelled):
            for _ in stream:
                pass


class _LockedJudge:
    """A `RetryPolicy.retryable` that cannot be pickled (it holds a lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __call__(self, exc: BaseException) -> bool:
        return True


def test_a_stream_that_cannot_be_sent_to_a_node_leaves_no_trace(cluster):
    """A stream whose job Ray cannot pickle raises at the call, and is neither counted on a
    node (routing and stats would be skewed for good) nor ended later at the recipient."""
    collector = Collector.remote()
    before = cluster.stats()
    with pytest.raises(TypeError, match="serialize"):
        cluster.completion(
            model=MODEL, prompt="x", stream=collector, retry=RetryPolicy(retryable=_LockedJudge())
        )
    assert cluster.stats() == before


@pytest.mark.parametrize(
    ("options", "error", "says"),
    [
        ({"node_options": "x"}, TypeError, "node_options must be a dict"),
        ({"node_options": [{}, "x"]}, TypeError, r"node_options\[1\] is not a dict"),
        ({"node_options": [{}, {"no_such": 1}]}, ValueError, "no_such"),
        ({"start_timeout": 0}, ValueError, "start_timeout"),
        ({"start_timeout": "soon"}, ValueError, "start_timeout"),
        ({"start_timeout": float("nan")}, ValueError, "start_timeout"),
    ],
)
def test_a_cluster_refuses_bad_options_before_starting_anything(emulator, options, error, says):
    with pytest.raises(error, match=says):
        StreamCluster(emulator.url, **options)


def test_a_stream_cancelled_while_it_moves_to_another_node_is_cancelled(emulator, paced):
    """`cancel()` as the driver moves a stream off a dead node (just after its ``attempt``
    counts the move) must still end it: neither lost on the dead node nor beaten to the new
    one by the move."""
    cluster = StreamCluster(emulator.url, nodes=2, timeout=10)
    try:
        collector = Collector.remote()
        handles = _start_streams(cluster, collector, 12)
        _wait_for(lambda: len(ray.get(collector.messages.remote())) >= 12)
        victims = [h for h in handles if h.node == 0]

        def cancel_as_it_moves(handle: Any) -> None:
            deadline = time.monotonic() + 20
            while handle.attempt == 0 and not handle.done and time.monotonic() < deadline:
                pass
            handle.cancel()

        threads = [threading.Thread(target=cancel_as_it_moves, args=(h,)) for h in victims]
        for thread in threads:
            thread.start()
        os.kill(cluster.stats()[0]["pid"], signal.SIGKILL)
        for thread in threads:
            thread.join(30)
        for handle in victims:
            with pytest.raises(StreamCancelled):
                handle.result(30)
        streams = _by_ref(_wait_messages(collector, 12))
        for handle in victims:
            _check_protocol(streams[handle.ref])
            assert isinstance(streams[handle.ref][-1][1], StreamCancelled)
    finally:
        cluster.shutdown()


_RAY_SHUT_DOWN_FIRST = """
import logging, os, sys, time
os.environ["RAY_BACKEND_LOG_LEVEL"] = "fatal"
import ray
from ollama_actor import Ollama, RecipientDead, StreamCancelled
from ollama_actor.ray import StreamCluster

ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)

@ray.remote
class Sink:
    def tell(self, message):
        pass

sink = Sink.remote()
cluster = StreamCluster(sys.argv[1], nodes=1, timeout=10)
remote = cluster.completion(model="llama3.2", prompt="a", options={"num_predict": 500}, stream=sink)
local = Ollama(sys.argv[1], timeout=10).completion(
    model="llama3.2", prompt="b", options={"num_predict": 500}, stream=sink
)
time.sleep(0.5)
ray.shutdown()  # before the cluster's shutdown: the wrong order, but an easy one to write
cluster.shutdown()
for handle, expected in ((remote, StreamCancelled), (local, RecipientDead)):
    try:
        handle.result(10)
    except expected:
        continue
    raise AssertionError(f"{handle} did not end with {expected.__name__}")
assert not ray.is_initialized(), "a new Ray was started behind the caller's back"
print("clean")
"""


def test_ray_shut_down_before_the_cluster_starts_no_new_ray_and_ends_every_stream(paced):
    """In a process of its own (it shuts its Ray down): `ray.shutdown()` before
    `cluster.shutdown()`. The cluster's shutdown must not fail, every stream must end (none
    hangs), and nothing may start a new local Ray (a Ray call after ``ray.shutdown()`` does)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _RAY_SHUT_DOWN_FIRST, paced.url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("clean")
    assert "Started a local Ray instance" not in done.stderr
