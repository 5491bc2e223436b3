"""Pykka's own semantics, checked identically on pykka.ThreadingActor, Actor and LoopActor."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

import actors
from actors import Inbox

BASES = [pykka.ThreadingActor, actors.Actor, actors.LoopActor]


def echo_class(base: type[pykka.Actor]) -> type[pykka.Actor]:
    class Echo(base):  # type: ignore[valid-type,misc]
        """Replies with what it got; tells its hooks to ``events``."""

        def __init__(self, events: Inbox, fail_on_start: bool = False) -> None:
            super().__init__()
            self.events = events
            self.fail_on_start = fail_on_start
            self.seen: list[Any] = []
            self.value = 1

        def on_start(self) -> None:
            self.events.tell("on_start")
            if self.fail_on_start:
                raise ValueError("no start")

        def on_stop(self) -> None:
            self.events.tell("on_stop")

        def on_failure(self, exc_type: Any, exc_value: Any, tb: Any) -> None:
            self.events.tell(("on_failure", exc_type, exc_value, tb is not None))

        def on_receive(self, message: Any) -> Any:
            match message:
                case ("raise", exc):
                    raise exc
                case "seen":
                    return list(self.seen)
                case "stop-self":
                    self.actor_ref.tell(("note", "before"))
                    self.stop()
                    self.actor_ref.tell(("note", "after"))
                case ("note", _):
                    self.events.tell(message)
                case _:
                    self.seen.append(message)
                    return message

        def add(self, a: int, b: int) -> int:
            return a + b

        def boom(self) -> None:
            raise ValueError("boom")

    return Echo


@pytest.fixture(params=BASES, ids=lambda base: base.__name__)
def echo(request: pytest.FixtureRequest) -> type[pykka.Actor]:
    return echo_class(request.param)


def test_tell_and_ask_are_handled_in_order(echo):
    ref = echo.start(Inbox())
    for i in range(100):
        ref.tell(i)
    assert ref.ask("last", timeout=5) == "last"
    assert ref.ask("seen", timeout=5) == [*range(100), "last"]
    assert ref.stop(timeout=5) is True


def test_on_start_runs_before_the_first_message_and_on_stop_at_stop(echo):
    events = Inbox()
    ref = echo.start(events)
    ref.tell("x")
    assert ref.stop(timeout=5) is True
    assert events.receive(timeout=5) == "on_start"
    assert events.receive(timeout=5) == "on_stop"


def test_proxy_calls_get_and_set_attributes(echo):
    ref = echo.start(Inbox())
    proxy = ref.proxy()
    assert proxy.add(2, 3).get(timeout=5) == 5
    assert proxy.value.get(timeout=5) == 1
    proxy.value = 7
    assert proxy.value.get(timeout=5) == 7
    ref.stop(timeout=5)


def test_exception_during_ask_goes_to_the_caller_and_the_actor_lives_on(echo):
    events = Inbox()
    ref = echo.start(events)
    with pytest.raises(KeyError):
        ref.ask(("raise", KeyError("k")), timeout=5)
    with pytest.raises(ValueError, match="boom"):
        ref.proxy().boom().get(timeout=5)
    assert ref.is_alive()
    assert ref.ask("still here", timeout=5) == "still here"
    ref.stop(timeout=5)
    assert events.drain() == ["on_start", "on_stop"]


def test_exception_during_tell_kills_the_actor_and_runs_on_failure_only(echo):
    events = Inbox()
    ref = echo.start(events)
    error = RuntimeError("dead")
    ref.tell(("raise", error))
    late = ref.ask("after", block=False)
    assert events.receive(timeout=5) == "on_start"
    assert events.receive(timeout=5) == ("on_failure", RuntimeError, error, True)
    assert ref.actor_stopped.wait(5)
    with pytest.raises(pykka.ActorDeadError):
        late.get(timeout=5)
    with pytest.raises(pykka.ActorDeadError):
        ref.tell("more")
    assert ref.stop(timeout=5) is False
    assert "on_stop" not in events.drain()


def test_deferred_proxy_call_that_raises_kills_the_actor(echo):
    events = Inbox()
    ref = echo.start(events)
    ref.proxy().boom.defer()
    assert events.receive(timeout=5, match=lambda e: e[0] == "on_failure")[1] is ValueError
    assert ref.actor_stopped.wait(5)


def test_failure_in_on_start_stops_the_actor_without_any_hook(echo):
    events = Inbox()
    ref = echo.start(events, fail_on_start=True)
    assert ref.actor_stopped.wait(5)
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("x", timeout=5)
    assert ref.stop(timeout=5) is False
    assert events.drain() == ["on_start"]


def test_messages_before_stop_are_handled_and_later_ones_refused(echo):
    ref = echo.start(Inbox())
    for i in range(10):
        ref.tell(i)
    probe = ref.ask("seen", block=False)
    assert ref.stop(timeout=5) is True
    assert probe.get(timeout=5) == list(range(10))
    with pytest.raises(pykka.ActorDeadError):
        ref.tell("late")
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("late", timeout=5)
    with pytest.raises(pykka.ActorDeadError):
        ref.proxy()
    assert ref.stop(timeout=5) is False


def test_stop_from_inside_a_handler_lets_queued_messages_run_first(echo):
    events = Inbox()
    ref = echo.start(events)
    ref.tell("stop-self")
    assert events.receive(timeout=5) == "on_start"
    assert events.receive(timeout=5) == ("note", "before")
    assert events.receive(timeout=5) == "on_stop"
    assert ref.actor_stopped.wait(5)
    with pytest.raises(TimeoutError):
        events.receive(timeout=0.1)


def test_queued_asks_get_actor_dead_error_when_the_actor_stops(echo):
    ref = echo.start(Inbox())
    ref.tell("stop-self")
    futures = [ref.ask(i, block=False) for i in range(50)]
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.get(timeout=5))
        except pykka.ActorDeadError:
            outcomes.append("dead")
    # Some asks may be handled before the stop is reached; every one is answered.
    assert len(outcomes) == 50
    assert ref.actor_stopped.wait(5)


def test_per_actor_order_holds_under_concurrent_senders(echo):
    ref = echo.start(Inbox())
    senders, per_sender = 4, 2_000
    go = threading.Event()

    def send(sender: int) -> None:
        go.wait(5)
        for seq in range(per_sender):
            ref.tell((sender, seq))

    threads = [threading.Thread(target=send, args=(s,)) for s in range(senders)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(timeout=20)
    seen = ref.ask("seen", timeout=20)
    assert len(seen) == senders * per_sender
    for sender in range(senders):
        assert [seq for s, seq in seen if s == sender] == list(range(per_sender))
    ref.stop(timeout=5)


def test_on_stop_that_raises_still_stops_without_on_failure(echo):
    class Failing(echo):  # type: ignore[valid-type,misc]
        def on_stop(self) -> None:
            super().on_stop()
            raise ValueError("no clean stop")

    events = Inbox()
    ref = Failing.start(events)
    assert ref.stop(timeout=5) is True
    assert not ref.is_alive()
    assert ref.stop(timeout=5) is False
    assert events.receive(timeout=5) == "on_start"
    assert events.receive(timeout=5) == "on_stop"
    assert events.drain() == []


def test_on_failure_that_raises_still_ends_the_actor_once(echo):
    class Failing(echo):  # type: ignore[valid-type,misc]
        def on_failure(self, *exc_info: Any) -> None:
            super().on_failure(*exc_info)
            raise KeyError("worse")

    events = Inbox()
    ref = Failing.start(events)
    ref.tell(("raise", RuntimeError("dead")))
    assert ref.actor_stopped.wait(5)
    assert events.receive(timeout=5) == "on_start"
    assert events.receive(timeout=5)[0] == "on_failure"
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("after", timeout=5)
    assert events.drain() == []
