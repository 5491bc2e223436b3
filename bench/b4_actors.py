"""B4: actor messaging through this project's layer against raw Pykka.

Each pair does the same work through ``actors`` and through plain Pykka, side by side: the two
run alternately, round after round, and the ratio is taken within each round (so a noisy
neighbour slows both); reported are the median ratio and each side's median.

- tell: 50,000 ``tell`` from the main thread to a counting actor, then one ``ask`` that
  confirms all were handled. `actors.Actor` and `actors.LoopActor` against
  ``pykka.ThreadingActor``.
- ask: 5,000 blocking ``ask`` round trips, the same three classes.
- Delivery: 50,000 ``Delivery.on_chunk(chunk)`` to a Pykka actor (what the stream source calls
  per chunk) against telling it ``(ref, ("data", chunk))`` directly.
- Inbox: a sender thread tells 50,000 messages, the main thread ``receive``\\ s them from an
  `actors.Inbox`; against the main thread telling 50,000 to a Pykka actor that handles them.

    .venv/bin/python -m bench.b4_actors [--rounds 7]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka

import actors
from actors import Delivery, Ref
from bench._common import median

TELLS = 50_000
ASKS = 5_000


def _counter(base: type[Any]) -> type[Any]:
    class Counter(base):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def on_receive(self, message: Any) -> Any:
            self.count += 1
            return message

    return Counter


PykkaCounter = _counter(pykka.ThreadingActor)
ActorCounter = _counter(actors.Actor)
LoopCounter = _counter(actors.LoopActor)


def tell_seconds(cls: type[Any]) -> float:
    """Seconds per message: TELLS tells, confirmed by one ask."""
    ref = cls.start()
    ref.ask("warm")
    started = time.perf_counter()
    for i in range(TELLS):
        ref.tell(i)
    ref.ask("sync")
    elapsed = time.perf_counter() - started
    ref.stop()
    return elapsed / TELLS


def ask_seconds(cls: type[Any]) -> float:
    """Seconds per blocking ask round trip."""
    ref = cls.start()
    ref.ask("warm")
    started = time.perf_counter()
    for i in range(ASKS):
        ref.ask(i)
    elapsed = time.perf_counter() - started
    ref.stop()
    return elapsed / ASKS


CHUNK = {"model": "llama3.2", "created_at": "2025-01-01T00:00:00Z", "response": "x", "done": False}


def delivery_seconds() -> float:
    """Seconds per chunk told through `Delivery.on_chunk`."""
    ref = PykkaCounter.start()
    ref.ask("warm")
    delivery = Delivery(Ref(), ref)
    on_chunk = delivery.on_chunk
    started = time.perf_counter()
    for _ in range(TELLS):
        on_chunk(CHUNK)
    ref.ask("sync")
    elapsed = time.perf_counter() - started
    ref.stop()
    return elapsed / TELLS


def raw_data_seconds() -> float:
    """Seconds per chunk told as ``(ref, ("data", chunk))`` straight to the Pykka actor."""
    ref = PykkaCounter.start()
    ref.ask("warm")
    stream = Ref()
    tell = ref.tell
    started = time.perf_counter()
    for _ in range(TELLS):
        tell((stream, ("data", CHUNK)))
    ref.ask("sync")
    elapsed = time.perf_counter() - started
    ref.stop()
    return elapsed / TELLS


def inbox_seconds() -> float:
    """Seconds per message from a sender thread to the main thread through an `Inbox`."""
    inbox = actors.Inbox()

    def send() -> None:
        tell = inbox.tell
        for i in range(TELLS):
            tell(i)

    sender = threading.Thread(target=send)
    started = time.perf_counter()
    sender.start()
    receive = inbox.receive
    for _ in range(TELLS):
        receive(timeout=10.0)
    elapsed = time.perf_counter() - started
    sender.join()
    return elapsed / TELLS


@dataclass(frozen=True)
class Pair:
    name: str
    ours: Callable[[], float]
    raw: Callable[[], float]
    unit: str
    """``"msg/s"`` (higher is better) or ``"us"`` (a latency: lower is better)."""


PAIRS = [
    Pair("tell: actors.Actor vs pykka.ThreadingActor", lambda: tell_seconds(ActorCounter),
         lambda: tell_seconds(PykkaCounter), "msg/s"),
    Pair("tell: actors.LoopActor vs pykka.ThreadingActor", lambda: tell_seconds(LoopCounter),
         lambda: tell_seconds(PykkaCounter), "msg/s"),
    Pair("ask: actors.Actor vs pykka.ThreadingActor", lambda: ask_seconds(ActorCounter),
         lambda: ask_seconds(PykkaCounter), "us"),
    Pair("ask: actors.LoopActor vs pykka.ThreadingActor", lambda: ask_seconds(LoopCounter),
         lambda: ask_seconds(PykkaCounter), "us"),
    Pair("Delivery.on_chunk vs tell((ref, ('data', chunk)))", delivery_seconds,
         raw_data_seconds, "msg/s"),
    Pair("Inbox tell+receive vs pykka tell+handle", inbox_seconds,
         lambda: tell_seconds(PykkaCounter), "msg/s"),
]  # fmt: skip


def run(rounds: int = 7) -> dict[str, Any]:
    """Every pair, ``rounds`` times; per pair the median ratio (ours relative to raw Pykka)."""
    rows = []
    for pair in PAIRS:
        pair.ours(), pair.raw()  # warm up
        ours, raw, ratios = [], [], []
        for round_ in range(rounds):
            gc.collect()
            first, second = (pair.ours, pair.raw) if round_ % 2 == 0 else (pair.raw, pair.ours)
            a, b = first(), second()
            mine, theirs = (a, b) if round_ % 2 == 0 else (b, a)
            ours.append(mine)
            raw.append(theirs)
            # "speed" relative to raw Pykka: > 1 is faster, whatever the unit
            ratios.append(theirs / mine)
        rows.append(
            {
                "pair": pair.name,
                "unit": pair.unit,
                "ours": _shown(median(ours), pair.unit),
                "raw": _shown(median(raw), pair.unit),
                "speed_ratio": median(ratios),
                "worst_ratio": min(ratios),
            }
        )
    return {"rounds": rounds, "tells": TELLS, "asks": ASKS, "rows": rows}


def _shown(seconds: float, unit: str) -> float:
    return 1 / seconds if unit == "msg/s" else seconds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line")
    parser.add_argument("--pin", type=int, help="run on this one CPU only")
    args = parser.parse_args()
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})
    result = run(args.rounds)
    result["pinned"] = args.pin is not None
    if args.json:
        print(json.dumps(result))
        return
    for row in result["rows"]:
        print(
            f"{row['pair']:<52} ours {row['ours']:>11,.1f} raw {row['raw']:>11,.1f} "
            f"{row['unit']:<5} speed {row['speed_ratio']:.2f}x (worst {row['worst_ratio']:.2f}x)"
        )


if __name__ == "__main__":
    main()
