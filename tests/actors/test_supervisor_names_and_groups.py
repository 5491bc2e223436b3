"""Names through start failures and normal exits; group restarts, their held messages, their
order under backoff (the behaviour mutation testing found unguarded)."""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

import pykka
import pytest

import actors
import actors._names
from actors import (
    Address,
    Backoff,
    ChildSpec,
    Inbox,
    NoSuchName,
    StartChildError,
    Supervisor,
    wait_exit,
    whereis,
)


class Crash(Exception):
    pass


@pytest.fixture(autouse=True)
def _no_leftover_names():
    yield
    assert actors._names._names == {}, "the test left names registered"


class Member(actors.Actor):
    """Tells ``events`` when it starts (with the time), keeps what it is told."""

    def __init__(self, tag: str, events: Inbox) -> None:
        super().__init__()
        self.tag = tag
        self.events = events
        self.got: list[Any] = []

    def on_start(self) -> None:
        self.events.tell(("start", self.tag, time.monotonic()))

    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise Crash(self.tag)
        self.got.append(message)
        return list(self.got)


def member(tag: str, events: Inbox, **options: Any) -> ChildSpec:
    return ChildSpec(tag, lambda: Member.start(tag, events), **options)


def failing(tag: str) -> ChildSpec:
    def start() -> Any:
        raise Crash("no start")

    return ChildSpec(tag, start, name=tag)


def children(sup: pykka.ActorRef[Any]) -> dict[Any, Any]:
    return {cid: ref for cid, ref, _t in sup.proxy().which_children().get(timeout=5)}


def test_a_named_child_failing_in_supervisor_start_leaves_no_name():
    events = Inbox()
    with pytest.raises(StartChildError):
        Supervisor.start([member("a", events, name="a"), failing("b")])
    assert whereis("a") is None
    with pytest.raises(NoSuchName):
        Address("b").tell("x")


def test_a_named_child_failing_in_start_child_or_restart_child_leaves_no_name():
    events = Inbox()
    attempts = iter([None, Crash("second")])

    def start() -> Any:
        error = next(attempts)
        if error is not None:
            raise error
        return Member.start("r", events)

    sup = Supervisor.start([ChildSpec("r", start, name="r")])
    with pytest.raises(StartChildError):
        sup.proxy().start_child(failing("new")).get(timeout=5)
    with pytest.raises(NoSuchName):
        Address("new").tell("x")
    sup.proxy().terminate_child("r").get(timeout=5)
    with pytest.raises(StartChildError):
        sup.proxy().restart_child("r").get(timeout=5)
    with pytest.raises(NoSuchName):
        Address("r").tell("x")
    sup.stop(timeout=5)


def test_a_transient_child_that_ends_normally_releases_its_name():
    events = Inbox()
    sup = Supervisor.start([member("t", events, name="t", restart="transient")])
    first = whereis("t")
    assert first is not None
    first.stop()
    wait_exit(first, 5)
    assert children(sup) == {"t": None}
    with pytest.raises(NoSuchName):
        Address("t").tell("x")
    sup.stop(timeout=5)


@pytest.mark.parametrize("strategy", ["one_for_all", "rest_for_one"])
def test_a_sibling_stopped_by_a_group_restart_holds_its_messages(strategy):
    events = Inbox()
    backoff = Backoff(min=1.0, max=1.0, jitter=0)  # long enough to look at, even when slow
    specs = [member("a", events), member("s", events, name="s")]
    sup = Supervisor.start(specs, strategy=strategy, backoff=backoff)
    old = children(sup)
    old["a"].tell("crash")
    wait_exit(old["s"], 5)  # stopped by the group restart; the restart waits for its backoff
    assert children(sup) == {"a": "restarting", "s": "restarting"}
    Address("s").tell("held")
    reply = Address("s").ask("asked", block=False)
    assert reply.get(timeout=5) == ["held", "asked"]  # delivered to the next incarnation
    assert whereis("s") is not old["s"]
    sup.stop(timeout=5)


