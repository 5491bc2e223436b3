"""Names: whereis, Address across restarts, held messages, unique names."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pykka
import pytest

import actors
import actors._names
from actors import (
    Address,
    AddressBufferFull,
    ChildSpec,
    DynamicSupervisor,
    Inbox,
    NameTaken,
    NoSuchName,
    StartChildError,
    Supervisor,
    wait_exit,
    whereis,
)
from actors._stream import Recipient


class Crash(Exception):
    pass


@pytest.fixture(autouse=True)
def _no_leftover_names():
    yield
    assert actors._names._names == {}, "the test left names registered"


class Recorder(actors.Actor):
    """Keeps every message it is told; answers an ask with all it has received so far."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Any] = []
        self.field = "value"

    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise Crash
        self.received.append(message)
        return list(self.received)

    def double(self, x: int) -> int:
        return 2 * x

    def remember(self, x: Any) -> None:
        self.received.append(x)


class Gate:
    """A ``start`` that lets the first incarnation start at once and holds later ones.

    ``entered`` is set when the supervisor is inside ``start`` for a held incarnation;
    ``release()`` lets it go on, starting the next incarnation (or failing with ``error``).
    """

    def __init__(self, error: BaseException | None = None) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.error = error
        self.count = 0

    def start(self) -> Any:
        self.count += 1
        if self.count > 1:
            self.entered.set()
            assert self.opened.wait(10)
            if self.error is not None:
                raise self.error
        return Recorder.start()

    def release(self) -> None:
        self.opened.set()


def test_whereis_follows_restarts_and_address_reaches_the_current_incarnation():
    sup = Supervisor.start([ChildSpec("db", Recorder.start, name="db")])
    first = whereis("db")
    assert isinstance(first, pykka.ActorRef)
    db = Address("db")
    assert db.ask("one", timeout=5) == ["one"]
    first.tell("crash")
    wait_exit(first, 5)
    assert db.ask("two", timeout=5) == ["two"]  # held until the new incarnation ran
    second = whereis("db")
    assert second is not None
    assert second is not first
    assert db.whereis() is second
    db.tell("three")
    assert second.ask("four", timeout=5) == ["two", "three", "four"]
    sup.stop(timeout=5)
    assert whereis("db") is None


def test_messages_sent_during_a_restart_are_delivered_after_it_in_order():
    gate = Gate()
    sup = Supervisor.start([ChildSpec("db", gate.start, name="db")])
    db = Address("db")
    first = whereis("db")
    assert first is not None
    first.tell("crash")
    assert gate.entered.wait(5)  # the supervisor is starting the next incarnation
    assert whereis("db") is None
    for n in range(5):
        db.tell(n)
    reply = db.ask("question", block=False)
    db.tell("after")
    with pytest.raises(pykka.Timeout):
        reply.get(timeout=0.05)
    gate.release()
    assert reply.get(timeout=5) == [0, 1, 2, 3, 4, "question"]
    assert db.ask("last", timeout=5) == [0, 1, 2, 3, 4, "question", "after", "last"]
    sup.stop(timeout=5)


def test_an_ask_waits_for_the_next_incarnation_within_its_timeout():
    gate = Gate()
    sup = Supervisor.start([ChildSpec("db", gate.start, name="db")])
    whereis("db").tell("crash")  # type: ignore[union-attr]
    assert gate.entered.wait(5)
    with pytest.raises(pykka.Timeout):
        Address("db").ask("late", timeout=0.05)
    gate.release()
    # Timeouts cancel no work: the held ask is still delivered.
    assert Address("db").ask("next", timeout=5) == ["late", "next"]
    sup.stop(timeout=5)


def test_after_give_up_held_asks_fail_held_tells_are_dropped_and_later_sends_raise(caplog):
    gate = Gate(error=Crash("cannot start"))
    spec = ChildSpec("db", gate.start, name="db", max_restarts=1)
    sup = Supervisor.start([spec], max_restarts=None)
    whereis("db").tell("crash")  # type: ignore[union-attr]
    assert gate.entered.wait(5)
    db = Address("db")
    db.tell("held")
    reply = db.ask("held ask", block=False)
    caplog.set_level(logging.WARNING, logger="actors._names")
    gate.release()  # the restart fails: over the child's budget, it is given up
    with pytest.raises(NoSuchName, match=r"registered as 'db': its child was given up$"):
        reply.get(timeout=5)
    assert any("Dropped 1 message" in r.getMessage() for r in caplog.records)
    with pytest.raises(NoSuchName):
        db.tell("x")
    with pytest.raises(pykka.ActorDeadError):  # NoSuchName is an ActorDeadError
        db.ask("x", timeout=5)
    assert whereis("db") is None
    sup.stop(timeout=5)


