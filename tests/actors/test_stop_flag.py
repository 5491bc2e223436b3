"""StopFlag: our actors' ``actor_stopped``, an Event that makes its condition only on a wait."""

from __future__ import annotations

import threading

import actors
from actors._actor import StopFlag


def test_it_is_an_event_set_once_the_actor_stops_and_makes_no_condition_unless_waited():
    ref = actors.LoopActor.start()
    flag = ref.actor_stopped
    assert isinstance(flag, StopFlag)
    assert isinstance(flag, threading.Event)
    assert ref.is_alive()
    assert flag._cond is None  # nobody waited: no condition, lock or deque for the collector
    ref.stop(timeout=5)
    assert flag.is_set()
    assert not ref.is_alive()
    assert flag.wait(0) is True
    assert flag._cond is None


def test_waiters_wake_when_it_is_set_and_time_out_otherwise():
    flag = StopFlag()
    assert flag.wait(0.01) is False
    woken: list[bool] = []
    waiters = [threading.Thread(target=lambda: woken.append(flag.wait(10))) for _ in range(20)]
    for waiter in waiters:
        waiter.start()
    flag.set()
    for waiter in waiters:
        waiter.join(10)
    assert woken == [True] * 20
    flag.clear()
    assert not flag.is_set()
    assert flag.wait(0.01) is False


def test_a_set_racing_with_new_waiters_is_never_missed():
    for _ in range(300):
        flag = StopFlag()
        results: list[bool] = []
        waiter = threading.Thread(target=lambda f=flag, r=results: r.append(f.wait(10)))
        waiter.start()
        flag.set()
        waiter.join(10)
        assert results == [True]