@pytest.mark.parametrize("strategy", ["one_for_all", "rest_for_one"])
def test_a_group_restart_under_backoff_starts_in_order_after_the_delay(strategy):
    events = Inbox()
    backoff = Backoff(min=0.2, max=0.2, jitter=0)
    sup = Supervisor.start([member(t, events) for t in "abc"], strategy=strategy, backoff=backoff)
    events.drain()
    crashed = time.monotonic()
    children(sup)["b"].tell("crash")
    expected = "abc" if strategy == "one_for_all" else "bc"
    starts = [events.receive(timeout=5) for _ in expected]
    assert [tag for _kind, tag, _at in starts] == list(expected)
    assert all(at - crashed >= 0.2 for _kind, _tag, at in starts)
    assert all(ref.is_alive() for ref in children(sup).values())
    sup.stop(timeout=5)


def test_a_member_still_waiting_holds_back_those_after_it():
    """rest_for_one: b fails, and while its group (b, c) waits, a fails too (no backoff of
    its own): a restarts the whole group, in order, at the later of their times."""
    events = Inbox()
    slow = Backoff(min=0.3, max=0.3, jitter=0)
    specs = [member("a", events), member("b", events, backoff=slow), member("c", events)]
    sup = Supervisor.start(specs, strategy="rest_for_one", max_restarts=10)
    events.drain()
    old = children(sup)
    old["b"].tell("crash")
    wait_exit(old["c"], 5)
    old["a"].tell("crash")
    starts = [events.receive(timeout=5)[1] for _ in range(3)]
    assert starts == ["a", "b", "c"]
    sup.stop(timeout=5)


def test_one_for_one_restarts_under_backoff_do_not_wait_for_each_other():
    events = Inbox()
    specs = [
        member("slow", events, backoff=Backoff(min=0.5, max=0.5, jitter=0)),
        member("fast", events),
    ]
    sup = Supervisor.start(specs, max_restarts=10)
    events.drain()
    old = children(sup)
    old["slow"].tell("crash")
    wait_exit(old["slow"], 5)
    old["fast"].tell("crash")
    assert events.receive(timeout=5)[1] == "fast"  # not held back by the slow one
    assert events.receive(timeout=5)[1] == "slow"
    sup.stop(timeout=5)


def test_a_failed_restart_is_retried_until_it_starts():
    events = Inbox()
    attempts = {"n": 0}
    gate = threading.Event()

    def start() -> Any:
        attempts["n"] += 1
        if 1 < attempts["n"] < 4:
            raise Crash("not yet")
        if attempts["n"] >= 4:
            gate.set()
        return Member.start("x", events)

    sup = Supervisor.start([ChildSpec("x", start)], max_restarts=10)
    children(sup)["x"].tell("crash")
    assert gate.wait(5)
    assert attempts["n"] == 4
    assert children(sup)["x"].ask("hi", timeout=5) == ["hi"]
    sup.stop(timeout=5)


@pytest.mark.parametrize("call", ["start_child", "restart_child"])
def test_an_ask_held_while_a_named_child_fails_to_start_says_why(call):
    events = Inbox()
    entered, go = threading.Event(), threading.Event()
    starts = {"n": 0}

    def start() -> Any:
        starts["n"] += 1
        if call == "restart_child" and starts["n"] == 1:
            return Member.start("x", events)
        entered.set()
        assert go.wait(5)
        raise Crash("no start")

    named = ChildSpec("x", start, name="x")
    sup = Supervisor.start([named] if call == "restart_child" else [])
    if call == "restart_child":
        sup.proxy().terminate_child("x").get(timeout=5)
    reply = getattr(sup.proxy(), call)(named if call == "start_child" else "x")
    assert entered.wait(5)
    held = Address("x").ask("held", block=False)
    go.set()
    with pytest.raises(StartChildError):
        reply.get(timeout=5)
    with pytest.raises(NoSuchName, match=r"registered as 'x': its child failed to start$"):
        held.get(timeout=5)
    sup.stop(timeout=5)


