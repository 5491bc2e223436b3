"""A restart storm in a tree three deep, with names told and asked from many threads.

Counts every message: none handled twice, none out of its sender's order, none handled by
an incarnation after a later one of the same name handled anything, no sender told that no
incarnation will come (the tree restarts, it never goes away), no ask left unanswered.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import pykka
import pytest

import actors
import actors._names
from actors import Address, ChildSpec, Supervisor, wait_exit

NAMES = [f"w{i}" for i in range(6)]
SENDERS = 16
PER_SENDER = 1000


class Crash(Exception):
    pass


class Worker(actors.Actor):
    """Notes each ``(sender, seq)`` it handles, with its incarnation, in one shared log."""

    def __init__(self, name: str, log: list[tuple[str, str, int, int]], lock: Any) -> None:
        super().__init__()
        self.name = name
        self.log = log
        self.lock = lock

    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise Crash(self.name)
        sender, seq = message
        with self.lock:
            self.log.append((self.name, self.actor_urn, sender, seq))
        return seq


@pytest.mark.parametrize("shutdown", [5.0, "brutal_kill", 0.01])
def test_a_three_deep_restart_storm_loses_orders_and_duplicates_nothing(shutdown):
    log: list[tuple[str, str, int, int]] = []
    lock = threading.Lock()

    def worker(name: str) -> ChildSpec:
        return ChildSpec(name, lambda: Worker.start(name, log, lock), name=name, shutdown=shutdown)

    def leaf(i: int) -> Any:
        specs = [worker(NAMES[2 * i]), worker(NAMES[2 * i + 1])]
        return lambda: Supervisor.start(
            specs, strategy="one_for_all", max_restarts=2, max_seconds=1
        )

    def mid(i: int) -> Any:
        spec = ChildSpec(f"leaf{i}", leaf(i), type="supervisor")
        return lambda: Supervisor.start(
            [spec], strategy="rest_for_one", max_restarts=2, max_seconds=1
        )

    root = Supervisor.start(
        [ChildSpec(f"mid{i}", mid(i), type="supervisor") for i in range(3)],
        strategy="one_for_all",
        max_restarts=None,
    )
    outcomes: Counter[str] = Counter()
    sent: dict[tuple[int, str], list[int]] = {}
    done = threading.Event()

    def send(k: int) -> None:
        rnd = random.Random(k)
        seqs: Counter[str] = Counter()
        for _ in range(PER_SENDER):
            name = rnd.choice(NAMES)
            seqs[name] += 1
            seq = seqs[name]
            sent.setdefault((k, name), []).append(seq)
            try:
                if rnd.random() < 0.3:
                    assert Address(name).ask((k, seq), timeout=10) == seq
                    outcomes["answered"] += 1
                else:
                    Address(name).tell((k, seq))
                    outcomes["told"] += 1
            except pykka.ActorDeadError as exc:  # NoSuchName is one too: counted apart
                outcomes[type(exc).__name__] += 1
            except Exception as exc:
                outcomes[f"{type(exc).__name__}: {exc}"] += 1

    def crash() -> None:
        rnd = random.Random(99)
        while not done.wait(rnd.random() * 0.01):
            try:
                Address(rnd.choice(NAMES)).tell("crash")
            except Exception as exc:
                outcomes[f"crash: {type(exc).__name__}: {exc}"] += 1

    senders = [threading.Thread(target=send, args=(k,)) for k in range(SENDERS)]
    crasher = threading.Thread(target=crash)
    for thread in [*senders, crasher]:
        thread.start()
    for thread in senders:
        thread.join(timeout=60)
    done.set()
    crasher.join(timeout=10)
    assert not [t for t in senders if t.is_alive()], "a sender hung"
    root.stop(timeout=30)
    assert wait_exit(root, 5).kind == "normal"

    # Only an ask queued in an incarnation that died may fail (ActorDeadError).
    assert set(outcomes) <= {"answered", "told", "ActorDeadError"}, outcomes
    handled: set[tuple[int, str, int]] = set()
    last: dict[tuple[int, str], int] = {}
    incarnations: dict[str, list[str]] = {}
    for name, urn, sender, seq in log:
        assert (sender, name, seq) not in handled, "a message was handled twice"
        handled.add((sender, name, seq))
        assert last.get((sender, name), 0) < seq, "a sender's order was not kept"
        last[(sender, name)] = seq
        seen = incarnations.setdefault(name, [])
        if urn not in seen:
            seen.append(urn)
        assert seen[-1] == urn, f"{name}: an earlier incarnation handled a message late"
    assert handled <= {(k, n, s) for (k, n), seqs in sent.items() for s in seqs}
    assert sum(len(s) for s in sent.values()) == SENDERS * PER_SENDER
    assert all(len(urns) > 2 for urns in incarnations.values()), "the storm was too weak"
    assert outcomes["answered"] > 0
    assert actors._names._names == {}
