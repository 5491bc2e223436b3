"""Blocking waits on the shared loop thread are refused at once, naming the fix.

Each of these would deadlock (or stall every loop actor and stream) if it waited: the loop
thread would wait for work that needs the loop thread.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pykka
import pytest

import actors
from actors import (
    Address,
    Backoff,
    ChildSpec,
    Inbox,
    LoopActor,
    StartChildError,
    Supervisor,
    WouldBlockLoop,
    wait_exit,
    whereis,
)


class Runner(LoopActor):
    """Runs a function on the loop thread, inside a handler; replies what it returned or
    raised, and how long it took."""

    def run(self, function: Callable[[], Any]) -> tuple[str, Any, float]:
        started = time.monotonic()
        try:
            result = ("returned", function())
        except Exception as exc:
            result = ("raised", exc)
        return (*result, time.monotonic() - started)


class Echo(LoopActor):
    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash")
        return message


class Relay(actors.Actor):
    """A thread actor whose handler needs the loop: it asks a loop actor."""

    def __init__(self, target: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.target = target

    def on_receive(self, message: Any) -> Any:
        return self.target.ask(message, timeout=5)


def on_loop(function: Callable[[], Any]) -> tuple[str, Any, float]:
    runner = Runner.start()
    try:
        return runner.proxy().run(function).get(timeout=30)
    finally:
        runner.stop(timeout=5)


def refused(function: Callable[[], Any], fix: str = "tell") -> WouldBlockLoop:
    kind, result, elapsed = on_loop(function)
    assert kind == "raised", f"it {kind} {result!r}"
    assert elapsed < 1.0  # at once, not after a timeout
    error = result.cause if isinstance(result, StartChildError) else result
    assert isinstance(error, WouldBlockLoop), repr(result)
    assert "would block the shared loop thread" in str(error) or "loop thread" in str(error)
    assert fix in str(error)
    return error


def test_address_ask_during_a_restart_is_refused():
    # Regression: the held ask waited on the loop for a restart that needed the loop.
    sup = Supervisor.start(
        [ChildSpec("echo", Echo.start, name="echo", backoff=Backoff(min=0.3, max=0.3))]
    )
    try:
        first = whereis("echo")
        assert first is not None
        first.tell("crash")
        wait_exit(first, 5)  # its restart waits for the backoff: the address holds asks
        refused(lambda: Address("echo").ask("hi", timeout=2))
        assert Address("echo").ask("after", timeout=5) == "after"
    finally:
        sup.stop(timeout=5)


def test_waiting_on_a_thread_actor_that_needs_the_loop_is_refused():
    echo = Echo.start()
    relay = Relay.start(echo)
    try:
        refused(lambda: relay.ask("hi", timeout=2), fix="Deferred")
        assert relay.ask("still fine", timeout=5) == "still fine"
    finally:
        relay.stop(timeout=5)
        echo.stop(timeout=5)


def test_starting_a_supervisor_with_loop_children_on_the_loop_is_refused():
    started: list[Any] = []

    def start() -> Any:
        started.append(Echo.start())
        return started[-1]

    error = refused(lambda: Supervisor.start([ChildSpec("echo", start)]), "another thread")
    assert str(error) == (
        f"{started[0]} runs on the shared loop thread, which is waiting in Supervisor.start "
        "and cannot start it: start the supervisor from another thread, or add its loop "
        "children later with start_child, without waiting for the reply"
    )
    assert wait_exit(started[0], 5).kind == "shutdown"  # the refused child is stopped


def test_a_supervisor_without_loop_children_may_start_on_the_loop():
    child = ChildSpec("plain", actors.Actor.start)
    kind, sup, _elapsed = on_loop(lambda: Supervisor.start([child]))
    assert kind == "returned"
    sup.stop(timeout=5)


@pytest.mark.parametrize(
    "wait",
    ["ask", "stop", "proxy", "wait_exit", "shutdown", "receive"],
)
def test_other_blocking_waits_on_the_loop_are_refused(wait):
    class Slow(actors.Actor):
        def on_receive(self, message: Any) -> Any:
            return message

        def value(self) -> int:
            return 1

    ref = Slow.start()
    inbox = Inbox()
    calls: dict[str, Callable[[], Any]] = {
        "ask": lambda: ref.ask("x", timeout=2),
        "stop": lambda: ref.stop(timeout=2),
        "proxy": lambda: ref.proxy().value().get(timeout=2),
        "wait_exit": lambda: wait_exit(ref, 2),
        "shutdown": lambda: actors.shutdown(ref, 2),
        "receive": lambda: inbox.receive(timeout=2),
    }
    try:
        refused(calls[wait])
        if wait != "stop":  # Pykka's stop() sends the stop before it waits
            assert ref.is_alive()
    finally:
        ref.stop(timeout=5)


def test_a_wait_that_need_not_wait_is_allowed_on_the_loop():
    ref = Echo.start()
    future = ref.ask("in", block=False)
    assert future.get(timeout=5) == "in"
    inbox = Inbox()
    inbox.tell("queued")
    ended = Echo.start()
    ended.stop(timeout=5)
    kind, result, _ = on_loop(
        lambda: (future.get(timeout=1), inbox.receive(timeout=1), wait_exit(ended, 1).kind)
    )
    assert (kind, result) == ("returned", ("in", "queued", "normal"))
    ref.stop(timeout=5)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_after_fork_no_thread_of_the_child_passes_for_the_loop_thread():
    # Regression: the child kept the id of the parent's loop thread; thread ids are reused,
    # so new threads of the child took it (138 of 200) and had their blocking waits
    # refused with WouldBlockLoop (and call_on_loop run callbacks on them directly).
    actors.event_loop()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        status = 1
        try:
            seen: list[bool] = []
            for _ in range(100):
                thread = threading.Thread(target=lambda: seen.append(actors.in_loop_thread()))
                thread.start()
                thread.join()
            mistaken = sum(seen)
            done = threading.Event()
            actors.call_on_loop(done.set)  # the child's own loop starts and runs it
            os.write(write_end, f"{mistaken} {done.wait(5)}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_end) as report:
        assert report.read() == "0 True"
    assert status == 0


def test_other_supervisors_start_loop_children_while_the_loop_starts_a_supervisor():
    # Regression: while the loop thread waited in a Supervisor.start (of thread children,
    # which is allowed), every other supervisor, anywhere, had its loop children refused
    # (StartChildError: WouldBlockLoop), a failure that counted toward its intensity.
    entered, gate = threading.Event(), threading.Event()

    class SlowStart(actors.Actor):
        def on_start(self) -> None:
            entered.set()
            assert gate.wait(10)

    runner = Runner.start()
    on_the_loop = runner.proxy().run(lambda: Supervisor.start([ChildSpec("s", SlowStart.start)]))
    other = actors.DynamicSupervisor.start()
    try:
        assert entered.wait(5)
        started = other.proxy().start_child(ChildSpec("echo", Echo.start))
        gate.set()  # the loop is free again: the other supervisor's loop child may start
        echo = started.get(timeout=5)
        assert echo.ask("hi", timeout=5) == "hi"
        kind, sup, _elapsed = on_the_loop.get(timeout=5)
        assert kind == "returned"
        sup.stop(timeout=5)
    finally:
        gate.set()
        other.stop(timeout=5)
        runner.stop(timeout=5)


def test_a_thread_child_waiting_for_a_loop_actor_while_the_loop_starts_it_is_refused():
    # Regression: Supervisor.start on the loop thread waits for its children's on_start; a
    # thread child whose on_start waited for a loop actor waited for the loop that waited
    # for it: the whole loop hung (until the ask's own timeout, forever without one).
    echo = Echo.start()

    class AsksTheLoop(actors.Actor):
        def on_start(self) -> None:
            echo.ask("hi", timeout=3)

    def start() -> Any:
        return Supervisor.start([ChildSpec("asks", AsksTheLoop.start)])

    try:
        error = refused(start, fix="start the supervisor from another thread")
        assert "while the shared loop thread waits for this actor to start" in str(error)
        # Outside such a start, the same child starts and waits as any thread may.
        sup = Supervisor.start([ChildSpec("asks", AsksTheLoop.start)])
        sup.stop(timeout=5)
    finally:
        echo.stop(timeout=5)
