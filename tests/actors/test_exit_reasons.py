"""How Actor and LoopActor end: recorded reasons, and the moment they count as ended."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pykka
import pytest
from pykka._envelope import Envelope

import actors
from actors import Down, Exit, Inbox, exit_reason, monitor, shutdown, wait_exit

KINDS = [actors.Actor, actors.LoopActor]


def worker_class(base: type[pykka.Actor]) -> type[pykka.Actor]:
    class Worker(base):  # type: ignore[valid-type,misc]
        def __init__(
            self,
            events: Inbox | None = None,
            start_error: BaseException | None = None,
            stop_error: BaseException | None = None,
            gate: threading.Event | None = None,
        ) -> None:
            super().__init__()
            self.events = events or Inbox()
            self.start_error = start_error
            self.stop_error = stop_error
            self.gate = gate

        def on_start(self) -> None:
            if self.start_error is not None:
                raise self.start_error

        def on_stop(self) -> None:
            self.events.tell("on_stop")
            if self.stop_error is not None:
                raise self.stop_error

        def on_failure(self, exc_type: Any, exc_value: Any, tb: Any) -> None:
            self.events.tell(("on_failure begins", exc_value))
            if self.gate is not None:
                assert self.gate.wait(5)
            self.events.tell("on_failure ends")

        def on_receive(self, message: Any) -> Any:
            if isinstance(message, BaseException):
                raise message
            return message

    return Worker


@pytest.fixture(params=KINDS, ids=lambda base: base.__name__)
def worker(request: pytest.FixtureRequest) -> type[pykka.Actor]:
    return worker_class(request.param)


def test_normal_stop(worker):
    ref = worker.start()
    assert exit_reason(ref) is None
    assert ref.stop(timeout=5) is True
    assert wait_exit(ref, 5) is Exit.NORMAL
    assert exit_reason(ref) is Exit.NORMAL


def test_shutdown_records_shutdown_and_waits_for_the_full_end(worker):
    ref = worker.start()
    assert shutdown(ref, 5) is Exit.SHUTDOWN
    assert exit_reason(ref) is Exit.SHUTDOWN


def test_shutdown_of_an_ended_actor_returns_how_it_ended(worker):
    ref = worker.start()
    ref.stop(timeout=5)
    assert shutdown(ref, 5) is Exit.NORMAL


def test_shutdown_of_a_plain_pykka_actor_is_noproc():
    ref = pykka.ThreadingActor.start()
    assert shutdown(ref, 5) is Exit.NOPROC
    assert not ref.is_alive()


def test_exception_in_tell_is_recorded(worker):
    ref = worker.start()
    error = ValueError("bad")
    ref.tell(error)
    reason = wait_exit(ref, 5)
    assert reason == Exit.error(error)
    assert reason.exception is error


def test_exception_in_ask_leaves_the_actor_alive(worker):
    ref = worker.start()
    with pytest.raises(ValueError, match="bad"):
        ref.ask(ValueError("bad"), timeout=5)
    assert ref.is_alive()
    assert exit_reason(ref) is None
    ref.stop(timeout=5)
    assert wait_exit(ref, 5) is Exit.NORMAL


@pytest.mark.parametrize("error", [ValueError("no start"), SystemExit(2)], ids=repr)
def test_failure_in_on_start_is_recorded_and_monitors_are_told(worker, error):
    inbox = Inbox()
    ref = worker.start(start_error=error)
    mon = monitor(ref, inbox)
    down = inbox.receive(timeout=5)
    assert down == Down(mon, ref, Exit.error(error))
    assert not ref.is_alive()
    assert pykka.ActorRegistry.get_all() == []


def test_base_exception_in_on_stop_is_recorded_and_the_stop_still_succeeds(worker):
    events = Inbox()
    error = KeyboardInterrupt()
    ref = worker.start(events, stop_error=error)
    assert ref.stop(timeout=5) is True
    assert wait_exit(ref, 5) == Exit.error(error)
    assert events.drain() == ["on_stop"]  # on_failure does not run after on_stop


def test_exception_in_on_stop_is_recorded(worker):
    error = RuntimeError("cleanup failed")
    ref = worker.start(stop_error=error)
    assert ref.stop(timeout=5) is True
    assert wait_exit(ref, 5) == Exit.error(error)


@pytest.mark.parametrize("error", [SystemExit(1), KeyboardInterrupt()], ids=repr)
def test_base_exception_in_a_tell_kills_only_this_actor(worker, error):
    events = Inbox()
    bystanders = [pykka.ThreadingActor.start(), actors.Actor.start(), actors.LoopActor.start()]
    ref = worker.start(events)
    ref.tell(error)
    assert wait_exit(ref, 5) == Exit.error(error)
    assert events.receive(timeout=5) == ("on_failure begins", error)
    for other in bystanders:
        assert other.is_alive()
        assert other.stop(timeout=5) is True


def test_base_exception_in_an_ask_answers_the_caller_and_kills_only_this_actor(worker):
    bystander = worker.start()
    ref = worker.start()
    error = SystemExit(3)
    with pytest.raises(pykka.ActorDeadError) as caught:
        ref.ask(error, timeout=5)
    assert caught.value.__cause__ is error
    assert wait_exit(ref, 5) == Exit.error(error)
    assert bystander.ask("alive?", timeout=5) == "alive?"
    bystander.stop(timeout=5)


def test_monitors_are_told_only_after_on_failure_and_teardown_finished(worker):
    events, downs, gate = Inbox(), Inbox(), threading.Event()
    ref = worker.start(events, gate=gate)
    monitor(ref, downs)
    error = ValueError("crash")
    ref.tell(error)
    queued = ref.ask("queued behind the crash", block=False)
    assert events.receive(timeout=5) == ("on_failure begins", error)
    assert ref.actor_stopped.is_set()  # Pykka's flag is already set here...
    with pytest.raises(TimeoutError):
        downs.receive(timeout=0.2)  # ...but the actor has not fully ended yet
    assert exit_reason(ref) is None
    with pytest.raises(TimeoutError):
        wait_exit(ref, 0.05)
    gate.set()
    down = downs.receive(timeout=5)
    assert events.drain() == ["on_failure ends"]  # on_failure had finished before the DOWN
    assert down.reason == Exit.error(error)
    with pytest.raises(pykka.ActorDeadError):
        queued.get(timeout=0)  # answered during the teardown, before the DOWN


def test_wait_exit_times_out_within_its_bound(worker):
    ref = worker.start()
    with pytest.raises(TimeoutError, match=r"did not end within 0\.1 s"):
        wait_exit(ref, 0.1)
    ref.stop(timeout=5)


def test_a_message_that_arrives_after_the_teardown_is_refused_not_lost(worker):
    # Pykka's tell/ask check is_alive() and then put(); the actor can end in between.
    # Simulate the late put directly.
    ref = worker.start()
    ref.stop(timeout=5)
    wait_exit(ref, 5)
    future = pykka.ThreadingFuture()
    ref.actor_inbox.put(Envelope("late ask", reply_to=future))
    with pytest.raises(pykka.ActorDeadError, match="has ended"):
        future.get(timeout=0)
    with pytest.raises(pykka.ActorDeadError, match="has ended"):
        ref.actor_inbox.put(Envelope("late tell"))


def test_asks_racing_a_stop_are_always_answered(worker):
    def ask_many(ref: pykka.ActorRef[Any], futures: list[pykka.Future[Any]]) -> None:
        futures.extend(ref.ask(i, block=False) for i in range(20))

    for _ in range(100):
        ref = worker.start()
        futures: list[pykka.Future[Any]] = []
        asker = threading.Thread(target=ask_many, args=(ref, futures))
        asker.start()
        ref.stop(block=False)
        asker.join(timeout=5)
        for future in futures:
            with contextlib.suppress(pykka.ActorDeadError):
                future.get(timeout=5)  # a value or ActorDeadError, never a pykka.Timeout
        wait_exit(ref, 5)


@pytest.mark.parametrize("wait", ["wait_exit", "shutdown"])
def test_an_actor_waiting_for_its_own_end_is_refused_rather_than_hang(wait):
    # Regression: it waited for an end that comes only after its handler returns: forever
    # without a timeout.
    class Waits(actors.Actor):
        def on_receive(self, message: Any) -> Any:
            if message != "wait":
                return message
            if wait == "wait_exit":
                return actors.wait_exit(self.actor_ref, None)
            return actors.shutdown(self.actor_ref, None)

    ref = Waits.start()
    with pytest.raises(RuntimeError, match="cannot wait for its own end"):
        ref.ask("wait", timeout=5)
    assert ref.ask("still alive", timeout=5) == "still alive"  # nothing was sent to it
    ref.stop(timeout=5)
