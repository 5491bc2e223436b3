"""Supervised streams: retryable failures restart the worker; the message sequence is exact."""

import gc
import itertools
import threading
import time
import weakref

import pykka
import pytest

import actors
from actors import Backoff, ChildSpec, DynamicSupervisor, Inbox, MaxChildrenReached
from ollama_actor import (
    ConnectionLost,
    DecodeError,
    HTTPError,
    Ollama,
    OllamaError,
    ReadTimeout,
    ResponseError,
    RetryPolicy,
    StreamCancelled,
    Timeout,
    TotalTimeout,
    default_supervisor,
    stop_default_supervisor,
)
from ollama_actor.emulator import (
    cut,
    error_line,
    expected_tokens,
    malformed_line,
    stall,
    status,
)

from .protocol import assert_nothing_more, assert_protocol, messages_of

PROMPT = "Why is the sky blue?"
TOKENS = expected_tokens("llama3.2", PROMPT)
FAST = RetryPolicy(backoff=Backoff(min=0.01, max=0.05))


def completion(client, inbox, **extra):
    extra.setdefault("retry", FAST)
    return client.completion(model="llama3.2", prompt=PROMPT, stream=inbox, **extra)


def kinds(messages):
    return [kind for kind, _ in messages]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (error_line(after=2), ResponseError),
        (cut(after=2), ConnectionLost),
        (status(503), HTTPError),
        (status(500), HTTPError),
        (status(429), HTTPError),
    ],
)
def test_a_retryable_failure_restarts_and_the_data_starts_again(client, emu, fault, error):
    emu.inject(fault, path="/api/generate")
    inbox = Inbox()
    handle = completion(client, inbox)
    messages = messages_of(inbox, handle.ref)
    assert_protocol(messages)
    before = 0 if fault.kind == "status" else 2
    restart = messages[before]
    assert restart[0] == "restart"
    assert restart[1]["attempt"] == 1
    assert isinstance(restart[1]["error"], error)
    again = messages[before + 1 : -1]
    assert [m[1]["response"] for m in again[:-1]] == TOKENS
    assert messages[-1][0] == "done"
    assert handle.result(timeout=1)["response"] == "".join(TOKENS)
    assert handle.attempt == 1
    assert emu.request_count("/api/generate") == 2
    assert_nothing_more(inbox, handle.ref)


def test_a_stalled_stream_is_retried_after_its_read_timeout(emu):
    emu.inject(stall(after=1))
    inbox = Inbox()
    with Ollama(emu.base_url, timeout=Timeout(connect=2, read=0.3)) as c:
        handle = completion(c, inbox)
        messages = messages_of(inbox, handle.ref)
    assert kinds(messages)[:2] == ["data", "restart"]
    assert isinstance(messages[1][1]["error"], ReadTimeout)
    assert messages[-1][0] == "done"


@pytest.mark.parametrize(
    ("fault", "error"),
    [(status(404), HTTPError), (status(400), HTTPError), (malformed_line(after=1), DecodeError)],
)
def test_a_failure_a_retry_cannot_mend_ends_the_stream_at_once(client, emu, fault, error):
    emu.inject(fault, path="/api/generate")
    inbox = Inbox()
    handle = completion(client, inbox)
    messages = messages_of(inbox, handle.ref)
    assert "restart" not in kinds(messages)
    assert isinstance(messages[-1][1], error)
    assert emu.request_count("/api/generate") == 1
    with pytest.raises(error):
        handle.result(timeout=1)


def test_unknown_model_is_not_retried(client, emu):
    inbox = Inbox()
    handle = client.completion(model="nope", prompt="x", stream=inbox, retry=FAST)
    messages = messages_of(inbox, handle.ref)
    assert kinds(messages) == ["error"]
    assert messages[0][1].status == 404
    assert emu.request_count("/api/generate") == 1


def test_when_the_budget_is_spent_the_last_error_ends_the_stream(client, emu):
    emu.inject(status(503), path="/api/generate", times=10)
    inbox = Inbox()
    handle = completion(client, inbox)
    messages = messages_of(inbox, handle.ref)
    assert kinds(messages) == ["restart", "restart", "restart", "error"]
    assert [m[1]["attempt"] for m in messages[:3]] == [1, 2, 3]
    assert isinstance(messages[-1][1], HTTPError)
    assert messages[-1][1].status == 503
    assert emu.request_count("/api/generate") == 4
    assert_nothing_more(inbox, handle.ref)