class Blocker(actors.Actor):
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, threading.Event):
            message.wait(10)
        return message


def busy(sup: pykka.ActorRef[Any]) -> threading.Event:
    """Keep ``sup`` busy in a start_child until the returned gate is set."""
    gate = threading.Event()
    entered = threading.Event()

    def start() -> Any:
        entered.set()
        gate.wait(10)
        return Blocker.start()

    sup.proxy().start_child(ChildSpec("busy", start))
    assert entered.wait(5)
    return gate


def test_terminate_child_releases_the_name_before_waiting_for_the_child():
    sup = Supervisor.start([ChildSpec("b", Blocker.start, name="b", shutdown=5.0)])
    gate = threading.Event()
    whereis("b").tell(gate)  # type: ignore[union-attr]
    done = sup.proxy().terminate_child("b")
    refused = False
    deadline = time.monotonic() + 3
    while not refused and time.monotonic() < deadline:
        try:
            Address("b").tell("x")
        except NoSuchName:
            refused = True
    gate.set()
    done.get(timeout=5)
    assert refused, "the name was still held while its child was being terminated"
    sup.stop(timeout=5)


def test_terminating_a_child_waiting_to_restart_fails_its_held_asks():
    backoff = Backoff(min=30.0, max=30.0)
    sup = Supervisor.start([ChildSpec("r", Blocker.start, name="r", backoff=backoff)])
    first = whereis("r")
    assert first is not None
    first.stop()
    wait_exit(first, 5)
    assert children(sup) == {"r": "restarting"}
    held = Address("r").ask("held", block=False)
    sup.proxy().terminate_child("r").get(timeout=5)
    with pytest.raises(NoSuchName, match=r"registered as 'r': its child was terminated$"):
        held.get(timeout=5)
    sup.stop(timeout=5)


def test_a_temporary_child_that_ends_fails_the_asks_held_for_it():
    sup = Supervisor.start([ChildSpec("t", Blocker.start, name="t", restart="temporary")])
    gate = busy(sup)  # the supervisor cannot handle the DOWN until the gate opens
    first = whereis("t")
    assert first is not None
    first.stop()
    wait_exit(first, 5)
    held = Address("t").ask("held", block=False)  # finds it dead: held for a restart
    gate.set()
    with pytest.raises(NoSuchName, match=r"registered as 't': its temporary child ended$"):
        held.get(timeout=5)
    sup.stop(timeout=5)


def test_the_api_errors_name_the_child():
    sup = Supervisor.start(
        [ChildSpec("a", Blocker.start), ChildSpec("w", Blocker.start, backoff=Backoff(30, 30))]
    )
    proxy = sup.proxy()
    with pytest.raises(actors.ChildNotFound, match=r"^no child 'zz' in Supervisor \("):
        proxy.terminate_child("zz").get(timeout=5)
    with pytest.raises(
        actors.ChildRunning, match=r"^child 'a' is running: terminate_child\('a'\) first$"
    ):
        proxy.delete_child("a").get(timeout=5)
    waiting = children(sup)["w"]
    waiting.stop()
    wait_exit(waiting, 5)
    with pytest.raises(
        actors.ChildRestarting,
        match=r"^child 'w' is waiting for its restart: terminate_child\('w'\)",
    ):
        proxy.restart_child("w").get(timeout=5)
    sup.stop(timeout=5)


def test_failed_restarts_are_retried_through_the_mailbox_not_by_recursion():
    """300 failed restart attempts in a row: each retry is a message to the supervisor, so
    neither its stack nor its other callers wait for the last one."""
    events = Inbox()
    attempts = {"n": 0}

    def start() -> Any:
        attempts["n"] += 1
        if 1 < attempts["n"] <= 301:
            raise Crash("not yet")
        return Member.start("x", events)

    sup = Supervisor.start([ChildSpec("x", start)], max_restarts=None)
    children(sup)["x"].tell("crash")
    deadline = time.monotonic() + 20
    while attempts["n"] <= 301 and time.monotonic() < deadline:
        sup.proxy().count_children().get(timeout=5)  # answered between the attempts
    assert children(sup)["x"].ask("hi", timeout=5) == ["hi"]
    assert sup.is_alive()
    sup.stop(timeout=5)


