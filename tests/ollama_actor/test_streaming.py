"""Streaming: laziness, framing whatever the reads, cancel from anywhere, backpressure."""

import gc
import threading
import time

import pytest

from actors import Inbox
from ollama_actor import InternalError, OllamaError, StreamCancelled, UsageError
from ollama_actor.emulator import coalesce, drip, expected_tokens, split, stall

PROMPT = "Tell me about the sea."
TOKENS = expected_tokens("llama3.2", PROMPT)


def stream(client, **extra):
    return client.completion(model="llama3.2", prompt=PROMPT, stream=True, **extra)


def wait_until(predicate, timeout=5.0, interval=0.005):
    """Poll a condition that has no event to wait on (the emulator's log), with a bound."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)


def test_nothing_is_sent_until_the_first_next(client, emu):
    s = stream(client)
    time.sleep(0.2)  # give a wrongly eager client time to send
    assert emu.request_count("/api/generate") == 0
    first = next(s)
    assert first["response"] == TOKENS[0]
    assert emu.request_count("/api/generate") == 1


@pytest.mark.parametrize("fault", [split(max_bytes=3), split(max_bytes=1), coalesce()])
def test_framing_whatever_the_read_boundaries(client, emu, fault):
    emu.inject(fault)
    options = {"num_predict": 6}
    chunks = list(stream(client, options=options))
    assert [c["response"] for c in chunks[:-1]] == expected_tokens("llama3.2", PROMPT, options)
    assert chunks[-1]["done"] is True


def test_cancel_from_another_thread_ends_a_stalled_read_at_once(client, emu):
    emu.inject(stall(after=2))
    s = stream(client)
    assert next(s)["response"] == TOKENS[0]
    assert next(s)["response"] == TOKENS[1]
    raised = []

    def consume():
        try:
            next(s)
        except OllamaError as exc:
            raised.append((time.monotonic(), exc))

    reader = threading.Thread(target=consume)
    reader.start()
    time.sleep(0.1)  # the reader is now blocked waiting for a chunk that never comes
    cancelled_at = time.monotonic()
    s.cancel()
    reader.join(5)
    assert not reader.is_alive()
    assert isinstance(raised[0][1], StreamCancelled)
    info = emu.wait_until_ended(emu.last_request("/api/generate").id)
    assert info.outcome == "client_closed"
    assert info.closed_at - cancelled_at < 0.1  # the server saw the close within 100 ms
    assert raised[0][0] - cancelled_at < 0.1


def test_cancel_before_start_and_after_end(client, emu):
    s = stream(client)
    s.cancel()
    with pytest.raises(StreamCancelled):
        next(s)
    done = stream(client)
    list(done)
    done.cancel()  # a no-op once ended
    assert done.response["done"] is True


def test_dropping_a_running_stream_closes_its_connection(client, emu):
    emu.inject(drip(0.05))
    for chunk in stream(client):
        assert chunk["response"] == TOKENS[0]
        break  # the Streaming is dropped here
    gc.collect()
    info = emu.wait_until_ended(emu.last_request("/api/generate").id)
    assert info.outcome == "client_closed"


def test_leaving_a_with_block_cancels(client, emu):
    emu.inject(drip(0.05))
    with stream(client) as s:
        next(s)
    info = emu.wait_until_ended(emu.last_request("/api/generate").id)
    assert info.outcome == "client_closed"
    with pytest.raises(StreamCancelled):
        list(s)


def test_a_slow_consumer_stops_the_server_instead_of_growing_memory(client, emu):
    s = stream(client, options={"num_predict": 1_000_000})
    next(s)
    request = emu.last_request("/api/generate")

    def lines():
        return next(r.lines for r in emu.requests if r.id == request.id)

    wait_until(lambda: lines() > 10_000)
    # Once our buffer is full we stop reading; then the socket buffers fill and the server stalls.
    previous = -1
    deadline = time.monotonic() + 10
    while lines() != previous:
        assert time.monotonic() < deadline, "the server never stopped: no backpressure"
        previous = lines()
        time.sleep(0.3)  # time must pass: a server still producing would add lines meanwhile
    assert lines() < 200_000
    # Consuming again resumes the stream.
    for _ in range(20_000):
        next(s)
    wait_until(lambda: lines() > previous)
    s.cancel()


def test_again_runs_the_same_request_under_the_same_ref(client, emu):
    s = stream(client)
    first = list(s)
    again = s.again()
    assert again.ref == s.ref
    assert [c["response"] for c in again] == [c["response"] for c in first]
    assert emu.request_count("/api/generate") == 2
    with pytest.raises(UsageError, match=r"already started; use \.again\(\)"):
        s.send_to(Inbox())


def test_iterating_on_the_loop_thread_is_refused_not_deadlocked(client):
    from actors._loop import event_loop

    s = stream(client)
    failure = []
    done = threading.Event()

    def on_loop():
        try:
            next(s)
        except OllamaError as exc:
            failure.append(exc)
        done.set()

    event_loop().call_soon_threadsafe(on_loop)
    assert done.wait(5)
    assert isinstance(failure[0], UsageError)
    assert "event loop thread" in str(failure[0])


def test_a_sink_that_raises_ends_the_stream_with_an_internal_error(client, caplog):
    class Sink:
        def __init__(self):
            self.errors = []
            self.ended = threading.Event()

        def on_chunk(self, chunk):
            raise KeyError("a bug in the sink")

        def on_done(self, result):
            self.ended.set()

        def on_error(self, exc):
            self.errors.append(exc)
            self.ended.set()

    sink = Sink()
    streaming = stream(client)  # held: dropping a running Streaming cancels it
    streaming.start(sink)
    assert sink.ended.wait(5)
    (error,) = sink.errors
    assert isinstance(error, InternalError)
    assert isinstance(error, OllamaError)  # existing except clauses still catch it
    assert isinstance(error.__cause__, KeyError)
    assert "a bug in the sink" in str(error)
    assert not error.retryable
    assert any("a stream sink raised" in r.getMessage() for r in caplog.records)