def test_restarts_wait_with_backoff(client, emu):
    emu.inject(status(503), path="/api/generate", times=3)
    inbox = Inbox()
    policy = RetryPolicy(backoff=Backoff(min=0.1, max=1.0, jitter=0.0))
    handle = completion(client, inbox, retry=policy)
    messages_of(inbox, handle.ref)
    starts = [r.started_at for r in emu.requests if r.path == "/api/generate"]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 3
    assert gaps[0] >= 0.09
    assert gaps[1] >= 0.19  # doubled
    assert gaps[2] >= 0.39


def test_temporary_policy_never_retries(client, emu):
    emu.inject(cut(after=1), path="/api/generate")
    inbox = Inbox()
    handle = completion(client, inbox, retry=RetryPolicy(restart="temporary"))
    messages = messages_of(inbox, handle.ref)
    assert kinds(messages) == ["data", "error"]
    assert isinstance(messages[-1][1], ConnectionLost)


def test_cancel_during_backoff_ends_the_stream_at_once_without_another_attempt(client, emu):
    emu.inject(status(503), path="/api/generate")
    inbox = Inbox()
    handle = completion(client, inbox, retry=RetryPolicy(backoff=Backoff(min=2.0, max=3.0)))
    emu.wait_until_ended(emu.last_request("/api/generate").id)
    time.sleep(0.3)  # the worker has failed; its restart waits out the 2 s backoff
    cancelled = time.monotonic()
    handle.cancel()
    messages = messages_of(inbox, handle.ref)
    assert kinds(messages) == ["error"]
    assert isinstance(messages[0][1], StreamCancelled)
    assert time.monotonic() - cancelled < 0.5  # not after the 2 s backoff
    with pytest.raises(StreamCancelled):
        handle.result(timeout=1)
    time.sleep(2.5)  # past the backoff: no new attempt may start
    assert emu.request_count("/api/generate") == 1
    assert_nothing_more(inbox, handle.ref)


def test_pull_retried_after_a_cut_resumes_from_the_servers_progress(client, emu):
    emu.inject(cut(after=6), path="/api/pull")
    inbox = Inbox()
    handle = client.pull_model(model="tinyllama", stream=inbox, retry=FAST)
    messages = messages_of(inbox, handle.ref)
    assert_protocol(messages)
    restart_at = kinds(messages).index("restart")
    first = [p for _, p in messages[:restart_at] if "completed" in p]
    second = [p for _, p in messages[restart_at + 1 :] if p.get("completed")]
    assert first, "the first attempt made some progress"
    layer = first[-1]["digest"]
    resumed = next(p for p in second if p["digest"] == layer)
    assert resumed["completed"] >= first[-1]["completed"]
    assert messages[-1] == ("done", {"status": "success"})


def test_a_callers_own_supervisor(client, emu):
    supervisor = DynamicSupervisor.start(max_children=1, max_restarts=None)
    try:
        emu.inject(stall(after=1), path="/api/generate")
        inbox = Inbox()
        first = completion(client, inbox, supervisor=supervisor)
        inbox.receive(timeout=5)
        assert supervisor.proxy().count_children().get(timeout=5)["active"] == 1
        second = completion(client, inbox, supervisor=supervisor)
        refused = messages_of(inbox, second.ref)
        assert kinds(refused) == ["error"]
        assert isinstance(refused[0][1], MaxChildrenReached)
        first.cancel()
        assert isinstance(messages_of(inbox, first.ref)[-1][1], StreamCancelled)
    finally:
        supervisor.stop()


def test_the_default_supervisor_outlives_any_number_of_failing_streams(client, emu):
    emu.inject(status(503), path="/api/generate", times=1000)
    inbox = Inbox()
    handles = [completion(client, inbox) for _ in range(30)]
    for handle in handles:
        assert kinds(messages_of(inbox, handle.ref))[-1] == "error"
    emu.clear_faults()
    assert default_supervisor().is_alive()
    handle = completion(client, inbox)
    assert messages_of(inbox, handle.ref)[-1][0] == "done"


def test_supervisor_and_retry_need_a_recipient(client):
    from ollama_actor import ValidationError

    with pytest.raises(ValidationError, match="retry"):
        client.completion(model="m", prompt="x", stream=True, retry=FAST)
    with pytest.raises(ValidationError, match="supervisor"):
        client.completion(model="m", prompt="x", stream=Inbox(), supervisor="sup")


class _Blocked:
    """A supervisor kept busy starting another child until `release`: what it is asked to
    start meanwhile waits in its mailbox."""

    def __init__(self, supervisor):
        self.gate = threading.Event()
        self.entered = threading.Event()

        def start():
            self.entered.set()
            self.gate.wait(10)
            return actors.Actor.start()

        supervisor.proxy().start_child(ChildSpec("blocker", start, restart="temporary"))
        assert self.entered.wait(5)

    def release(self):
        self.gate.set()


