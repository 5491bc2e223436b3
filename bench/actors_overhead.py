"""Overhead of actors.Actor and actors.LoopActor against raw pykka.ThreadingActor.

Run: .venv/bin/python bench/actors_overhead.py
Sends from a plain (main) thread. Prints the best of several runs for each measurement.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import pykka

import actors

RUNS = 5
TELLS = 50_000
ASKS = 5_000
STARTS = 10_000


def raw(base: type[pykka.Actor]) -> type[pykka.Actor]:
    class Counter(base):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def on_receive(self, message: Any) -> Any:
            self.count += 1
            return message

    return Counter


def best(measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(RUNS))


def tell_rate(cls: type[pykka.Actor]) -> float:
    ref = cls.start()
    ref.ask("warm")
    started = time.perf_counter()
    for i in range(TELLS):
        ref.tell(i)
    ref.ask("sync")
    elapsed = time.perf_counter() - started
    ref.stop()
    return elapsed / TELLS


def ask_round_trip(cls: type[pykka.Actor]) -> float:
    ref = cls.start()
    ref.ask("warm")
    started = time.perf_counter()
    for i in range(ASKS):
        ref.ask(i)
    elapsed = time.perf_counter() - started
    ref.stop()
    return elapsed / ASKS


def start_stop(cls: type[pykka.Actor], count: int) -> tuple[float, float]:
    started = time.perf_counter()
    refs = [cls.start() for _ in range(count)]
    started_all = time.perf_counter()
    for stop in [ref.stop(block=False) for ref in refs]:
        stop.get()
    stopped_all = time.perf_counter()
    return (started_all - started) / count, (stopped_all - started_all) / count


class Player(actors.LoopActor):
    def __init__(self, done: actors.Inbox) -> None:
        super().__init__()
        self.done = done

    def on_receive(self, message: Any) -> None:
        other, count = message
        if count == 0:
            self.done.tell(True)
        else:
            other.tell((self.actor_ref, count - 1))


def loop_ping_pong() -> float:
    """Seconds per message between two LoopActors (all on the loop thread)."""
    done = actors.Inbox()
    ping, pong = Player.start(done), Player.start(done)
    started = time.perf_counter()
    ping.tell((pong, TELLS))
    done.receive(timeout=60)
    elapsed = time.perf_counter() - started
    ping.stop()
    pong.stop()
    return elapsed / TELLS


def main() -> None:
    actors._loop.event_loop()
    classes = {
        "pykka.ThreadingActor": raw(pykka.ThreadingActor),
        "actors.Actor": raw(actors.Actor),
        "actors.LoopActor": raw(actors.LoopActor),
    }
    print(f"{'class':<22} {'tell/s':>10} {'ask RTT us':>11} {'start us':>9} {'stop us':>8}")
    for name, cls in classes.items():
        tell = best(functools.partial(tell_rate, cls))
        ask = best(functools.partial(ask_round_trip, cls))
        count = STARTS if cls is classes["actors.LoopActor"] else 500
        start, stop = min(start_stop(cls, count) for _ in range(3))
        row = f"{name:<22} {1 / tell:>10,.0f} {ask * 1e6:>11.1f}"
        print(f"{row} {start * 1e6:>9.1f} {stop * 1e6:>8.1f}")
    print(f"LoopActor -> LoopActor on the loop: {1 / best(loop_ping_pong):,.0f} messages/s")


if __name__ == "__main__":
    main()
