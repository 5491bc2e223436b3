"""Streams delivered to actors: StreamWorker, send_to, stream=recipient, cancel, dead recipients."""

import os
import random
import threading
import time

import pykka
import pytest

import actors
from actors import Actor, DynamicSupervisor, Inbox
from actors._stream_worker import StreamWorker
from ollama_actor import (
    Ollama,
    RecipientDead,
    ResponseError,
    RetryPolicy,
    StreamCancelled,
    StreamHandle,
    _handle,
)
from ollama_actor.emulator import cut, error_line, expected_tokens, stall, status

from .protocol import assert_nothing_more, assert_protocol, messages_of

PROMPT = "Why is the sky blue?"
TOKENS = expected_tokens("llama3.2", PROMPT)


def completion(client, stream=True, **extra):
    return client.completion(model="llama3.2", prompt=PROMPT, stream=stream, **extra)


class Collector(pykka.ThreadingActor):
    """A plain Pykka actor that keeps what it is told."""

    def __init__(self):
        super().__init__()
        self.got = []
        self.ended = threading.Event()
        self.three = threading.Event()  # three messages came

    def on_receive(self, message):
        self.got.append(message)
        if len(self.got) == 3:
            self.three.set()
        if message[1][0] in ("done", "error"):
            self.ended.set()


def test_worker_send_to_tells_each_chunk_then_done_and_returns_the_response(client):
    inbox = Inbox()
    streaming = completion(client)
    worker = StreamWorker.start(streaming)
    future = worker.proxy().send_to(inbox)
    response = future.get(timeout=10)
    messages = messages_of(inbox, streaming.ref)
    assert_protocol(messages)
    assert [m[1]["response"] for m in messages[:-2]] == TOKENS
    assert messages[-2][1]["done"] is True
    assert messages[-1] == ("done", response)
    assert response["response"] == "".join(TOKENS)
    assert worker.actor_stopped.wait(5)  # the worker stops itself when the stream ends


def test_streaming_send_to_in_the_calling_thread(client):
    inbox = Inbox()
    streaming = completion(client)
    response = streaming.send_to(inbox)
    messages = messages_of(inbox, streaming.ref)
    assert_protocol(messages)
    assert messages[-1] == ("done", response)
    assert_nothing_more(inbox, streaming.ref)


def test_stream_to_a_plain_pykka_actor(client):
    collector = Collector.start()
    try:
        handle = completion(client, stream=collector)
        assert isinstance(handle, StreamHandle)
        response = handle.result(timeout=10)
        assert collector.proxy().ended.get().wait(5)
        got = collector.proxy().got.get()
        assert all(ref == handle.ref for ref, _ in got)
        assert_protocol([m for _, m in got])
        assert got[-1][1] == ("done", response)
    finally:
        collector.stop()


def test_stream_to_anything_with_tell(client):
    got = []
    done = threading.Event()

    class Sink:
        def tell(self, message):
            got.append(message)
            if message[1][0] in ("done", "error"):
                done.set()

    handle = completion(client, stream=Sink())
    assert done.wait(10)
    assert_protocol([m for _, m in got])
    assert handle.result(timeout=1)["response"] == "".join(TOKENS)


def test_two_streams_interleaved_into_one_inbox_are_received_selectively(client, emu):
    emu.set_pacing(token_rate=200.0)
    inbox = Inbox()
    first = completion(client, stream=inbox)
    second = client.completion(model="llama3.2", prompt="Something else", stream=inbox)
    assert first.ref != second.ref
    # Read the second stream first; the first stream's messages stay queued, in order.
    second_messages = messages_of(inbox, second.ref)
    first_messages = messages_of(inbox, first.ref)
    assert_protocol(first_messages)
    assert_protocol(second_messages)
    assert [m[1]["response"] for m in first_messages[:-2]] == TOKENS
    expected_second = expected_tokens("llama3.2", "Something else")
    assert [m[1]["response"] for m in second_messages[:-2]] == expected_second


