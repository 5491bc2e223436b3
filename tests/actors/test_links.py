"""Links as OTP has them, and monitoring a name."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

import actors
from actors import (
    Address,
    ChildSpec,
    Down,
    Exit,
    Inbox,
    LinkExit,
    Supervisor,
    demonitor,
    link,
    monitor,
    unlink,
    wait_exit,
    whereis,
)

KINDS = [actors.Actor, actors.LoopActor]


class Crash(Exception):
    pass


def partner(base: type[Any], events: Inbox, *, traps: bool = False) -> type[Any]:
    class Partner(base):  # type: ignore[valid-type,misc]
        trap_exits = traps

        def on_receive(self, message: Any) -> Any:
            if message == "crash":
                raise Crash("crash")
            events.tell((self.actor_ref, message))
            return message

        def on_stop(self) -> None:
            events.tell((self.actor_ref, "on_stop"))

        def on_failure(self, *exc_info: Any) -> None:
            events.tell((self.actor_ref, "on_failure"))

    return Partner


@pytest.mark.parametrize("base", KINDS, ids=lambda b: b.__name__)
def test_an_abnormal_exit_ends_the_linked_actors_naming_it(base):
    events = Inbox()
    cls = partner(base, events)
    a, b, c = cls.start(), cls.start(), cls.start()
    link(a, b)
    link(b, c)
    a.tell("crash")
    reason_b = wait_exit(b, 5)
    reason_c = wait_exit(c, 5)
    assert isinstance(reason_b.exception, LinkExit)
    assert reason_b.exception.ref is a
    assert isinstance(reason_b.exception.reason.exception, Crash)
    assert reason_c.exception.ref is b  # it spreads along the links
    with pytest.raises(pykka.ActorDeadError):
        b.ask("late", timeout=5)
    # Killed by the link: no hook ran in b or c (a ran its on_failure).
    assert [m for r, m in events.drain() if r is not a] == []


@pytest.mark.parametrize("base", KINDS, ids=lambda b: b.__name__)
def test_a_normal_exit_leaves_the_linked_actor_running(base):
    events = Inbox()
    cls = partner(base, events)
    a, b = cls.start(), cls.start()
    link(a, b)
    a.stop(timeout=5)
    wait_exit(a, 5)
    assert b.ask("alive", timeout=5) == "alive"
    b.stop(timeout=5)


@pytest.mark.parametrize("base", KINDS, ids=lambda b: b.__name__)
def test_an_actor_that_traps_exits_is_told_instead(base):
    events = Inbox()
    a, b = partner(base, events).start(), partner(base, events, traps=True).start()
    other = partner(base, events).start()
    link(a, b)
    link(other, b)
    a.tell("crash")
    _who, (kind, ref, reason) = events.receive(timeout=5, match=lambda e: e[0] is b)
    assert (kind, ref) == ("EXIT", a)
    assert isinstance(reason.exception, Crash)
    other.stop(timeout=5)
    _who, message = events.receive(timeout=5, match=lambda e: e[0] is b)
    assert message == ("EXIT", other, Exit.NORMAL)
    assert b.ask("alive", timeout=5) == "alive"
    b.stop(timeout=5)


def test_unlink_and_linking_an_ended_actor():
    events = Inbox()
    cls = partner(actors.Actor, events)
    a, b = cls.start(), cls.start()
    link(a, b)
    unlink(b, a)
    a.tell("crash")
    wait_exit(a, 5)
    assert b.ask("alive", timeout=5) == "alive"
    link(b, a)  # a has ended abnormally: b gets its signal at once
    assert isinstance(wait_exit(b, 5).exception, LinkExit)


def test_only_our_actors_can_be_linked():
    plain = pykka.ThreadingActor.start()
    ours = actors.Actor.start()
    with pytest.raises(TypeError, match="can be linked"):
        link(ours, plain)
    plain.stop(timeout=5)
    ours.stop(timeout=5)


def test_a_supervisor_ended_by_a_link_stops_its_children():
    events = Inbox()
    cls = partner(actors.Actor, events)
    sup = Supervisor.start([ChildSpec("child", cls.start)])
    child = sup.proxy().which_children().get(timeout=5)[0][1]
    doomed = cls.start()
    link(doomed, sup)
    doomed.tell("crash")
    assert isinstance(wait_exit(sup, 5).exception, LinkExit)
    assert wait_exit(child, 5) is Exit.SHUTDOWN


def test_a_name_is_monitored_until_no_incarnation_will_come():
    inbox = Inbox()
    sup = Supervisor.start([ChildSpec("db", actors.Actor.start, name="db")])
    mon = monitor(Address("db"), inbox)
    first = whereis("db")
    assert first is not None
    first.stop()  # a restart: no DOWN for the name
    wait_exit(first, 5)
    sup.proxy().which_children().get(timeout=5)
    with pytest.raises(TimeoutError):
        inbox.receive(timeout=0.1)
    sup.proxy().terminate_child("db").get(timeout=5)
    assert inbox.receive(timeout=5) == Down(mon, Address("db"), Exit.NOPROC)
    unknown = monitor("nobody", inbox)
    assert inbox.receive(timeout=0) == Down(unknown, Address("nobody"), Exit.NOPROC)
    sup.stop(timeout=5)


def test_a_name_monitor_can_be_cancelled():
    inbox = Inbox()
    sup = Supervisor.start([ChildSpec("db", actors.Actor.start, name="db")])
    mon = monitor("db", inbox)
    assert demonitor(mon) is True
    sup.stop(timeout=5)
    with pytest.raises(TimeoutError):
        inbox.receive(timeout=0.1)


def test_linking_while_ending_from_many_threads_never_loses_a_signal():
    events = Inbox()
    cls = partner(actors.Actor, events, traps=True)
    watcher = cls.start()
    doomed = [actors.Actor.start() for _ in range(200)]
    go = threading.Event()

    def link_all() -> None:
        go.wait(5)
        for ref in doomed:
            link(ref, watcher)

    linker = threading.Thread(target=link_all)
    linker.start()
    go.set()
    for ref in doomed:
        ref.stop()
    linker.join(timeout=10)
    got = {events.receive(timeout=5)[1][1] for _ in doomed}  # one EXIT per linked actor
    assert got == set(doomed)
    watcher.stop(timeout=5)