def test_handle_worker_is_an_actor_ref_before_the_supervisor_starts_it(client, emu):
    supervisor = DynamicSupervisor.start(max_restarts=None)
    try:
        blocked = _Blocked(supervisor)
        emu.inject(stall(after=1), path="/api/generate")
        inbox = Inbox()
        handle = completion(client, inbox, supervisor=supervisor)
        worker = handle.worker
        assert isinstance(worker, pykka.ActorRef)
        assert emu.request_count("/api/generate") == 0  # not started yet
        blocked.release()
        assert inbox.receive(timeout=5)[1][0] == "data"
        assert handle.worker is worker  # the one the supervisor started
        assert worker.is_alive()
        worker.stop(timeout=5)  # it is the stream's worker: stopping it ends the stream
        (error,) = [p for k, p in messages_of(inbox, handle.ref) if k == "error"]
        assert isinstance(error, StreamCancelled)
        assert error.reason == "shutdown"
        assert "worker was stopped" in str(error)
    finally:
        supervisor.stop()


def test_handle_worker_after_a_restart_is_the_new_incarnation(client, emu):
    emu.inject(cut(after=1), path="/api/generate")
    emu.inject(stall(after=1), path="/api/generate")
    inbox = Inbox()
    handle = completion(client, inbox)
    first = handle.worker
    assert [inbox.receive(timeout=5)[1][0] for _ in range(3)] == ["data", "restart", "data"]
    second = handle.worker
    assert second is not first
    assert actors.wait_exit(first, 5) is not None
    assert second.is_alive()
    handle.cancel()
    assert messages_of(inbox, handle.ref)[-1][0] == "error"


@pytest.mark.parametrize("read_first", [True, False])
def test_a_refused_streams_worker_reads_as_dead_and_never_blocks(client, read_first):
    supervisor = DynamicSupervisor.start()
    supervisor.stop()
    inbox = Inbox()
    handle = completion(client, inbox, supervisor=supervisor)
    early = handle.worker if read_first else None
    assert kinds(messages_of(inbox, handle.ref)) == ["error"]
    worker = handle.worker
    assert early is None or early is worker
    assert actors.wait_exit(worker, 5) is not None  # it ended; it does not wait forever
    assert worker.stop(timeout=1) is False  # already dead: stop returns at once


class _Faulty:
    """A recipient whose ``tell`` raises: a bug in the application, not a dead actor."""

    def __init__(self, fail_on: str) -> None:
        self.fail_on = fail_on
        self.told: list[str] = []

    def tell(self, message):
        kind = message[1][0]
        self.told.append(kind)
        if self.fail_on in (kind, "any"):
            raise ValueError(f"the recipient broke on {kind}")


@pytest.mark.parametrize("fail_on", ["any", "restart", "error"])
def test_a_recipient_whose_tell_raises_still_ends_the_stream(client, emu, fail_on, caplog):
    emu.inject(cut(after=2), path="/api/generate")
    emu.inject(status(400), path="/api/generate")  # after the retry: final
    recipient = _Faulty(fail_on)
    handle = completion(client, recipient)
    with pytest.raises(OllamaError):
        handle.result(timeout=10)  # an end, not a hang
    assert handle.done
    assert actors.wait_exit(handle.worker, 5) is not None
    assert recipient.told.count("error") <= 1
    assert "ValueError: the recipient broke" in caplog.text  # logged: nobody else hears of it


def test_thousands_of_supervised_streams_start_without_a_serial_wait(ollama_emulator_process):
    """The supervisor takes every stream's start while the loop thread is held up (no start
    waits for a loop turn), and the requests then reach the server within a generous bound."""
    streams = 2_000
    emu = ollama_emulator_process
    emu.set_pacing(token_rate=2.0)  # the streams stay open until cancelled
    client = Ollama(emu.base_url)
    inbox = Inbox()
    release, held = threading.Event(), threading.Event()

    def hold_the_loop():
        held.set()
        release.wait(30)

    actors.call_on_loop(hold_the_loop)
    try:
        assert held.wait(5)
        handles = [
            client.completion(model="llama3.2", prompt=PROMPT, stream=inbox) for _ in range(streams)
        ]
        counts = default_supervisor().proxy().count_children().get(timeout=30)
    finally:
        release.set()
    assert counts["specs"] == streams
    arrived = emu.wait_for_requests(streams, timeout=60, path="/api/generate")
    assert len(arrived) == streams
    for handle in handles:
        handle.cancel()
    ended = 0
    while ended < streams:
        _ref, (kind, payload) = inbox.receive(timeout=30)
        if kind == "error":
            assert isinstance(payload, StreamCancelled)
            ended += 1
        else:
            assert kind == "data"
    assert all(handle.done for handle in handles)
    client.close()


