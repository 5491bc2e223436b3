"""DynamicSupervisor: children on demand, many of them, max_children, terminate by ref."""

from __future__ import annotations

import time
from typing import Any

import pykka
import pytest

import actors
from actors import (
    ChildNotFound,
    ChildSpec,
    DynamicSupervisor,
    Exit,
    Inbox,
    MaxChildrenReached,
    ReachedMaxRestartIntensity,
    StartChildError,
    Supervisor,
    wait_exit,
)


class Crash(Exception):
    pass


class LoopWorker(actors.LoopActor):
    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise Crash
        if message == "quit":
            self.stop()
        return message


class ThreadWorker(actors.Actor):
    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise Crash
        return message


def loop_spec(child_id: Any = "w", **options: Any) -> ChildSpec:
    return ChildSpec(child_id, LoopWorker.start, **options)


def crash(ref: pykka.ActorRef[Any]) -> None:
    ref.tell("crash")
    wait_exit(ref, 5)


def test_starts_empty_and_adds_children_on_demand():
    sup = DynamicSupervisor.start()
    proxy = sup.proxy()
    assert proxy.which_children().get(timeout=5) == []
    a = proxy.start_child(loop_spec("a")).get(timeout=5)
    b = proxy.start_child(ChildSpec("b", ThreadWorker.start)).get(timeout=5)
    assert a.ask("hi", timeout=5) == "hi"
    assert proxy.which_children().get(timeout=5) == [("a", a, "worker"), ("b", b, "worker")]
    assert proxy.count_children().get(timeout=5) == {
        "specs": 2,
        "active": 2,
        "supervisors": 0,
        "workers": 2,
    }
    sup.stop(timeout=5)
    assert wait_exit(a, 5) is Exit.SHUTDOWN
    assert wait_exit(b, 5) is Exit.SHUTDOWN


def test_a_thousand_loop_actor_children_start_and_stop_quickly():
    sup = DynamicSupervisor.start()
    proxy = sup.proxy()
    started = time.monotonic()
    futures = [proxy.start_child(loop_spec(i)) for i in range(1000)]
    refs = pykka.get_all(futures, timeout=30)
    start_time = time.monotonic() - started
    assert len({ref.actor_urn for ref in refs}) == 1000
    assert proxy.count_children().get(timeout=5)["active"] == 1000
    stopping = time.monotonic()
    assert sup.stop(timeout=30) is True
    stop_time = time.monotonic() - stopping
    assert all(actors.exit_reason(ref) is Exit.SHUTDOWN for ref in refs)
    # Generous bounds for a loaded 2-core machine; typically ~0.2 s and ~0.1 s.
    assert start_time < 10
    assert stop_time < 10


def test_children_that_end_without_restart_are_removed():
    sup = DynamicSupervisor.start()
    proxy = sup.proxy()
    refs = [proxy.start_child(loop_spec(i, restart="transient")).get(timeout=5) for i in range(50)]
    for ref in refs:
        ref.tell("quit")
    for ref in refs:
        assert wait_exit(ref, 5) is Exit.NORMAL
    assert proxy.which_children().get(timeout=5) == []
    sup.stop(timeout=5)


def test_max_children():
    sup = DynamicSupervisor.start(max_children=2)
    proxy = sup.proxy()
    a = proxy.start_child(loop_spec()).get(timeout=5)
    proxy.start_child(loop_spec()).get(timeout=5)
    with pytest.raises(MaxChildrenReached):
        proxy.start_child(loop_spec()).get(timeout=5)
    proxy.terminate_child(a).get(timeout=5)
    proxy.start_child(loop_spec()).get(timeout=5)
    sup.stop(timeout=5)