def test_error_line_mid_stream_is_an_error_message_never_data(client, emu):
    emu.inject(error_line(after=2, message="an error was encountered while running the model"))
    inbox = Inbox()
    handle = completion(client, stream=inbox, retry=RetryPolicy(restart="temporary"))
    messages = messages_of(inbox, handle.ref)
    assert_protocol(messages)
    assert [kind for kind, _ in messages] == ["data", "data", "error"]
    assert isinstance(messages[-1][1], ResponseError)
    with pytest.raises(ResponseError):
        handle.result(timeout=5)
    assert_nothing_more(inbox, handle.ref)


def started_stalled(client, emu, inbox, after=2):
    """A stream that stalls after ``after`` chunks, with those chunks already received."""
    emu.inject(stall(after=after))
    handle = completion(client, stream=inbox)
    for _ in range(after):
        ref, (kind, _) = inbox.receive(timeout=5)
        assert (ref, kind) == (handle.ref, "data")
    return handle, emu.last_request("/api/generate")


@pytest.mark.parametrize("how", ["handle", "worker_stop", "worker_cancel"])
def test_cancel_a_stalled_stream_closes_it_within_100_ms(client, emu, how):
    inbox = Inbox()
    handle, request = started_stalled(client, emu, inbox)
    worker = handle.worker
    started = time.monotonic()
    if how == "handle":
        handle.cancel()
    elif how == "worker_stop":
        worker.stop(block=False)
    else:
        worker.proxy().cancel()
    info = emu.wait_until_ended(request.id)
    assert info.outcome == "client_closed"
    assert info.closed_at - started < 0.1
    ref, (kind, error) = inbox.receive(timeout=5)
    assert (ref, kind) == (handle.ref, "error")
    assert isinstance(error, StreamCancelled)
    assert error.reason == ("shutdown" if how == "worker_stop" else "caller")
    assert_nothing_more(inbox, handle.ref)
    with pytest.raises(StreamCancelled):
        handle.result(timeout=1)
    assert worker.actor_stopped.wait(5)


def test_closing_the_client_cancels_its_streams_with_reason_closed(emu):
    inbox = Inbox()
    client = Ollama(emu.base_url, timeout=10)
    handle, request = started_stalled(client, emu, inbox)
    client.close()
    ref, (kind, error) = inbox.receive(timeout=5)
    assert (ref, kind) == (handle.ref, "error")
    assert type(error) is StreamCancelled
    assert (error.reason, str(error)) == ("closed", "the client was closed")
    assert emu.wait_until_ended(request.id).outcome == "client_closed"


def test_a_stream_given_a_stopped_supervisor_ends_cancelled_not_with_a_pykka_error(client):
    # Regression: the recipient was told pykka.ActorDeadError, which is not an OllamaError.
    supervisor = DynamicSupervisor.start()
    supervisor.stop()
    inbox = Inbox()
    handle = completion(client, stream=inbox, supervisor=supervisor)
    ref, (kind, error) = inbox.receive(timeout=5)
    assert (ref, kind) == (handle.ref, "error")
    assert isinstance(error, StreamCancelled)
    assert error.reason == "shutdown"
    assert "supervisor" in str(error)
    assert isinstance(error.__cause__, pykka.ActorDeadError)
    with pytest.raises(StreamCancelled):
        handle.result(timeout=5)
    assert_nothing_more(inbox, handle.ref)


@pytest.mark.parametrize("kind", ["actors", "pykka"])
def test_a_dead_recipient_ends_a_stalled_stream_within_a_second(client, emu, kind):
    told = threading.Event()

    class Recipient(Actor if kind == "actors" else pykka.ThreadingActor):
        def on_receive(self, message):
            told.set()

    recipient = Recipient.start()
    emu.inject(stall(after=1))
    handle = completion(client, stream=recipient)
    request = emu.last_request("/api/generate")
    emu.wait_for_requests(1, path="/api/generate")
    assert told.wait(5)  # the first chunk was told: the stream now stalls
    stopped = time.monotonic()
    recipient.stop()
    info = emu.wait_until_ended(request.id, timeout=5)
    assert info.outcome == "client_closed"
    assert info.closed_at - stopped < 1.0
    # Noticed by the monitor (no chunk is due): the same error as a tell that fails.
    with pytest.raises(RecipientDead) as info:
        handle.result(timeout=5)
    assert info.value.reason == "recipient_died"
    assert handle.worker.actor_stopped.wait(5)


