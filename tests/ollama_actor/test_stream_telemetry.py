"""Stream telemetry: each stream emits start, first_chunk per attempt, restart, and one stop, in
that order, with the times and Ollama's counts; nothing when no handler listens."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import pytest

import actors
from actors import Draining, DynamicSupervisor, telemetry
from ollama_actor import ConnectionLost, HTTPError, RetryPolicy, default_supervisor
from ollama_actor.emulator import cut, expected_reply
from ollama_actor.telemetry import STREAM_FIRST_CHUNK as FIRST_CHUNK
from ollama_actor.telemetry import STREAM_RESTART as RESTART
from ollama_actor.telemetry import STREAM_START as START
from ollama_actor.telemetry import STREAM_STOP as STOP

EVENTS = (START, FIRST_CHUNK, RESTART, STOP)
FAST = RetryPolicy(backoff=None)


@pytest.fixture
def events():
    got = []
    lock = threading.Lock()

    def record(event, measurements, metadata, _config):
        with lock:
            got.append((event[-1], dict(measurements), dict(metadata)))

    telemetry.attach_many("stream-test", EVENTS, record)
    yield got
    telemetry.detach("stream-test")


def of(events, ref):
    return [e for e in events if e[2]["ref"] == ref]


def wait_for_stop(events, ref, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not any(kind == "stop" for kind, _, _ in of(events, ref)):
        assert time.monotonic() < deadline, f"no stop for {ref}: {of(events, ref)}"
        time.sleep(0.01)


def test_a_supervised_stream_cut_once_emits_start_first_chunk_restart_and_one_stop(
    emu, client, events
):
    emu.set_pacing(None, first_token_delay=0.2)
    emu.inject(cut(after=3), path="/api/generate")
    inbox = actors.Inbox()
    handle = client.completion(model="llama3.2", prompt="Why?", stream=inbox, retry=FAST)
    response = handle.result(timeout=30)
    wait_for_stop(events, handle.ref)
    got = of(events, handle.ref)
    assert [kind for kind, _, _ in got] == [
        "start",
        "first_chunk",
        "restart",
        "first_chunk",
        "stop",
    ]
    start, first, restart, again, stop = (m for _, m, _ in got)
    meta = got[0][2]
    assert meta["model"] == "llama3.2"
    assert meta["host"] == emu.base_url.removesuffix("/api")
    assert meta["endpoint"] == "/api/generate"
    assert meta["supervised"] is True
    assert start["system_time"] == pytest.approx(time.time(), abs=60)
    assert first["time_to_first_chunk"] >= 0.2, "the server's first-token delay"
    assert [got[1][2]["attempt"], got[3][2]["attempt"]] == [0, 1]
    assert restart["attempt"] == 1
    assert isinstance(got[2][2]["error"], ConnectionLost)
    assert again["since_start"] >= first["since_start"] + 0.2
    expected = expected_reply("llama3.2", "Why?")
    assert stop["attempts"] == 1
    assert stop["eval_count"] == expected.eval_count == response["eval_count"]
    assert stop["prompt_eval_count"] == response["prompt_eval_count"]
    assert stop["total_duration"] == response["total_duration"] / 1e9
    assert stop["duration"] >= again["since_start"]
    assert got[4][2]["outcome"] == "done"
    assert got[4][2]["error"] is None


def test_an_iterated_stream_emits_start_first_chunk_and_stop(client, events):
    streaming = client.chat(
        model="llama3.2", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    chunks = list(streaming)
    wait_for_stop(events, streaming.ref)
    got = of(events, streaming.ref)
    assert [kind for kind, _, _ in got] == ["start", "first_chunk", "stop"]
    assert got[0][2]["supervised"] is False
    assert got[0][2]["endpoint"] == "/api/chat"
    assert got[2][1]["eval_count"] == chunks[-1]["eval_count"]
    assert got[2][1]["attempts"] == 0


def test_a_failed_stream_stops_with_its_error_and_no_first_chunk(client, events):
    handle = client.completion(model="nope", prompt="x", stream=actors.Inbox())
    with pytest.raises(HTTPError):
        handle.result(timeout=30)
    wait_for_stop(events, handle.ref)
    got = of(events, handle.ref)
    assert [kind for kind, _, _ in got] == ["start", "stop"]
    assert got[1][2]["outcome"] == "error"
    assert isinstance(got[1][2]["error"], HTTPError)
    assert "time_to_first_chunk" not in got[1][1]
    assert "eval_count" not in got[1][1]


def test_a_stream_a_draining_supervisor_refuses_stops_with_draining(client, events):
    supervisor = DynamicSupervisor.start(max_restarts=None)
    try:
        supervisor.proxy().drain().get(timeout=5)
        handle = client.completion(
            model="llama3.2", prompt="x", stream=actors.Inbox(), supervisor=supervisor
        )
        with pytest.raises(Draining):
            handle.result(timeout=30)
    finally:
        supervisor.stop()
    wait_for_stop(events, handle.ref)
    got = of(events, handle.ref)
    assert [kind for kind, _, _ in got] == ["start", "stop"]
    assert isinstance(got[1][2]["error"], Draining)


def test_every_start_has_exactly_one_stop_under_cuts(emu, client, events):
    emu.inject(cut(after=2), path="/api/generate", times=20)
    inbox = actors.Inbox()
    handles = [
        client.completion(model="llama3.2", prompt=f"q{i}", stream=inbox, retry=FAST)
        for i in range(60)
    ]
    for handle in handles:
        handle.result(timeout=60)
    for handle in handles:
        wait_for_stop(events, handle.ref)
    for handle in handles:
        kinds = [kind for kind, _, _ in of(events, handle.ref)]
        assert kinds.count("start") == 1
        assert kinds.count("stop") == 1
        assert kinds[0] == "start"
        assert kinds[-1] == "stop"
        assert kinds.count("restart") == handle.attempt
        assert kinds.count("first_chunk") == handle.attempt + 1
    assert sum(h.attempt for h in handles) == 20


def test_with_no_handler_a_stream_has_no_span(client):
    assert not any(telemetry.attached(event) for event in EVENTS)
    streaming = client.completion(model="llama3.2", prompt="x", stream=True)
    assert list(streaming)
    assert streaming.span is None
    handle = client.completion(model="llama3.2", prompt="x", stream=actors.Inbox())
    handle.result(timeout=30)
    assert handle._run._source.span is None


def test_a_stream_with_telemetry_leaves_no_cycle_for_the_collector(client, events):
    """Its span and first-chunk hook are freed with it, without a full collection."""
    inbox = actors.Inbox()
    gc.collect()
    gc.disable()
    try:
        handle = client.completion(model="llama3.2", prompt="x", stream=inbox)
        handle.result(timeout=10)
        wait_for_stop(events, handle.ref)
        actors.wait_exit(handle.worker, 5)
        default_supervisor().proxy().count_children().get(timeout=5)  # it handled the exit
        # ...and scheduled the child spec's on_exit hook on the loop: let the loop run it.
        ran = threading.Event()
        actors.call_on_loop(ran.set)
        assert ran.wait(5)
        streaming = weakref.ref(handle._run._source)
        assert streaming().span is not None
        del handle
        inbox.drain()
        assert streaming() is None
    finally:
        gc.enable()


def test_a_handler_that_exits_is_detached_and_the_stream_and_the_loop_go_on(client, events, caplog):
    """``sys.exit()`` in a handler raises SystemExit on the shared loop thread: it must be
    logged and detached like any raising handler, not end the loop thread (every stream and
    loop actor would then hang, time bounds included)."""

    def leave(*_args):
        raise SystemExit("a handler called sys.exit()")

    telemetry.attach("leaves", FIRST_CHUNK, leave)
    box: list = []
    try:
        streaming = client.completion(model="llama3.2", prompt="hi", stream=True)
        thread = threading.Thread(target=lambda: box.append(list(streaming)), daemon=True)
        thread.start()
        thread.join(10)
    finally:
        telemetry.detach("leaves")
    assert box, "the stream never ended: the handler's SystemExit took the shared loop down"
    assert "".join(c["response"] for c in box[0]) == "".join(
        expected_reply("llama3.2", "hi").content
    )
    assert "telemetry handler 'leaves' raised" in caplog.text
    wait_for_stop(events, streaming.ref)


@pytest.mark.parametrize("ending", ["done", "error"])
def test_a_sink_that_raises_at_the_end_still_stops_the_streams_telemetry(
    client, emu, events, ending
):
    if ending == "error":
        emu.inject(cut(after=2))
    ended = threading.Event()

    class Broken:
        def on_chunk(self, chunk):
            pass

        def on_done(self, result):
            ended.set()
            raise RuntimeError("a bug in the sink")

        on_error = on_done

    streaming = client.completion(model="llama3.2", prompt="hi", stream=True)
    streaming.start(Broken())
    assert ended.wait(10)
    wait_for_stop(events, streaming.ref)
    stop = of(events, streaming.ref)[-1]
    assert stop[2]["outcome"] == ending
