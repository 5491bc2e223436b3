"""DynamicSupervisor.start_child does not wait for each child's on_start: it goes on with its
next messages while children start, and answers each call once that child has started."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

import actors
from actors import ChildSpec, DynamicSupervisor, Exit, StartChildError, call_on_loop, wait_exit


class Gate:
    """Holds each child's on_start until `open` (bounded waits)."""

    def __init__(self) -> None:
        self.inside = 0
        self.entered = threading.Condition()
        self.opened = threading.Event()

    def enter(self) -> None:
        with self.entered:
            self.inside += 1
            self.entered.notify_all()
        assert self.opened.wait(10), "the test never opened the gate"

    def wait_inside(self, count: int) -> bool:
        with self.entered:
            return self.entered.wait_for(lambda: self.inside >= count, timeout=10)


def gated(gate: Gate, fail: bool = False) -> type[actors.Actor]:
    class Gated(actors.Actor):
        def on_start(self) -> None:
            gate.enter()
            if fail:
                raise RuntimeError("on_start failed (on purpose)")

        def on_receive(self, message: Any) -> Any:
            return message

    return Gated


def test_children_start_concurrently_and_each_call_is_answered_once_its_child_started():
    gate = Gate()
    cls = gated(gate)
    sup = DynamicSupervisor.start()
    proxy = sup.proxy()
    futures = [proxy.start_child(ChildSpec(i, cls.start)) for i in range(20)]
    # All 20 are inside on_start at once: no start waited for the one before.
    assert gate.wait_inside(20)
    assert proxy.count_children().get(timeout=5)["specs"] == 20  # the supervisor answers
    with pytest.raises(pykka.Timeout):
        futures[0].get(timeout=0.05)  # but no start_child is answered before its on_start
    gate.opened.set()
    refs = pykka.get_all(futures, timeout=10)
    assert [ref.ask("hi", timeout=5) for ref in refs] == ["hi"] * 20
    assert [child for _id, child, _type in proxy.which_children().get(timeout=5)] == refs
    sup.stop(timeout=10)


def test_a_child_whose_on_start_fails_is_a_failed_start_not_an_exit():
    gate = Gate()
    ok_cls, bad_cls = gated(gate), gated(gate, fail=True)
    hooked: list[tuple[Exit, bool]] = []
    sup = DynamicSupervisor.start()
    proxy = sup.proxy()
    bad = proxy.start_child(
        ChildSpec("bad", bad_cls.start, name="bad", on_exit=lambda e, r: hooked.append((e, r)))
    )
    good = proxy.start_child(ChildSpec("good", ok_cls.start))
    assert gate.wait_inside(2)
    gate.opened.set()
    with pytest.raises(StartChildError) as caught:
        bad.get(timeout=10)
    assert caught.value.child_id == "bad"
    assert "on purpose" in str(caught.value.__cause__)
    ref = good.get(timeout=10)
    # Not restarted (permanent though it is), not kept, its name released, no on_exit call.
    assert [c for c, *_ in proxy.which_children().get(timeout=5)] == ["good"]
    assert actors.whereis("bad") is None
    assert hooked == []
    # The name may be taken again.
    gate2 = Gate()
    gate2.opened.set()
    again = proxy.start_child(ChildSpec("bad", gated(gate2).start, name="bad")).get(timeout=10)
    assert actors.whereis("bad") is again
    sup.stop(timeout=10)
    assert wait_exit(ref, 5) is Exit.SHUTDOWN


def test_terminating_a_child_still_starting_answers_its_start():
    gate = Gate()
    sup = DynamicSupervisor.start()
    proxy = sup.proxy()
    starting = proxy.start_child(ChildSpec("slow", gated(gate, fail=True).start))
    assert gate.wait_inside(1)
    [(_id, ref, _type)] = proxy.which_children().get(timeout=5)
    terminated = proxy.terminate_child(ref)
    gate.opened.set()
    terminated.get(timeout=10)
    with pytest.raises(StartChildError):
        starting.get(timeout=10)
    assert proxy.which_children().get(timeout=5) == []
    sup.stop(timeout=10)


def test_stopping_the_supervisor_answers_the_starts_still_pending():
    gate = Gate()
    sup = DynamicSupervisor.start()
    proxy = sup.proxy()
    starting = proxy.start_child(ChildSpec("slow", gated(gate, fail=True).start))
    assert gate.wait_inside(1)
    stopped = sup.stop(block=False)
    gate.opened.set()
    assert stopped.get(timeout=10) is True
    with pytest.raises((StartChildError, pykka.ActorDeadError)):
        starting.get(timeout=10)


def test_loop_children_are_all_created_while_the_loop_is_busy():
    """Starting a loop child needs no loop turn from the supervisor: while the loop thread
    is held up, the supervisor creates every child; they start once the loop runs again."""
    release = threading.Event()
    held = threading.Event()

    def hold_the_loop() -> None:
        held.set()
        release.wait(10)

    class Worker(actors.LoopActor):
        def on_receive(self, message: Any) -> Any:
            return message

    sup = DynamicSupervisor.start()
    proxy = sup.proxy()
    call_on_loop(hold_the_loop)
    try:
        assert held.wait(5)
        futures = [proxy.start_child(ChildSpec(i, Worker.start)) for i in range(2_000)]
        counts = proxy.count_children().get(timeout=10)
    finally:
        release.set()
    assert counts["specs"] == 2_000
    refs = pykka.get_all(futures, timeout=30)
    assert len({ref.actor_urn for ref in refs}) == 2_000
    sup.stop(timeout=30)
