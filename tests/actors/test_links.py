"""Links as OTP has them, and monitoring a name."""

from __future__ import annotations

import contextlib
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


@pytest.mark.parametrize("base", KINDS, ids=lambda b: b.__name__)
def test_unlink_returned_means_the_link_has_no_effect_even_with_the_exit_under_way(base):
    # Regression: the ending actor took its links, then told its monitors, then signalled
    # the links it had taken; an unlink that returned in between did not stop the signal
    # (OTP: once unlink has returned, the link has no effect on the caller any more).
    events = Inbox()
    cls = partner(base, events)
    a, b = cls.start(), cls.start()
    link(a, b)
    unlinked = threading.Event()

    class UnlinkOnDown:
        def tell(self, message: Any) -> None:  # told during a's end, before the links
            unlink(b, a)
            unlinked.set()

    monitor(a, UnlinkOnDown())
    a.tell("crash")
    wait_exit(a, 5)
    assert unlinked.is_set()
    assert b.ask("alive", timeout=5) == "alive"
    b.stop(timeout=5)


@pytest.mark.parametrize("base", KINDS, ids=lambda b: b.__name__)
def test_linking_an_actor_to_itself_does_nothing(base):
    events = Inbox()
    a = partner(base, events, traps=True).start()
    link(a, a)
    a.stop(timeout=5)
    assert wait_exit(a, 5) == Exit.NORMAL
    assert events.drain() == [(a, "on_stop")]  # no EXIT from itself


@pytest.mark.parametrize("base", KINDS, ids=lambda b: b.__name__)
def test_a_link_cycle_ending_abnormally_at_once_ends_each_once(base):
    # A links B links A, both crash together, many times over: each ends exactly once,
    # with its own crash or the other's LinkExit, and nothing hangs.
    events = Inbox()
    cls = partner(base, events)
    for _ in range(300):
        a, b = cls.start(), cls.start()
        link(a, b)
        link(b, a)
        a.tell("crash")
        with contextlib.suppress(pykka.ActorDeadError):  # a's end may have killed b already
            b.tell("crash")
        for ref, other in ((a, b), (b, a)):
            reason = wait_exit(ref, 5)
            assert reason.abnormal
            if isinstance(reason.exception, LinkExit):
                assert reason.exception.ref is other
            else:
                assert isinstance(reason.exception, Crash)
    events.drain()


def test_unlink_racing_an_exit_from_many_threads_signals_at_most_once():
    # Each of 200 trapping watchers is linked to one actor that ends while another thread
    # unlinks: a watcher gets one EXIT if the unlink came too late, none if it came first,
    # never two, and only for the actor it was linked to.
    events = Inbox()
    cls = partner(actors.Actor, events, traps=True)
    pairs = [(actors.Actor.start(), cls.start()) for _ in range(200)]
    for doomed, watcher in pairs:
        link(doomed, watcher)
    go = threading.Barrier(2)

    def unlink_all() -> None:
        go.wait(5)
        for doomed, watcher in pairs:
            unlink(watcher, doomed)

    unlinker = threading.Thread(target=unlink_all)
    unlinker.start()
    go.wait(5)
    for doomed, _watcher in pairs:
        doomed.stop()
    unlinker.join(timeout=10)
    for doomed, watcher in pairs:
        wait_exit(doomed, 5)
        watcher.stop(timeout=5)
    told: dict[Any, list[Any]] = {}
    for who, message in events.drain():
        if message != "on_stop":
            told.setdefault(who, []).append(message)
    by_watcher = dict((w, d) for d, w in pairs)
    for who, messages in told.items():
        assert messages == [("EXIT", by_watcher[who], Exit.NORMAL)]


def test_an_actor_killed_before_it_ran_runs_no_on_start():
    # Regression: a loop actor killed before its first turn still ran on_start (and, being
    # killed, never on_stop: whatever on_start opened stayed open).
    events = Inbox()
    crashed = partner(actors.Actor, events).start()
    crashed.tell("crash")
    wait_exit(crashed, 5)

    class Opens(actors.LoopActor):
        def on_start(self) -> None:
            events.tell("on_start")

    def start_and_link() -> Any:
        ref = Opens.start()  # on the loop thread: its first turn comes after this callback
        link(crashed, ref)  # crashed ended abnormally: ref is killed at once
        return ref

    done = Inbox()
    actors.call_on_loop(lambda: done.tell(start_and_link()))
    ref = done.receive(timeout=5)
    assert isinstance(wait_exit(ref, 5).exception, LinkExit)
    assert events.drain() == [(crashed, "on_failure")]