def test_the_supervisor_giving_up_releases_the_names():
    sup = Supervisor.start([ChildSpec("db", Recorder.start, name="db")], max_restarts=0)
    whereis("db").tell("crash")  # type: ignore[union-attr]
    wait_exit(sup, 5)
    with pytest.raises(NoSuchName):
        Address("db").tell("x")


def test_terminate_releases_the_name_and_restart_child_registers_it_again():
    sup = Supervisor.start([ChildSpec("db", Recorder.start, name="db")])
    proxy = sup.proxy()
    proxy.terminate_child("db").get(timeout=5)
    assert whereis("db") is None
    with pytest.raises(NoSuchName):
        Address("db").tell("x")
    ref = proxy.restart_child("db").get(timeout=5)
    assert whereis("db") is ref
    assert Address("db").ask("y", timeout=5) == ["y"]
    sup.stop(timeout=5)


def test_unknown_names():
    assert whereis("nobody") is None
    with pytest.raises(NoSuchName, match="'nobody'"):
        Address("nobody").tell("x")
    with pytest.raises(NoSuchName):
        Address("nobody").ask("x", block=False)
    with pytest.raises(TypeError):
        Address(42)  # type: ignore[arg-type]


def test_names_are_unique():
    sup = Supervisor.start([ChildSpec("db", Recorder.start, name="db")])
    with pytest.raises(StartChildError) as info:
        Supervisor.start([ChildSpec("other", Recorder.start, name="db")])
    assert isinstance(info.value.cause, NameTaken)
    assert info.value.child_id == "other"
    with pytest.raises(StartChildError):
        sup.proxy().start_child(ChildSpec("b", Recorder.start, name="db")).get(timeout=5)
    assert Address("db").ask("still", timeout=5) == ["still"]
    sup.stop(timeout=5)
    again = Supervisor.start([ChildSpec("other", Recorder.start, name="db")])
    assert whereis("db") is not None
    again.stop(timeout=5)


def test_a_name_left_by_an_ended_supervisor_is_taken_over_with_its_held_messages():
    owner = Recorder.start()
    actors._names.register("orphan", owner)
    Address("orphan").tell("held")  # no incarnation yet: held
    owner.stop()
    wait_exit(owner, 5)
    sup = Supervisor.start([ChildSpec("o", Recorder.start, name="orphan")])
    assert Address("orphan").ask("next", timeout=5) == ["held", "next"]
    sup.stop(timeout=5)
    with pytest.raises(NoSuchName):
        Address("orphan").tell("x")


def test_the_held_messages_are_bounded(monkeypatch):
    monkeypatch.setattr(actors._names, "BUFFER_LIMIT", 3)
    gate = Gate()
    sup = Supervisor.start([ChildSpec("db", gate.start, name="db")])
    whereis("db").tell("crash")  # type: ignore[union-attr]
    assert gate.entered.wait(5)
    db = Address("db")
    db.tell(0)
    db.tell(1)
    reply = db.ask(2, block=False)
    with pytest.raises(AddressBufferFull, match="3 messages"):
        db.tell(3)
    with pytest.raises(AddressBufferFull):
        db.ask(3, block=False)
    gate.release()
    assert reply.get(timeout=5) == [0, 1, 2]
    assert db.ask("end", timeout=5) == [0, 1, 2, "end"]
    sup.stop(timeout=5)


def test_a_send_that_finds_the_incarnation_dead_is_held_for_the_next():
    # The sender may notice the end before the supervisor does (its DOWN is in flight).
    owner = Recorder.start()
    registration = actors._names.register("direct", owner)
    first = Recorder.start()
    registration.publish(first, by=owner)
    first.stop()
    wait_exit(first, 5)
    Address("direct").tell("kept")
    reply = Address("direct").ask("asked", block=False)
    second = Recorder.start()
    registration.publish(second, by=owner)
    assert reply.get(timeout=5) == ["kept", "asked"]
    registration.unregister("the test is over")
    for ref in (owner, second):
        ref.stop()


def test_held_messages_stay_held_if_the_new_incarnation_dies_before_taking_them():
    owner = Recorder.start()
    registration = actors._names.register("flush", owner)
    Address("flush").tell(1)
    Address("flush").tell(2)
    dead = Recorder.start()
    dead.stop()
    wait_exit(dead, 5)
    registration.publish(dead, by=owner)  # it ended after it started: nothing can be delivered
    assert whereis("flush") is None
    live = Recorder.start()
    registration.publish(live, by=owner)
    assert Address("flush").ask("q", timeout=5) == [1, 2, "q"]
    registration.unregister("the test is over")
    for ref in (owner, live):
        ref.stop()