@pytest.mark.parametrize("hook", [False, True])
def test_restarts_and_give_ups_are_logged_at_their_levels(caplog, hook):
    """INFO for a restart and WARNING for a child given up; DEBUG for both when the child has
    an on_exit hook (someone hears of its ends already: a stream's recipient)."""
    events = Inbox()
    on_exit = (lambda exit, restarting: None) if hook else None
    spec = member("f", events, max_restarts=1, max_seconds=30.0, on_exit=on_exit)
    sup = Supervisor.start([spec], max_restarts=None)
    caplog.set_level(logging.DEBUG, logger="actors.supervisor")
    for _ in range(2):
        ref = children(sup).get("f")
        ref.tell("crash")
        wait_exit(ref, 5)
    assert children(sup) == {}  # the second crash is over its budget: given up
    records = [r for r in caplog.records if r.name == "actors.supervisor"]
    restart, give_up = records
    assert restart.levelno == (logging.DEBUG if hook else logging.INFO)
    assert give_up.levelno == (logging.DEBUG if hook else logging.WARNING)
    assert re.fullmatch(
        r"Supervisor \(urn:\S+\): restarting child 'f' in 0\.000 s after "
        r"Exit\.error\(Crash\('f'\)\)",
        restart.getMessage(),
    )
    assert re.fullmatch(
        r"Supervisor \(urn:\S+\): child 'f' ended with Exit\.error\(Crash\('f'\)\) and has "
        r"used up its own restart budget \(1 in 30\.0 s\); giving it up",
        give_up.getMessage(),
    )
    sup.stop(timeout=5)


def test_a_root_supervisor_that_gives_up_fails_the_asks_held_for_its_children():
    sup = Supervisor.start([ChildSpec("g", Blocker.start, name="g")], max_restarts=0)
    gate = busy(sup)
    first = whereis("g")
    assert first is not None
    first.stop()
    wait_exit(first, 5)
    held = Address("g").ask("held", block=False)
    gate.set()
    with pytest.raises(NoSuchName, match=r"registered as 'g': its supervisor gave up$"):
        held.get(timeout=5)
    wait_exit(sup, 5)


def test_terminating_a_child_that_has_just_ended_fails_its_held_asks_and_succeeds():
    """The child ended, but its supervisor handles terminate_child before the DOWN."""
    sup = Supervisor.start([ChildSpec("e", Blocker.start, name="e")])
    gate = busy(sup)
    ended = whereis("e")
    assert ended is not None
    done = sup.proxy().terminate_child("e")  # queued before the DOWN
    ended.stop()
    wait_exit(ended, 5)
    held = Address("e").ask("held", block=False)  # finds it dead: held
    gate.set()
    done.get(timeout=5)  # telling the dead child its stop does not fail the call
    with pytest.raises(NoSuchName, match=r"registered as 'e': its child was terminated$"):
        held.get(timeout=5)
    sup.stop(timeout=5)


def test_an_on_exit_hook_that_raises_is_logged_and_ignored(caplog):
    def hook(exit: Any, restarting: bool) -> None:
        raise ValueError("hook")

    sup = Supervisor.start([ChildSpec("h", Blocker.start, on_exit=hook)])
    caplog.set_level(logging.ERROR, logger="actors.supervisor")
    sup.proxy().terminate_child("h").get(timeout=5)
    [record] = [r for r in caplog.records if r.name == "actors.supervisor"]
    assert record.getMessage() == f"{sup}: the on_exit hook of child 'h' raised"
    assert isinstance(record.exc_info[1], ValueError)
    assert sup.is_alive()
    sup.stop(timeout=5)
