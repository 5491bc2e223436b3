"""Starts of supervised streams: how fast ``stream=recipient`` hands streams to the supervisor.

Each round makes 10,000 ``stream_to`` calls (what ``client.chat(..., stream=recipient)`` does after
checking its parameters) from the main thread, with a stream source that ends as soon as it starts,
so nothing but the start path is measured: the calls' own rate, and the rate at which the
supervisor started the workers (until every stream's terminal message reached the recipient).
``--read-worker`` also reads ``handle.worker`` right after each call (which builds the first worker
in the caller's thread instead of the supervisor's).

It also measures what stopping an actor costs with few and with many actors alive: 2,000
`LoopActor`\\ s started and stopped, alone and beside 20,000 idle ones (Pykka's registry list
made each stop a scan of every actor alive).

    .venv/bin/python -m bench.stream_starts [--streams 10000] [--rounds 5] [--read-worker]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from typing import Any

import actors
from actors import Inbox, Ref
from actors._loop import call_on_loop
from actors._stream import StreamSink
from ollama_actor._handle import StreamHandle, default_supervisor, stream_to


class _Instant:
    """A stream source that succeeds the moment it is started (no I/O)."""

    def __init__(self, ref: Ref | None = None) -> None:
        self.ref = ref if ref is not None else Ref()

    def start(self, sink: StreamSink) -> None:
        call_on_loop(sink.on_done, {"done": True})

    def cancel(self, reason: str = "the stream was cancelled") -> None:
        pass

    def again(self) -> _Instant:
        return _Instant(self.ref)


def _round(streams: int, read_worker: bool) -> tuple[float, float]:
    """Seconds for the calls to return, and until every stream had ended."""
    inbox = Inbox()
    gc.collect()
    started = time.perf_counter()
    handles: list[StreamHandle] = []
    for _ in range(streams):
        handle = stream_to(_Instant(), inbox)  # type: ignore[arg-type]
        if read_worker:
            handle.worker  # noqa: B018
        handles.append(handle)
    returned = time.perf_counter()
    for _ in range(streams):
        inbox.receive(timeout=60)
    ended = time.perf_counter()
    assert all(h.done for h in handles)
    return returned - started, ended - started


def stop_seconds(alive: int, actors_: int = 2_000) -> float:
    """Seconds per actor to stop (and wait for) ``actors_`` loop actors with ``alive`` others."""
    idle = [actors.LoopActor.start() for _ in range(alive)]
    refs = [actors.LoopActor.start() for _ in range(actors_)]
    for ref in refs:
        ref.ask("started?", timeout=60)  # every on_start has run
    gc.collect()
    started = time.perf_counter()
    futures = [ref.stop(block=False) for ref in refs]
    for future in futures:
        future.get(timeout=60)
    elapsed = time.perf_counter() - started
    for ref in idle:
        ref.stop(block=False)
    for ref in idle:
        actors.wait_exit(ref, 60)
    return elapsed / actors_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--read-worker", action="store_true", help="read handle.worker too")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    default_supervisor()
    _round(1_000, args.read_worker)  # warm up
    rounds = [_round(args.streams, args.read_worker) for _ in range(args.rounds)]
    calls, ends = zip(*rounds, strict=True)
    result: dict[str, Any] = {
        "streams": args.streams,
        "rounds": args.rounds,
        "read_worker": args.read_worker,
        "calls_per_s": args.streams / statistics.median(calls),
        "starts_per_s": args.streams / statistics.median(ends),
    }
    few = statistics.median(stop_seconds(0) for _ in range(3))
    many = statistics.median(stop_seconds(20_000) for _ in range(3))
    result |= {"stop_us_few": few * 1e6, "stop_us_many": many * 1e6}
    if args.json:
        print(json.dumps(result))
    else:
        calls_rate, starts_rate = result["calls_per_s"], result["starts_per_s"]
        print(
            f"{args.streams} streams, median of {args.rounds} rounds: "
            f"calls {calls_rate:,.0f}/s, started and ended {starts_rate:,.0f}/s; "
            f"stopping an actor {result['stop_us_few']:.1f} us alone, "
            f"{result['stop_us_many']:.1f} us beside 20,000"
        )


if __name__ == "__main__":
    main()
