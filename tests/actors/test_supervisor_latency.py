"""Restart latency: a crash until the next incarnation has answered an ask (no backoff).

Run ``.venv/bin/pytest tests/actors/test_supervisor_latency.py -s`` to see the numbers.
"""

from __future__ import annotations

import logging
import statistics
import time
from typing import Any

import pykka
import pytest

import actors
from actors import Address, ChildSpec, DynamicSupervisor, Supervisor, wait_exit, whereis

CYCLES = 200
TARGET_P50 = 0.002


class ThreadChild(actors.Actor):
    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash")
        return message


class LoopChild(actors.LoopActor):
    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash")
        return message


def restart_latencies(name: str) -> list[float]:
    """Seconds from telling the crash until the new incarnation answered, per cycle."""
    address = Address(name)
    latencies = []
    for _ in range(CYCLES):
        ref = whereis(name)
        assert ref is not None
        started = time.perf_counter()
        ref.tell("crash")
        wait_exit(ref, 5)  # so that the ask cannot land in the dying incarnation
        assert address.ask("ping", timeout=5) == "ping"
        latencies.append(time.perf_counter() - started)
    return latencies


def report(label: str, latencies: list[float]) -> float:
    cuts = statistics.quantiles(latencies, n=100)
    p50, p99 = statistics.median(latencies), cuts[98]
    print(f"\n{label}: p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms, n={len(latencies)}")
    return p50


@pytest.fixture(autouse=True)
def _quiet_crash_logs(caplog: pytest.LogCaptureFixture) -> None:
    # Pykka logs every crash with its traceback; that is not what is measured here.
    caplog.set_level(logging.CRITICAL, logger="pykka")


@pytest.mark.parametrize("child", [ThreadChild, LoopChild], ids=["Actor", "LoopActor"])
def test_supervisor_restart_latency(child):
    spec = ChildSpec("c", child.start, name="latency")
    sup = Supervisor.start([spec], max_restarts=None)
    p50 = report(f"Supervisor, {child.__name__} child", restart_latencies("latency"))
    sup.stop(timeout=5)
    assert p50 < TARGET_P50


def test_dynamic_supervisor_restart_latency():
    sup = DynamicSupervisor.start(max_restarts=None)
    sup.proxy().start_child(ChildSpec("c", LoopChild.start, name="latency")).get(timeout=5)
    p50 = report("DynamicSupervisor, LoopChild child", restart_latencies("latency"))
    sup.stop(timeout=5)
    assert p50 < TARGET_P50
    assert pykka.ActorRegistry.get_all() == []