def test_a_finished_stream_leaves_no_cycle_for_the_collector(client, emu):
    """Everything a supervised stream made is freed when its last reference goes, without
    waiting for a full collection (which, with thousands of streams alive, costs seconds)."""
    inbox = Inbox()
    gc.collect()
    gc.disable()
    try:
        handle = completion(client, inbox)
        handle.result(timeout=10)
        worker = handle.worker
        actors.wait_exit(worker, 5)
        default_supervisor().proxy().count_children().get(timeout=5)  # it handled the exit
        # ...and scheduled the child spec's on_exit hook on the loop: let the loop run it.
        ran = threading.Event()
        actors.call_on_loop(ran.set)
        assert ran.wait(5)
        streaming = weakref.ref(handle._run._source)  # holds the call, its parser and reader
        run = weakref.ref(handle._run)
        actor = worker._actor_weakref
        assert streaming() is not None
        del handle, worker
        inbox.drain()
        assert streaming() is None
        assert run() is None
        assert actor() is None
    finally:
        gc.enable()


def test_the_total_bound_is_per_attempt_each_retry_has_its_own(emu):
    # Timeout.total bounds one attempt, not the whole supervised stream: the first attempt
    # spends all of it (TotalTimeout, retryable), and the retry still has the whole bound.
    emu.inject(stall(after=1), path="/api/generate")
    inbox = Inbox()
    with Ollama(emu.base_url, timeout=Timeout(connect=5, read=None, total=1.0)) as client:
        began = time.monotonic()
        handle = completion(client, inbox, retry=FAST)
        response = handle.result(timeout=30)
        took = time.monotonic() - began
    assert response["response"] == "".join(TOKENS)
    assert took > 1.0  # the stream as a whole outlasted the bound
    messages = messages_of(inbox, handle.ref)
    assert_protocol(messages)
    restarts = [payload for kind, payload in messages if kind == "restart"]
    assert len(restarts) == 1
    assert isinstance(restarts[0]["error"], TotalTimeout)


def test_a_killed_worker_ends_its_stream_cancelled_and_closes_the_connection(client, emu):
    # Regression: the recipient was told a RuntimeError (not an OllamaError), and the killed
    # worker's request stayed open until a timeout, since a killed actor runs no on_stop.
    from actors._actor import kill

    emu.inject(stall(after=1))
    inbox = Inbox()
    handle = completion(client, inbox, retry=RetryPolicy(restart="temporary"))
    assert inbox.receive(timeout=5)[1][0] == "data"
    request = emu.last_request("/api/generate")
    kill(handle.worker)
    with pytest.raises(StreamCancelled) as info:
        handle.result(timeout=5)
    assert info.value.reason == "worker_failed"
    assert "Exit.KILLED" in str(info.value)
    assert emu.wait_until_ended(request.id, timeout=5).outcome == "client_closed"
    messages = messages_of(inbox, handle.ref)
    assert kinds(messages) == ["error"]
    assert_nothing_more(inbox, handle.ref)


def test_stop_default_supervisor_ends_its_streams_and_the_next_gets_a_fresh_one(client, emu):
    emu.inject(stall(after=1))
    inbox = Inbox()
    handle = completion(client, inbox)
    assert inbox.receive(timeout=5)[1][0] == "data"
    first = default_supervisor()
    stop_default_supervisor(timeout=10)
    assert not first.is_alive()
    with pytest.raises(StreamCancelled) as info:
        handle.result(timeout=5)
    assert info.value.reason == "shutdown"
    stop_default_supervisor(timeout=10)  # none runs: nothing to do
    assert completion(client, Inbox()).result(timeout=10)["done"] is True
    assert default_supervisor() is not first


def test_on_end_is_called_once_whether_registered_before_or_after_the_end(ollama_emulator):
    """`StreamHandle.on_end` (what a StreamCluster node waits with): called with the result
    after the terminal message, and at once for a stream that has already ended."""
    client = Ollama(ollama_emulator.url)
    inbox = Inbox()
    handle = completion(client, inbox)
    before, after = [], []
    ended = threading.Event()
    handle.on_end(lambda result, error: before.append((result, error)))
    result = handle.result(10)
    handle.on_end(lambda result, error: (after.append((result, error)), ended.set()))
    assert ended.wait(5)
    assert before == after == [(result, None)]
    assert result["response"] == "".join(TOKENS)

    failing = completion(client, inbox, retry=RetryPolicy(restart="temporary"))
    failing.cancel()
    with pytest.raises(StreamCancelled):
        failing.result(10)
    got = []
    done = threading.Event()
    failing.on_end(lambda result, error: (got.append((result, error)), done.set()))
    assert done.wait(5)
    assert got[0][0] is None
    assert isinstance(got[0][1], StreamCancelled)