def test_a_recipient_that_dies_while_data_flows(client, emu):
    emu.set_pacing(token_rate=100.0)
    recipient = Collector.start()
    handle = client.completion(
        model="llama3.2", prompt=PROMPT, stream=recipient, options={"num_predict": 1000}
    )
    assert recipient.proxy().three.get(timeout=5).wait(5)
    recipient.stop()
    with pytest.raises(RecipientDead) as info:  # whichever noticed first: monitor or tell
        handle.result(timeout=5)
    assert info.value.reason == "recipient_died"
    info = emu.wait_until_ended(emu.last_request("/api/generate").id)
    assert info.outcome == "client_closed"


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def test_nothing_is_left_behind_after_hundreds_of_streams(emu):
    inbox = Inbox()
    with Ollama(emu.base_url, timeout=10) as warmup:  # start the loop thread and the pools
        completion(warmup, stream=inbox).result(timeout=10)
    inbox.drain()
    threads, fds = threading.active_count(), open_fds()
    with Ollama(emu.base_url, timeout=10) as client:
        handles = [completion(client, stream=inbox) for _ in range(200)]
        for handle in handles:
            handle.result(timeout=30)
        for _ in range(50):
            list(completion(client))
        for _ in range(50):
            completion(client).send_to(inbox)
        emu.inject(stall(after=1), times=50)
        stalled = [completion(client, stream=inbox) for _ in range(50)]
        for handle in stalled:
            handle.cancel()
        for handle in stalled:
            with pytest.raises(StreamCancelled):
                handle.result(timeout=10)
    deadline = time.monotonic() + 5
    while (open_fds() > fds or threading.active_count() > threads) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() == threads
    assert open_fds() <= fds
    supervisor = _handle.default_supervisor()  # its children are not in Pykka's registry
    assert supervisor.proxy().count_children().get(timeout=5)["specs"] == 0


def test_a_recipient_that_dies_during_a_restarts_backoff_ends_it_recipient_dead(client, emu):
    # Regression: the restart message's tell to the dead recipient crashed each incarnation
    # until the budget was spent, and the stream ended with the first attempt's HTTPError.
    emu.inject(status(503), path="/api/generate", times=5)
    recipient = Collector.start()
    slow = RetryPolicy(backoff=actors.Backoff(min=0.5, max=0.5))
    handle = completion(client, stream=recipient, retry=slow)
    emu.wait_for_requests(1, path="/api/generate")
    recipient.stop()  # the first attempt failed: its restart waits for the backoff
    with pytest.raises(RecipientDead) as info:
        handle.result(timeout=10)
    assert info.value.reason == "recipient_died"
    assert emu.request_count("/api/generate") == 1  # no attempt for a recipient that is gone
    assert actors.wait_exit(handle.worker, 5) is not None


def test_recipients_dying_at_random_points_always_end_their_streams_recipient_dead(emu):
    # Hundreds of streams, retried or not, whose recipients die before, during or between
    # attempts: each ends with RecipientDead (or done, had it finished first), nothing else.
    class Quitter(Actor):
        def __init__(self, after):
            super().__init__()
            self.left = after

        def on_receive(self, message):
            self.left -= 1
            if self.left <= 0:
                self.stop()

    rng = random.Random(19)
    fast = RetryPolicy(backoff=actors.Backoff(min=0.001, max=0.005))
    outcomes = []
    with Ollama(emu.base_url, timeout=10) as client:
        for i in range(600):
            if i % 4 == 0:
                emu.inject(status(503) if i % 8 else cut(after=2), path="/api/generate")
            recipient = Quitter.start(rng.randint(1, 12) if i % 3 else 10**9)
            if i % 10 == 0:
                recipient.stop()
            handle = completion(client, stream=recipient, retry=fast)
            if i % 3 == 0:  # stopped from outside, at any point of the stream's life
                time.sleep(rng.random() * 0.01)
                recipient.stop()
            try:
                handle.result(timeout=10)
                outcomes.append("done")
            except RecipientDead:
                outcomes.append("dead")
            except Exception as exc:  # the outcome under test
                outcomes.append(repr(exc))
            if recipient.is_alive():
                recipient.stop()
    assert set(outcomes) <= {"done", "dead"}, [o for o in outcomes if o not in ("done", "dead")]
    assert outcomes.count("dead") > 100