def test_restarts_and_terminate_child_by_ref():
    sup = DynamicSupervisor.start()
    proxy = sup.proxy()
    first = proxy.start_child(loop_spec()).get(timeout=5)
    crash(first)
    [(_id, second, _type)] = proxy.which_children().get(timeout=5)
    assert second is not first
    assert second.ask("again", timeout=5) == "again"
    with pytest.raises(ChildNotFound):
        proxy.terminate_child(first).get(timeout=5)
    proxy.terminate_child(second).get(timeout=5)
    assert wait_exit(second, 5) is Exit.SHUTDOWN
    assert proxy.which_children().get(timeout=5) == []
    with pytest.raises(ChildNotFound):
        proxy.terminate_child(second).get(timeout=5)
    sup.stop(timeout=5)


def test_terminate_child_during_a_backoff_takes_the_last_incarnation():
    sup = DynamicSupervisor.start(backoff=actors.Backoff(min=30.0, max=30.0))
    proxy = sup.proxy()
    ref = proxy.start_child(loop_spec()).get(timeout=5)
    crash(ref)
    assert proxy.which_children().get(timeout=5) == [("w", "restarting", "worker")]
    proxy.terminate_child(ref).get(timeout=5)
    assert proxy.which_children().get(timeout=5) == []
    sup.stop(timeout=5)


def test_start_child_failure():
    class Fails(actors.LoopActor):
        def on_start(self) -> None:
            raise Crash("no")

    sup = DynamicSupervisor.start()
    proxy = sup.proxy()
    with pytest.raises(StartChildError, match="'bad'"):
        proxy.start_child(ChildSpec("bad", Fails.start)).get(timeout=5)
    assert proxy.which_children().get(timeout=5) == []
    sup.stop(timeout=5)


def test_intensity_gives_up_and_stops_all_children():
    sup = DynamicSupervisor.start(max_restarts=1, max_seconds=10.0)
    proxy = sup.proxy()
    refs = [proxy.start_child(loop_spec(i)).get(timeout=5) for i in range(5)]
    crash(refs[0])
    crash(refs[1])
    reason = wait_exit(sup, 5)
    assert isinstance(reason.exception, ReachedMaxRestartIntensity)
    assert all(actors.exit_reason(ref) is not None for ref in refs[2:])


def test_a_supervisor_child_escalates_to_a_dynamic_supervisor():
    def start_inner() -> Any:
        return Supervisor.start([ChildSpec("w", ThreadWorker.start)], max_restarts=0)

    sup = DynamicSupervisor.start()
    proxy = sup.proxy()
    inner = proxy.start_child(ChildSpec("inner", start_inner, type="supervisor")).get(timeout=5)
    worker = inner.proxy().which_children().get(timeout=5)[0][1]
    crash(worker)
    assert isinstance(wait_exit(inner, 5).exception, ReachedMaxRestartIntensity)
    [(_id, new_inner, kind)] = proxy.which_children().get(timeout=5)
    assert kind == "supervisor"
    assert new_inner is not inner
    assert proxy.count_children().get(timeout=5)["supervisors"] == 1
    sup.stop(timeout=5)


def test_stopping_waits_for_children_concurrently():
    events = Inbox()

    class Slow(actors.Actor):
        def on_stop(self) -> None:
            events.tell(("stopping", time.monotonic()))
            time.sleep(0.2)  # a slow cleanup: the work under test, not a wait

    sup = DynamicSupervisor.start()
    proxy = sup.proxy()
    for i in range(5):
        proxy.start_child(ChildSpec(i, Slow.start)).get(timeout=5)
    started = time.monotonic()
    sup.stop(timeout=10)
    assert time.monotonic() - started < 0.2 * 5 * 0.8  # overlapped, not one after another
    assert len(events.drain()) == 5


def test_invalid_arguments():
    with pytest.raises(ValueError, match="one_for_one"):
        DynamicSupervisor.start(strategy="one_for_all")
    with pytest.raises(ValueError, match="max_children"):
        DynamicSupervisor.start(max_children=-1)
    with pytest.raises(TypeError, match="Backoff"):
        DynamicSupervisor.start(backoff=1.0)
    sup = DynamicSupervisor.start()
    with pytest.raises(TypeError):
        sup.proxy().start_child("not a spec").get(timeout=5)
    sup.stop(timeout=5)
