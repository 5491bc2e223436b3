"""The shared loop wakes for other threads' callbacks through an eventfd (asyncio's socket pair
where there is none); no wake-up is lost, however many threads call in at once."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from actors import _loop
from actors._loop import call_on_loop, event_loop


def test_the_shared_loop_wakes_through_an_eventfd():
    loop = event_loop()
    assert isinstance(loop, _loop._Loop)
    if hasattr(os, "eventfd"):
        assert loop._wake_fd is not None
        assert getattr(loop, "_ssock", None) is None  # asyncio made no socket pair


def test_no_wake_up_is_lost_from_many_threads():
    threads, calls = 8, 2_000
    done = threading.Semaphore(0)
    ran: list[int] = []

    def call_in(n: int) -> None:
        for i in range(calls):
            call_on_loop(ran.append, n * calls + i)
        call_on_loop(done.release)

    workers = [threading.Thread(target=call_in, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for _ in range(threads):
        assert done.acquire(timeout=30), "a callback from another thread never ran"
    for worker in workers:
        worker.join(10)
    assert sorted(ran) == list(range(threads * calls))


def _run_a_loop_woken_from_another_thread(loop: asyncio.AbstractEventLoop) -> list[int]:
    seen: list[int] = []
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        for i in range(500):
            loop.call_soon_threadsafe(seen.append, i)
        finished = threading.Event()
        loop.call_soon_threadsafe(finished.set)
        assert finished.wait(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    return seen


def test_a_loop_closes_and_is_woken_as_asyncio_does_it(monkeypatch: pytest.MonkeyPatch):
    assert _run_a_loop_woken_from_another_thread(_loop._Loop()) == list(range(500))
    monkeypatch.delattr(os, "eventfd", raising=False)  # a system without eventfd
    fallback = _loop._Loop()
    assert fallback._wake_fd is None
    assert _run_a_loop_woken_from_another_thread(fallback) == list(range(500))
