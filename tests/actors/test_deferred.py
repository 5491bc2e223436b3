"""Deferred replies: the caller's future completes when the Deferred settles."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pykka
import pytest

import actors
from actors import Deferred, Exit, wait_exit

KINDS = [actors.Actor, actors.LoopActor]


def test_first_settlement_wins():
    d: Deferred[int] = Deferred()
    assert not d.done()
    assert d.resolve(1) is True
    assert d.done()
    assert d.resolve(2) is False
    assert d.fail(ValueError()) is False
    assert repr(d) == "<Deferred resolved: 1>"
    failed: Deferred[int] = Deferred()
    assert failed.fail(ValueError("x")) is True
    assert failed.resolve(1) is False
    assert repr(failed) == "<Deferred failed: ValueError('x')>"
    assert repr(Deferred()) == "<Deferred pending>"


def server_class(base: type[pykka.Actor]) -> type[pykka.Actor]:
    class Server(base):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            super().__init__()
            self.pending: list[Deferred[Any]] = []

        def later(self) -> Deferred[Any]:
            reply: Deferred[Any] = Deferred()
            self.pending.append(reply)
            return reply

        def now(self, value: Any) -> Deferred[Any]:
            reply: Deferred[Any] = Deferred()
            reply.resolve(value)
            return reply

        def echo(self, value: Any) -> Any:
            return value

        def on_receive(self, message: Any) -> Any:
            return self.later()

    return Server


@pytest.fixture(params=KINDS, ids=lambda base: base.__name__)
def server(request: pytest.FixtureRequest) -> type[pykka.Actor]:
    return server_class(request.param)


def settle_from_another_thread(ref: pykka.ActorRef[Any], settle: Any) -> threading.Thread:
    def run() -> None:
        for reply in ref.proxy().pending.get(timeout=5):
            settle(reply)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_resolved_later_from_another_thread_while_the_actor_goes_on(server):
    ref = server.start()
    proxy = ref.proxy()
    future = proxy.later()
    ask_future = ref.ask("plain ask", block=False)
    with pytest.raises(pykka.Timeout):
        future.get(timeout=0.05)
    assert proxy.echo("not blocked").get(timeout=5) == "not blocked"
    settle_from_another_thread(ref, lambda r: r.resolve(42)).join(timeout=5)
    assert future.get(timeout=5) == 42
    assert ask_future.get(timeout=5) == 42
    ref.stop(timeout=5)


def test_failed_later_raises_in_the_caller_and_the_actor_lives_on(server):
    ref = server.start()
    future = ref.proxy().later()
    error = KeyError("gone")
    settle_from_another_thread(ref, lambda r: r.fail(error)).join(timeout=5)
    with pytest.raises(KeyError) as caught:
        future.get(timeout=5)
    assert caught.value is error
    assert ref.is_alive()
    ref.stop(timeout=5)


def test_settled_before_the_handler_returned(server):
    ref = server.start()
    assert ref.proxy().now("ready").get(timeout=5) == "ready"
    ref.stop(timeout=5)


def test_actor_ending_with_a_reply_pending_fails_it_with_actor_dead_error(server):
    ref = server.start()
    future = ref.proxy().later()
    pending = ref.proxy().pending.get(timeout=5)
    started = time.monotonic()
    ref.stop(timeout=5)
    with pytest.raises(pykka.ActorDeadError, match="ended before its reply was settled"):
        future.get(timeout=5)
    assert time.monotonic() - started < 2
    assert pending[0].done()
    assert pending[0].resolve("too late") is False
    assert wait_exit(ref, 5) is Exit.NORMAL


def test_a_loop_actor_answers_from_an_asyncio_task_without_blocking():
    class Fetcher(actors.LoopActor):
        def __init__(self) -> None:
            super().__init__()
            self.tasks: set[asyncio.Task[None]] = set()  # asyncio keeps only weak refs

        def fetch(self, value: Any) -> Deferred[Any]:
            reply: Deferred[Any] = Deferred()

            async def work() -> None:
                await asyncio.sleep(0.01)
                reply.resolve(value * 2)

            task = asyncio.get_running_loop().create_task(work())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return reply

    ref = Fetcher.start()
    futures = [ref.proxy().fetch(i) for i in range(100)]
    assert [f.get(timeout=5) for f in futures] == [i * 2 for i in range(100)]
    ref.stop(timeout=5)


def test_a_deferred_returned_for_a_tell_is_ignored(server):
    ref = server.start()
    ref.tell("returns a Deferred nobody waits for")
    assert ref.proxy().echo(1).get(timeout=5) == 1
    ref.stop(timeout=5)
    assert wait_exit(ref, 5) is Exit.NORMAL
