"""Killing an actor (brutal_kill, a shutdown overrun, a link) racing its own turns."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import pykka
import pytest

import actors
from actors import Exit, wait_exit
from actors._actor import kill

KINDS = [actors.Actor, actors.LoopActor]


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads as often as CPython can, to widen the races under test."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


@pytest.mark.parametrize("base", KINDS, ids=lambda b: b.__name__)
def test_a_kill_racing_the_actors_turn_ends_it_and_answers_each_ask_once(base, fast_switching):
    # Regression: the kill queued its wake-up before it set the flag that ends the actor's
    # loop; an actor that took the wake-up in between went back to sleep and never ended
    # (its monitors, links and wait_exit waited forever: 19 of 300 loop actors). And a
    # loop actor could take a message while the kill was refusing it: the ask was answered
    # twice, the second time raising queue.Full in the killing thread.
    class Echo(base):  # type: ignore[valid-type,misc]
        def on_receive(self, message: Any) -> Any:
            return message

    for _ in range(300):
        ref = Echo.start()
        futures = [ref.ask(n, block=False) for n in range(30)]
        assert kill(ref) is True
        assert wait_exit(ref, 5) is Exit.KILLED
        for n, future in enumerate(futures):
            with contextlib.suppress(pykka.ActorDeadError):  # refused by the kill
                assert future.get(timeout=5) == n  # handled before the kill took the rest
