"""What is particular to LoopActor: no thread, loop-thread sends, fairness, no blocking."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pykka
import pytest

import actors
from actors import Inbox, LoopActor
from actors._loop import call_on_loop, event_loop
from actors._loop_actor import BATCH


class Noop(LoopActor):
    def on_receive(self, message: Any) -> Any:
        return message


def test_ten_thousand_loop_actors_start_and_stop_without_a_thread():
    event_loop()
    threads = threading.active_count()
    started = time.monotonic()
    refs = [Noop.start() for _ in range(10_000)]
    assert threading.active_count() == threads
    assert all(ref.ask(i, timeout=5) == i for i, ref in enumerate(refs[::500]))
    stops = [ref.stop(block=False) for ref in refs]
    assert all(stop.get(timeout=30) for stop in stops)
    assert actors.wait_exit(refs[-1], 5) is actors.Exit.NORMAL
    assert threading.active_count() == threads
    assert pykka.ActorRegistry.get_all() == []
    assert time.monotonic() - started < 20


def test_messages_told_before_on_start_finished_wait_for_it():
    class Starter(LoopActor):
        def on_start(self) -> None:
            self.ready = True

        def on_receive(self, message: Any) -> Any:
            return self.ready

    ref = Starter.start()
    assert ref.ask("ready?", timeout=5) is True
    ref.stop(timeout=5)


def test_loop_actors_talk_among_themselves_on_the_loop_thread():
    done = Inbox()

    class Player(LoopActor):
        def __init__(self) -> None:
            super().__init__()
            self.threads: set[int] = set()

        def on_receive(self, message: Any) -> None:
            other, count = message
            self.threads.add(threading.get_ident())
            if count == 0:
                done.tell(self.threads)
            else:
                other.tell((self.actor_ref, count - 1))

    ping, pong = Player.start(), Player.start()
    ping.tell((pong, 10_000))
    threads = done.receive(timeout=10)
    assert len(threads) == 1
    assert threads != {threading.get_ident()}
    ping.stop(timeout=5)
    pong.stop(timeout=5)


def test_a_busy_actor_yields_the_loop_to_others():
    order: list[str] = []

    class Recorder(LoopActor):
        def on_receive(self, message: str) -> None:
            order.append(message)

    busy, other = Recorder.start(), Recorder.start()
    busy.ask("warm", timeout=5)
    other.ask("warm", timeout=5)
    order.clear()

    flooded = threading.Event()

    def flood() -> None:  # runs on the loop thread: both turns start after it returns
        for i in range(1_000):
            busy.tell(f"busy {i}")
        other.tell("other")
        flooded.set()

    call_on_loop(flood)
    assert flooded.wait(5)
    assert other.ask("sync", timeout=5) is None
    assert busy.ask("sync", timeout=5) is None
    assert order.index("other") == BATCH  # after one batch of the busy actor, not all 1,000
    busy.stop(timeout=5)
    other.stop(timeout=5)


def test_waiting_for_a_loop_actors_reply_on_the_loop_raises_instead_of_deadlocking():
    class Asker(LoopActor):
        def ask_other(self, other: pykka.ActorRef[Any]) -> Any:
            return other.ask("hello", timeout=5)

    asker, other = Asker.start(), Noop.start()
    with pytest.raises(actors.WouldBlockLoop, match="would block the shared loop"):
        asker.proxy().ask_other(other).get(timeout=5)
    assert asker.is_alive()
    asker.stop(timeout=5)
    other.stop(timeout=5)


def test_a_slow_handler_is_reported(caplog):
    class Sleepy(LoopActor):
        def nap(self) -> None:
            time.sleep(0.15)  # deliberately blocking the loop: what the warning is for

        def ping(self) -> None:
            pass

    ref = Sleepy.start()
    with caplog.at_level(logging.WARNING, logger="actors"):
        ref.proxy().nap().get(timeout=5)  # answered before the warning is logged...
        ref.proxy().ping().get(timeout=5)  # ...which comes before the next message
    assert "held up the shared loop" in caplog.text
    assert "handling ProxyCall nap; LoopActor handlers must not block" in caplog.text
    ref.stop(timeout=5)


def test_waiting_on_the_loop_for_a_loop_actor_to_end_raises():
    class Waiter(LoopActor):
        def wait_for(self, other: pykka.ActorRef[Any]) -> Any:
            return actors.wait_exit(other, 5)

    waiter, other = Waiter.start(), Noop.start()
    with pytest.raises(actors.WouldBlockLoop, match="would block the shared loop"):
        waiter.proxy().wait_for(other).get(timeout=5)
    other.stop(timeout=5)
    assert waiter.proxy().wait_for(other).get(timeout=5) is actors.Exit.NORMAL  # ended: fine
    waiter.stop(timeout=5)


def test_the_future_of_a_loop_actor_still_blocks_normally_in_other_threads():
    ref = Noop.start()
    future = ref.ask("x", block=False)
    assert future.get(timeout=5) == "x"
    assert future.map(str.upper).get(timeout=5) == "X"
    ref.stop(timeout=5)


def test_a_callback_that_raises_system_exit_does_not_end_the_shared_loop(caplog):
    """User code that runs on the loop outside an actor's handler (a stream sink, a custom
    recipient's ``tell``) and calls ``sys.exit()``: the loop logs it and goes on, where it
    ended the loop thread and left every loop actor, stream and timer hanging."""

    def leave() -> None:
        raise SystemExit("sys.exit() on the shared loop")

    with caplog.at_level(logging.ERROR, logger="actors._loop"):
        call_on_loop(leave)
        ref = Noop.start()
        try:
            assert ref.ask("still here", timeout=5) == "still here"
        finally:
            ref.stop(timeout=5)
    assert "SystemExit" in caplog.text
