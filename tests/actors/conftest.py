"""Every test stops what it starts: no registered actor, name or new thread may outlive it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pykka
import pytest

import actors._names


@pytest.fixture(autouse=True)
def _no_leftover_actors() -> Iterator[None]:
    before = set(threading.enumerate())
    running = {ref.actor_urn for ref in pykka.ActorRegistry.get_all()}  # e.g. long-lived ones
    yield
    leftovers = [r for r in pykka.ActorRegistry.get_all() if r.actor_urn not in running]
    for ref in leftovers:
        ref.stop(block=False)
    for thread in set(threading.enumerate()) - before:
        if not thread.name.startswith("actors-loop"):
            thread.join(timeout=5.0)
    assert leftovers == [], "the test left actors running"
    assert actors._names._names == {}, "the test left names registered"
    alive = [t for t in set(threading.enumerate()) - before if not t.name.startswith("actors-loop")]
    assert alive == [], "the test left threads running"