def test_address_proxy_reaches_the_current_incarnation():
    sup = Supervisor.start([ChildSpec("db", Recorder.start, name="db")])
    proxy = Address("db").proxy()
    assert proxy.double(21).get(timeout=5) == 42
    assert proxy.field.get(timeout=5) == "value"
    proxy.remember.defer("deferred")
    first = whereis("db")
    assert first is not None
    first.tell("crash")
    wait_exit(first, 5)
    assert proxy.double(2).get(timeout=5) == 4  # reaches the next incarnation
    proxy.remember.defer("again")
    assert proxy.received.get(timeout=5) == ["again"]
    with pytest.raises(AttributeError):
        proxy._private  # noqa: B018
    sup.stop(timeout=5)


def test_address_equality_and_recipient():
    assert Address("a") == Address("a")
    assert Address("a") != Address("b")
    assert len({Address("a"), Address("a")}) == 1
    assert repr(Address("a")) == "Address('a')"
    assert isinstance(Address("a"), Recipient)


def test_named_children_of_a_dynamic_supervisor():
    sup = DynamicSupervisor.start()
    proxy = sup.proxy()
    ref = proxy.start_child(ChildSpec("w", Recorder.start, name="w1")).get(timeout=5)
    assert whereis("w1") is ref
    inbox = Inbox()
    actors.monitor(ref, inbox)
    Address("w1").tell("crash")
    inbox.receive(timeout=5)
    assert Address("w1").ask("x", timeout=5) == ["x"]
    proxy.terminate_child(whereis("w1")).get(timeout=5)
    assert whereis("w1") is None
    sup.stop(timeout=5)


def test_names_hold_messages_through_an_escalation_that_restarts_their_subtree():
    # Regression: when mid gave up, its child's name was released; senders got NoSuchName
    # ("no incarnation will come") although top restarted mid milliseconds later.
    def start_mid() -> Any:
        return Supervisor.start([ChildSpec("w", Recorder.start, name="w")], max_restarts=0)

    top = Supervisor.start([ChildSpec("mid", start_mid, type="supervisor")], max_restarts=None)
    sent = 0
    refused: list[BaseException] = []
    stop = threading.Event()

    def send() -> None:
        nonlocal sent
        while not stop.is_set():
            try:
                Address("w").tell("ping")
                sent += 1
            except (NoSuchName, AddressBufferFull) as exc:
                refused.append(exc)
            stop.wait(0.0005)  # a steady stream, not a flood of the held buffer

    sender = threading.Thread(target=send)
    sender.start()
    try:
        for _ in range(20):
            worker = whereis("w")
            while worker is None:
                worker = whereis("w")
            worker.tell("crash")  # mid gives up at once; top restarts it
            wait_exit(worker, 5)
            assert Address("w").ask("alive?", timeout=5)[-1] == "alive?"
    finally:
        stop.set()
        sender.join(timeout=5)
    top.stop(timeout=5)
    assert sent > 0
    assert refused == []
    with pytest.raises(NoSuchName):  # the tree is gone: now no incarnation will come
        Address("w").tell("x")


@pytest.mark.parametrize("how", ["transient", "dynamic"])
def test_names_held_for_a_restart_that_does_not_come_are_released(how):
    """A transient mid that gives up is not restarted; a DynamicSupervisor mid is, but
    without its children: either way their held names end in NoSuchName."""

    starts = []

    def start_mid() -> Any:
        starts.append(1)
        if how == "dynamic":
            mid = DynamicSupervisor.start(max_restarts=0)
            if len(starts) == 1:  # its restart comes without children
                w = ChildSpec("w", Recorder.start, name="w")
                mid.proxy().start_child(w).get(timeout=5)
            return mid
        return Supervisor.start([ChildSpec("w", Recorder.start, name="w")], max_restarts=0)

    restart = "transient" if how == "transient" else "permanent"
    top = Supervisor.start([ChildSpec("mid", start_mid, type="supervisor", restart=restart)])
    mid = top.proxy().which_children().get(timeout=5)[0][1]
    first = whereis("w")
    assert first is not None
    gate = busy(top)  # top cannot handle mid's end until the gate opens
    first.tell("crash")
    wait_exit(mid, 5)
    held = Address("w").ask("held", block=False)  # held while top decides
    gate.set()
    why = (
        "its supervisor restarted without that child"
        if how == "dynamic"
        else ("its child ended and is not restarted")
    )
    with pytest.raises(NoSuchName, match=rf"registered as 'w': {why}$"):
        held.get(timeout=5)
    with pytest.raises(NoSuchName):
        Address("w").tell("x")
    top.stop(timeout=5)


