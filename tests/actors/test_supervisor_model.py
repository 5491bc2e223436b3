"""Model-based test: random operations on a real Supervisor against a model of OTP's rules.

Each example starts a `Supervisor` with a random strategy, intensity and children of random
restart types, applies a random sequence of operations (crash, normal stop, shutdown of a
child; ``terminate_child``, ``restart_child``, ``delete_child``), and after each one
compares the supervisor with a small pure-Python model: which children exist, which run,
which got a new incarnation, which calls fail how, and whether the supervisor gave up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pykka
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import actors
from actors import (
    ChildNotFound,
    ChildRunning,
    ChildSpec,
    ReachedMaxRestartIntensity,
    Supervisor,
    shutdown,
    wait_exit,
)

OPERATIONS = ["crash", "crash", "stop", "shutdown", "terminate", "restart", "delete"]
EXIT_KIND = {"crash": "error", "stop": "normal", "shutdown": "shutdown"}


@dataclass
class ModelChild:
    id: str
    restart: str
    running: bool = True


class Model:
    """OTP's supervisor rules, for a window long enough that every restart counts."""

    def __init__(self, restarts: list[str], strategy: str, max_restarts: int) -> None:
        self.children = [ModelChild(f"c{i}", r) for i, r in enumerate(restarts)]
        self.strategy = strategy
        self.max_restarts = max_restarts
        self.restarts = 0
        self.gave_up = False

    def find(self, child_id: str) -> ModelChild | None:
        return next((c for c in self.children if c.id == child_id), None)

    def exit(self, child: ModelChild, kind: str) -> set[str]:
        """``child`` ended with ``kind``; the ids that get a new incarnation."""
        if not (child.restart == "permanent" or (child.restart == "transient" and kind == "error")):
            if child.restart == "temporary":
                self.children.remove(child)
            else:
                child.running = False
            return set()
        self.restarts += 1
        if self.restarts > self.max_restarts:
            self.gave_up = True
            return set()
        index = self.children.index(child)
        if self.strategy == "one_for_one":
            group = [child]
        elif self.strategy == "one_for_all":
            group = list(self.children)
        else:
            group = self.children[index:]
        restarted = set()
        for member in group:
            if member is not child and member.restart == "temporary":
                self.children.remove(member)
            else:
                member.running = True
                restarted.add(member.id)
        return restarted

    def call(self, op: str, child_id: str) -> type[Exception] | None:
        """The API call ``op`` on ``child_id``: the error it raises, or None."""
        child = self.find(child_id)
        if child is None:
            return ChildNotFound
        if op == "terminate":
            if child.restart == "temporary":
                self.children.remove(child)
            child.running = False
            return None
        if child.running:
            return ChildRunning
        if op == "restart":
            child.running = True
        else:
            self.children.remove(child)
        return None


class Child(actors.Actor):
    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash")
        return message


class LoopChild(actors.LoopActor):
    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash")
        return message


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    size = draw(st.integers(3, 4))
    return {
        "restarts": draw(
            st.lists(
                st.sampled_from(["permanent", "transient", "temporary"]),
                min_size=size,
                max_size=size,
            )
        ),
        "kinds": draw(st.lists(st.sampled_from([Child, LoopChild]), min_size=size, max_size=size)),
        "strategy": draw(st.sampled_from(["one_for_one", "one_for_all", "rest_for_one"])),
        "max_restarts": draw(st.integers(0, 4)),
        "ops": draw(
            st.lists(st.tuples(st.sampled_from(OPERATIONS), st.integers(0, size - 1)), max_size=12)
        ),
    }


def listing(proxy: Any) -> list[tuple[str, Any]]:
    return [(cid, ref) for cid, ref, _t in proxy.which_children().get(timeout=5)]


@settings(max_examples=30, deadline=None)
@given(scenarios())
def test_supervisor_follows_the_model(scenario):
    model = Model(scenario["restarts"], scenario["strategy"], scenario["max_restarts"])
    specs = [
        ChildSpec(f"c{i}", kind.start, restart=restart)
        for i, (restart, kind) in enumerate(
            zip(scenario["restarts"], scenario["kinds"], strict=True)
        )
    ]
    sup = Supervisor.start(
        specs,
        strategy=scenario["strategy"],
        max_restarts=scenario["max_restarts"],
        max_seconds=600.0,
    )
    proxy = sup.proxy()
    seen: list[pykka.ActorRef[Any]] = []
    try:
        refs = dict(listing(proxy))
        seen.extend(refs.values())
        for op, index in scenario["ops"]:
            child_id = f"c{index}"
            restarted: set[str] = set()
            if op in EXIT_KIND:
                child = model.find(child_id)
                if child is None or not child.running:
                    continue
                ref = refs[child_id]
                if op == "crash":
                    ref.tell("crash")
                elif op == "stop":
                    ref.stop()
                else:
                    shutdown(ref, 5)
                assert wait_exit(ref, 5).kind == EXIT_KIND[op]
                restarted = model.exit(child, EXIT_KIND[op])
            else:
                expected = model.call(op, child_id)
                call = {
                    "terminate": proxy.terminate_child,
                    "restart": proxy.restart_child,
                    "delete": proxy.delete_child,
                }[op]
                if expected is None:
                    call(child_id).get(timeout=5)
                else:
                    with pytest.raises(expected) as info:
                        call(child_id).get(timeout=5)
                    assert type(info.value) is expected
                if op == "restart" and expected is None:
                    restarted = {child_id}
            if model.gave_up:
                reason = wait_exit(sup, 5)
                assert isinstance(reason.exception, ReachedMaxRestartIntensity)
                break
            now = listing(proxy)
            assert [cid for cid, _ref in now] == [c.id for c in model.children]
            for (cid, ref), child in zip(now, model.children, strict=True):
                if not child.running:
                    assert ref is None
                    continue
                assert isinstance(ref, pykka.ActorRef)
                assert ref.is_alive()
                assert (ref is not refs.get(cid)) == (cid in restarted)
            refs = dict(now)
            seen.extend(ref for ref in refs.values() if ref is not None)
    finally:
        if sup.is_alive():
            sup.stop(timeout=5)
    assert all(actors.exit_reason(ref) is not None for ref in seen)
    assert pykka.ActorRegistry.get_all() == []
