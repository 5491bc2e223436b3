"""monitor/demonitor: one DOWN per monitor, once the target has fully ended."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

import actors
from actors import Down, Exit, Inbox, Ref, demonitor, exit_reason, monitor, wait_exit

KINDS = [actors.Actor, actors.LoopActor]


@pytest.fixture(params=KINDS, ids=lambda base: base.__name__)
def kind(request: pytest.FixtureRequest) -> type[pykka.Actor]:
    return request.param


def test_one_down_with_ref_actor_and_reason(kind):
    inbox = Inbox()
    ref = kind.start()
    mon = monitor(ref, inbox)
    assert isinstance(mon, Ref)
    assert len(inbox) == 0
    ref.stop(timeout=5)
    down = inbox.receive(timeout=5)
    assert down == Down(ref=mon, actor=ref, reason=Exit.NORMAL)
    assert down.actor is ref
    wait_exit(ref, 5)
    with pytest.raises(TimeoutError):
        inbox.receive(timeout=0.1)


def test_monitoring_an_ended_actor_tells_at_once_with_its_reason(kind):
    class Crashing(kind):  # type: ignore[valid-type,misc]
        def on_receive(self, message: Any) -> None:
            raise message

    ref = Crashing.start()
    error = ValueError("x")
    ref.tell(error)
    wait_exit(ref, 5)
    inbox = Inbox()
    mon = monitor(ref, inbox)
    assert inbox.drain() == [Down(mon, ref, Exit.error(error))]


def test_many_independent_monitors(kind):
    ref = kind.start()
    shared = Inbox()
    own = [Inbox() for _ in range(20)]
    shared_refs = {monitor(ref, shared) for _ in range(30)}
    own_refs = [monitor(ref, inbox) for inbox in own]
    assert demonitor(own_refs[0]) is True
    ref.stop(timeout=5)
    wait_exit(ref, 5)
    assert {down.ref for down in shared.drain()} == shared_refs
    assert own[0].drain() == []
    for inbox, mon in zip(own[1:], own_refs[1:], strict=True):
        assert inbox.drain() == [Down(mon, ref, Exit.NORMAL)]


def test_demonitor(kind):
    inbox = Inbox()
    ref = kind.start()
    cancelled = monitor(ref, inbox)
    kept = monitor(ref, inbox)
    assert demonitor(cancelled) is True
    assert demonitor(cancelled) is False
    ref.stop(timeout=5)
    wait_exit(ref, 5)
    assert [down.ref for down in inbox.drain()] == [kept]
    assert demonitor(kept) is False  # its DOWN was already told
    assert demonitor(Ref()) is False  # not a monitor


def test_demonitor_racing_the_end_never_tells_after_it_returns(kind):
    for _ in range(200):
        inbox = Inbox()
        ref = kind.start()
        mon = monitor(ref, inbox)
        ref.stop(block=False)
        if demonitor(mon):
            wait_exit(ref, 5)
            assert len(inbox) == 0
        else:
            assert inbox.drain() == [Down(mon, ref, Exit.NORMAL)]
        wait_exit(ref, 5)


def test_an_actor_watcher_receives_a_matchable_down(kind):
    class Watcher(actors.Actor):
        def __init__(self, seen: Inbox) -> None:
            super().__init__()
            self.seen = seen

        def on_receive(self, message: Any) -> None:
            match message:
                case Down(reason=Exit(kind="error", exception=exc), actor=actor):
                    self.seen.tell(("crashed", actor, exc))

    seen = Inbox()

    class Crashing(kind):  # type: ignore[valid-type,misc]
        def on_receive(self, message: Any) -> None:
            raise message

    watcher = Watcher.start(seen)
    target = Crashing.start()
    monitor(target, watcher)
    error = ValueError("crash")
    target.tell(error)
    assert seen.receive(timeout=5) == ("crashed", target, error)
    watcher.stop(timeout=5)


def test_a_loop_actor_watcher(kind):
    class Watcher(actors.LoopActor):
        def __init__(self, seen: Inbox) -> None:
            super().__init__()
            self.seen = seen

        def on_receive(self, message: Any) -> None:
            self.seen.tell(message)

    seen = Inbox()
    watcher = Watcher.start(seen)
    target = kind.start()
    mon = monitor(target, watcher)
    target.stop(timeout=5)
    assert seen.receive(timeout=5) == Down(mon, target, Exit.NORMAL)
    watcher.stop(timeout=5)


def test_a_dead_watcher_is_dropped_silently(kind):
    class Refusing:
        def tell(self, message: Any) -> None:
            raise RuntimeError("gone")

    dead = pykka.ThreadingActor.start()
    dead.stop(timeout=5)
    alive = Inbox()
    target = kind.start()
    monitor(target, dead)
    monitor(target, Refusing())
    mon = monitor(target, alive)
    target.stop(timeout=5)
    assert wait_exit(target, 5) is Exit.NORMAL
    assert alive.drain() == [Down(mon, target, Exit.NORMAL)]


class TestPlainPykkaTargets:
    def test_down_is_noproc_soon_after_the_stop(self):
        inbox = Inbox()
        ref = pykka.ThreadingActor.start()
        mon = monitor(ref, inbox)
        assert exit_reason(ref) is None
        ref.stop(timeout=5)
        assert inbox.receive(timeout=2) == Down(mon, ref, Exit.NOPROC)
        assert exit_reason(ref) is Exit.NOPROC
        assert wait_exit(ref, 5) is Exit.NOPROC

    def test_already_dead_target(self):
        ref = pykka.ThreadingActor.start()
        ref.stop(timeout=5)
        inbox = Inbox()
        mon = monitor(ref, inbox)
        assert inbox.drain() == [Down(mon, ref, Exit.NOPROC)]

    def test_many_targets_share_one_sweep_and_no_thread(self):
        actors._loop.event_loop()
        refs = [pykka.ThreadingActor.start() for _ in range(20)]
        threads = threading.active_count()
        inbox = Inbox()
        mons = {monitor(ref, inbox): ref for ref in refs}
        cancelled = next(iter(mons))
        assert demonitor(cancelled) is True
        assert threading.active_count() == threads
        for ref in refs:
            ref.stop(timeout=5)
        downs = [inbox.receive(timeout=2) for _ in range(19)]
        assert {d.ref for d in downs} == set(mons) - {cancelled}
        assert all(d.actor is mons[d.ref] and d.reason is Exit.NOPROC for d in downs)
        with pytest.raises(TimeoutError):
            inbox.receive(timeout=0.2)

    def test_the_sweep_goes_on_while_targets_remain(self):
        inbox = Inbox()
        first, second = pykka.ThreadingActor.start(), pykka.ThreadingActor.start()
        monitor(first, inbox)
        monitor(second, inbox)
        first.stop(timeout=5)
        assert inbox.receive(timeout=2).actor is first  # a sweep has run...
        second.stop(timeout=5)
        assert inbox.receive(timeout=2).actor is second  # ...and another one after it

    def test_wait_exit_times_out(self):
        ref = pykka.ThreadingActor.start()
        with pytest.raises(TimeoutError):
            wait_exit(ref, 0.05)
        ref.stop(timeout=5)


class _Checker:
    """A watcher that looks up the exit reason the moment its DOWN is told."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def tell(self, message: Any) -> None:
        self.seen.append(exit_reason(message.actor))


def test_the_exit_reason_is_recorded_before_any_down_is_told(kind):
    # Regression: monitors were told before the end was recorded, so a watcher that got
    # the DOWN could still read None from exit_reason.
    checker = _Checker()
    refs = [kind.start() for _ in range(200)]
    for ref in refs:
        for _ in range(10):
            monitor(ref, checker)
    for ref in refs:
        ref.stop()
    for ref in refs:
        wait_exit(ref, 5)
    assert len(checker.seen) == 2_000
    assert set(checker.seen) == {Exit.NORMAL}