def busy(sup: pykka.ActorRef[Any]) -> threading.Event:
    """Keep ``sup`` busy in a start_child until the returned gate is set."""
    gate, entered = threading.Event(), threading.Event()

    def start() -> Any:
        entered.set()
        gate.wait(10)
        return Recorder.start()

    sup.proxy().start_child(ChildSpec("busy", start))
    assert entered.wait(5)
    return gate


def test_a_nested_supervisor_that_terminates_a_child_releases_its_name():
    def start_mid() -> Any:
        return Supervisor.start([ChildSpec("n", Recorder.start, name="n")])

    top = Supervisor.start([ChildSpec("mid", start_mid, type="supervisor")])
    mid = top.proxy().which_children().get(timeout=5)[0][1]
    mid.proxy().terminate_child("n").get(timeout=5)
    with pytest.raises(NoSuchName):
        Address("n").tell("x")
    top.stop(timeout=5)


def _until(predicate: Any, timeout: float = 5.0) -> None:
    """Wait, within ``timeout`` seconds, until ``predicate()`` holds (for states no event
    announces, such as a supervisor's restart having published its child)."""
    done = threading.Event()
    deadline = threading.Timer(timeout, done.set)
    deadline.start()
    try:
        while not predicate():
            assert not done.wait(0.005), "the condition did not hold in time"
    finally:
        deadline.cancel()


@pytest.mark.parametrize("shutdown", ["brutal_kill", 0.2])
def test_a_killed_supervisors_late_teardown_leaves_the_name_to_its_successor(shutdown):
    # Regression: a nested supervisor killed while busy in a handler stops its children
    # only once that handler returns. By then its parent had started a successor that took
    # the name over; the late teardown set the name "restarting" again, so Address("w")
    # held every message for good (asks timed out, whereis said None).
    gate = threading.Event()

    class Slow(actors.Actor):
        def on_start(self) -> None:
            assert gate.wait(10)

    def start_mid() -> Any:
        return Supervisor.start([ChildSpec("w", Recorder.start, name="w")])

    top = Supervisor.start(
        [
            ChildSpec("mid", start_mid, type="supervisor", shutdown=shutdown),
            ChildSpec("crasher", Recorder.start),
        ],
        strategy="one_for_all",
    )
    (_, mid, _), (_, crasher, _) = top.proxy().which_children().get(timeout=5)
    first = whereis("w")
    mid.proxy().start_child(ChildSpec("slow", Slow.start))  # mid is busy until the gate
    crasher.tell("crash")  # top kills mid (busy) and starts a new mid and a new "w"
    _until(lambda: whereis("w") not in (None, first))
    second = whereis("w")
    gate.set()  # the killed mid finds itself killed and stops its children now
    wait_exit(mid, 5)
    assert whereis("w") is second
    assert Address("w").ask("here?", timeout=5) == ["here?"]
    top.stop(timeout=5)


def test_names_hold_messages_through_a_group_restart_two_levels_up():
    # Regression: top (one_for_all) restarting mid stops mid, which stops leaf, which found
    # its parent (mid) no longer alive and released the name "w" although top was about to
    # restart the whole subtree: senders got NoSuchName ("no incarnation will come").
    def start_leaf() -> Any:
        return Supervisor.start([ChildSpec("w", Recorder.start, name="w")])

    def start_mid() -> Any:
        return Supervisor.start([ChildSpec("leaf", start_leaf, type="supervisor")])

    top = Supervisor.start(
        [
            ChildSpec("mid", start_mid, type="supervisor"),
            ChildSpec("crasher", Recorder.start),
        ],
        strategy="one_for_all",
    )
    first = whereis("w")
    downs = Inbox()
    actors.monitor("w", downs)  # a DOWN would say that no incarnation will come
    crasher = top.proxy().which_children().get(timeout=5)[1][1]
    crasher.tell("crash")
    wait_exit(first, 5)
    assert Address("w").ask("after", timeout=5) == ["after"]
    assert whereis("w") is not first
    assert downs.drain() == []
    top.stop(timeout=5)
    assert [down.reason for down in downs.drain()] == [actors.Exit.NOPROC]