def test_waiting_for_a_streams_result_on_the_loop_thread_is_refused_not_deadlocked(client):
    """A loop actor's handler that waits for the stream it started would hold the very loop
    the stream runs on: for its whole timeout, or for ever without one."""

    class Starter(actors.LoopActor):
        def on_receive(self, message):
            handle = client.completion(model="llama3.2", prompt="hi", stream=Inbox())
            try:
                handle.result(timeout=5)
            except Exception as exc:  # handed back to the test
                return exc
            finally:
                handle.cancel()
            return None

    starter = Starter.start()
    try:
        refused = starter.ask("go", timeout=10)
    finally:
        starter.stop()
    assert isinstance(refused, actors.WouldBlockLoop)
    assert "stream" in str(refused)


def test_every_blocking_call_of_the_client_on_the_loop_thread_is_a_usage_error(client):
    # Regression: StreamHandle.result and stop_default_supervisor raised a bare
    # actors.WouldBlockLoop there, not the UsageError that the client's other blocking calls
    # raise and docs/protocol.md's table promises (nor an OllamaError at all).
    from ollama_actor import UsageError

    class Caller(actors.LoopActor):
        def on_receive(self, message):
            refused = []
            handle = client.completion(model="llama3.2", prompt="hi", stream=Inbox())
            for call in (client.version, lambda: handle.result(5), stop_default_supervisor):
                try:
                    call()
                except Exception as exc:  # handed back to the test
                    refused.append(exc)
            handle.cancel()
            return refused

    caller = Caller.start()
    try:
        refused = caller.ask("go", timeout=10)
    finally:
        caller.stop()
    assert [type(exc).__mro__.count(UsageError) for exc in refused] == [1, 1, 1], refused
    assert all(isinstance(exc, actors.WouldBlockLoop) for exc in refused[1:])  # as documented
    assert all("loop thread" in str(exc) for exc in refused)


def test_a_recipient_that_raises_on_its_restart_message_ends_the_stream_internal_error(
    client, emu, caplog
):
    # Regression: each incarnation crashed on the restart's tell and was restarted, telling
    # the broken recipient again, until the budget was spent; the stream then ended with the
    # first attempt's ConnectionLost, not the InternalError a raising tell ends a stream with.
    from ollama_actor import InternalError

    emu.inject(cut(after=2), path="/api/generate")
    recipient = _Faulty("restart")
    handle = completion(client, recipient)
    with pytest.raises(InternalError) as info:
        handle.result(timeout=10)
    assert isinstance(info.value.__cause__, ValueError)
    assert "ValueError('the recipient broke on restart')" in str(info.value)
    assert recipient.told == ["data", "data", "restart", "error"]
    assert emu.request_count("/api/generate") == 1  # the broken recipient got no new attempt
    assert "the recipient broke on restart" in caplog.text  # logged


@pytest.mark.parametrize("failed_before", [False, True])
def test_a_killed_worker_under_a_retrying_policy_ends_its_stream_worker_failed(
    client, emu, failed_before
):
    # Regression: the supervisor restarted the killed transient worker while its attempt ran
    # on; the new incarnation failed an assertion (no failure to restart from), or ran the
    # request again until the old attempt's Streaming was collected and ended the stream
    # "dropped".
    from actors._actor import kill

    if failed_before:
        emu.inject(status(503), path="/api/generate")
    emu.inject(stall(after=1), path="/api/generate")
    inbox = Inbox()
    handle = completion(client, inbox)
    while inbox.receive(timeout=5)[1][0] != "data":
        pass
    request = emu.last_request("/api/generate")
    kill(handle.worker)
    with pytest.raises(StreamCancelled) as info:
        handle.result(timeout=5)
    assert info.value.reason == "worker_failed"
    assert "Assertion" not in str(info.value)
    assert emu.wait_until_ended(request.id, timeout=5).outcome == "client_closed"
    assert kinds(messages_of(inbox, handle.ref)) == ["error"]
    assert_nothing_more(inbox, handle.ref)
    assert emu.request_count("/api/generate") == (2 if failed_before else 1)
