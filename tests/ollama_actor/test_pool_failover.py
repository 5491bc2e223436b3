"""Supervised streams over a pool: a stream that fails retryably restarts on another host that
is up, and its restart message names that host; a failure the retry table does not retry is
never sent to another host. Crashes are SIGKILLs of emulator subprocesses."""

from __future__ import annotations

import time

import actors
from ollama_actor import (
    ConnectionLost,
    NoHostUp,
    Ollama,
    ResponseError,
    RetryPolicy,
    Timeout,
)
from ollama_actor.emulator import error_line, expected_tokens

TIMEOUT = Timeout(connect=2, read=10, total=60)


def messages_of(inbox: actors.Inbox, handles, timeout=30.0):
    """Each stream's messages, by ref, up to its terminal one."""
    by_ref = {handle.ref: [] for handle in handles}
    open_refs = set(by_ref)
    deadline = time.monotonic() + timeout
    while open_refs:
        ref, message = inbox.receive(timeout=max(0.01, deadline - time.monotonic()))
        by_ref[ref].append(message)
        if message[0] in ("done", "error"):
            open_refs.discard(ref)
    return by_ref


def text(messages):
    """The text of the attempt that ended the stream (a restart starts it again)."""
    parts: list[str] = []
    for kind, payload in messages:
        if kind == "restart":
            parts = []
        elif kind == "data":
            parts.append(payload["response"])
    return "".join(parts)


def pool_of(emulators, **options):
    client = Ollama([e.url for e in emulators], timeout=TIMEOUT, **options)
    client.refresh()
    return client


def test_streams_cut_by_a_crash_restart_on_hosts_that_are_up(ollama_emulators):
    hosts = ollama_emulators(["llama3.2"], ["llama3.2"], ["llama3.2"], token_rate=20)
    options = {"num_predict": 20}
    inbox = actors.Inbox()
    with pool_of(hosts) as client:
        handles = [
            client.completion(model="llama3.2", prompt=f"s{i}", options=options, stream=inbox)
            for i in range(12)
        ]
        hosts[0].wait_for_requests(4, path="/api/generate")
        hosts[0].kill()
        by_ref = messages_of(inbox, handles)
        dead = hosts[0].url
        restarted = 0
        for i, handle in enumerate(handles):
            received = by_ref[handle.ref]
            assert received[-1][0] == "done", received[-1]
            assert text(received) == "".join(expected_tokens("llama3.2", f"s{i}", options))
            restarts = [payload for kind, payload in received if kind == "restart"]
            for payload in restarts:
                restarted += 1
                assert payload["attempt"] == 1
                assert isinstance(payload["error"], ConnectionLost)
                assert payload["host"] in (hosts[1].url, hosts[2].url)
                assert handle.hosts == [dead, payload["host"]]
            if not restarts:
                assert len(handle.hosts) == 1
        assert restarted == 4
        report = client.hosts()
        assert report[0]["up"] is False
        assert report[0]["requests"] == 4  # nothing more was sent there after the crash
        assert [h["in_flight"] for h in report] == [0, 0, 0]


def test_a_retry_goes_to_another_host_even_if_the_first_is_still_up(ollama_emulators):
    hosts = ollama_emulators(["qwen3"], [], [])
    hosts[0].inject(error_line(after=2), path="/api/generate")  # a runner crash: retryable
    inbox = actors.Inbox()
    with pool_of(hosts) as client:
        handle = client.completion(model="qwen3", prompt="crash", think=False, stream=inbox)
        received = messages_of(inbox, [handle])[handle.ref]
        assert received[-1][0] == "done"
        (restart,) = [payload for kind, payload in received if kind == "restart"]
        assert isinstance(restart["error"], ResponseError)
        assert restart["host"] in (hosts[1].url, hosts[2].url)
        assert client.hosts()[0]["up"] is True  # an error line says nothing of the host
        assert [h.request_count("/api/generate") for h in hosts].count(1) == 2


def test_a_failure_the_table_does_not_retry_is_not_sent_elsewhere(ollama_emulators):
    hosts = ollama_emulators(["qwen3"], [], [])
    hosts[0].inject(
        error_line(after=1, message="unauthorized: access denied"), path="/api/generate"
    )
    inbox = actors.Inbox()
    with pool_of(hosts) as client:
        handle = client.completion(model="qwen3", prompt="no", stream=inbox)
        received = messages_of(inbox, [handle])[handle.ref]
        assert [kind for kind, _ in received] == ["data", "error"]
        assert received[-1][1].refused
        assert [h.request_count("/api/generate") for h in hosts] == [1, 0, 0]


def test_a_stream_told_to_retry_nothing_is_not_sent_elsewhere(ollama_emulators):
    hosts = ollama_emulators(["qwen3"], [])
    inbox = actors.Inbox()
    with pool_of(hosts) as client:
        hosts[0].inject(error_line(after=1), path="/api/generate")
        handle = client.completion(
            model="qwen3", prompt="once", stream=inbox, retry=RetryPolicy(restart="temporary")
        )
        received = messages_of(inbox, [handle])[handle.ref]
        assert [kind for kind, _ in received] == ["data", "error"]
        assert [h.request_count("/api/generate") for h in hosts] == [1, 0]


def test_one_server_s_restart_message_has_no_host(ollama_emulators):
    (host,) = ollama_emulators(["qwen3"])
    host.inject(error_line(after=1), path="/api/generate")
    inbox = actors.Inbox()
    with Ollama(host.url, timeout=TIMEOUT) as client:
        handle = client.completion(model="qwen3", prompt="one", stream=inbox)
        received = messages_of(inbox, [handle])[handle.ref]
        (restart,) = [payload for kind, payload in received if kind == "restart"]
        assert set(restart) == {"attempt", "error"}


def test_with_every_host_down_a_stream_ends_when_its_budget_is_spent(ollama_emulators):
    hosts = ollama_emulators([], [])
    inbox = actors.Inbox()
    with pool_of(hosts) as client:
        for host in hosts:
            host.kill()
        started = time.monotonic()
        handle = client.completion(model="qwen3", prompt="nowhere", stream=inbox)
        received = messages_of(inbox, [handle])[handle.ref]
        assert time.monotonic() - started < 10
        assert [kind for kind, _ in received] == ["restart"] * 3 + ["error"]
        assert isinstance(received[-1][1], NoHostUp)
        assert all(payload["host"] is None for kind, payload in received if kind == "restart")
