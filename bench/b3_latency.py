"""B3: latencies: cancel, supervisor restart, and the first chunk against raw httpx.

- Cancel: a stream paced at 20 chunks/s has delivered its first chunk; from the cancel call to
  the moment the emulator (a subprocess) saw the connection close (its log's ``closed_at``, a
  ``time.monotonic()``, which Linux shares across processes). Ours: `Streaming.cancel` while
  iterating, and `StreamHandle.cancel` of a supervised stream; the official client closes its
  generator (which closes the httpx response and so the connection).
- Restart: an `actors.Supervisor` child (`actors.Actor` or `actors.LoopActor`) that crashes on
  a message; from the ``tell`` that crashes it until the new incarnation has answered an
  ``ask``. Against a by-hand restart of a plain Pykka actor (wait until it stopped, start a new
  one, ask it).
- First chunk: an unpaced two-chunk stream on a kept-alive connection; from the call until the
  first decoded chunk is in hand. Ours and the official client against raw httpx
  (``iter_lines`` + ``json.loads``).

    .venv/bin/python -m bench.b3_latency [--samples 200]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Generator
from typing import Any, cast

import httpx
import ollama
import pykka

import actors
from bench._common import generate_params, median, percentile
from ollama_actor import Ollama
from ollama_actor.emulator import EmulatorProcess

GENERATE = "/api/generate"


def _closed_after(emulator: EmulatorProcess, cancel: Callable[[], None]) -> float:
    """Cancel the stream whose request is the newest; seconds until the server saw it close."""
    request = emulator.last_request(GENERATE)
    started = time.monotonic()
    cancel()
    info = emulator.wait_until_ended(request.id, timeout=5.0)
    if info.closed_at is None:
        raise RuntimeError(f"the stream ended as {info.outcome!r}, not closed by the client")
    return info.closed_at - started


def cancel_latencies(samples: int) -> dict[str, list[float]]:
    """Seconds from cancel to the server seeing the close, per client."""
    params = generate_params(200)
    results: dict[str, list[float]] = {"iterate": [], "supervised": [], "official": []}
    with EmulatorProcess(token_rate=20) as emulator:
        client = Ollama(emulator.base_url)
        official = ollama.Client(host=emulator.url)
        inbox = actors.Inbox()
        for _ in range(samples):
            streaming = client.completion(stream=True, **params)
            next(streaming)
            results["iterate"].append(_closed_after(emulator, streaming.cancel))

            handle = client.completion(stream=inbox, **params)
            inbox.receive(timeout=5.0)  # its first chunk (the inbox is empty between rounds)
            results["supervised"].append(_closed_after(emulator, handle.cancel))
            with contextlib.suppress(Exception):
                handle.result(timeout=5.0)
            inbox.drain()

            generator = cast("Generator[Any]", official.generate(stream=True, **params))
            next(generator)
            results["official"].append(_closed_after(emulator, generator.close))
        client.close()
    return results


class _Crasher:
    """Mixin: tells ``inbox`` its ref once started; crashes on ``"crash"``; echoes the rest."""

    def __init__(self, inbox: actors.Inbox) -> None:
        super().__init__()
        self.inbox = inbox

    def on_start(self) -> None:
        self.inbox.tell(self.actor_ref)  # type: ignore[attr-defined]

    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash (on purpose)")
        return message


class ThreadCrasher(_Crasher, actors.Actor):
    pass


class LoopCrasher(_Crasher, actors.LoopActor):
    pass


class PykkaCrasher(_Crasher, pykka.ThreadingActor):
    pass


def supervised_restarts(
    cls: type[actors.Actor] | type[actors.LoopActor], samples: int
) -> list[float]:
    """Crash-to-answer seconds of a child restarted by an `actors.Supervisor`."""
    inbox = actors.Inbox()
    spec = actors.ChildSpec(id="crasher", start=lambda: cls.start(inbox))
    supervisor = actors.Supervisor.start([spec], max_restarts=10 * samples, max_seconds=60.0)
    try:
        ref = inbox.receive(timeout=5.0)
        latencies = []
        for _ in range(samples):
            started = time.perf_counter()
            ref.tell("crash")
            ref = inbox.receive(timeout=5.0)
            ref.ask("ping", timeout=5.0)
            latencies.append(time.perf_counter() - started)
        return latencies
    finally:
        supervisor.stop()


def by_hand_restarts(samples: int) -> list[float]:
    """Crash-to-answer seconds of a plain Pykka actor restarted by the measuring thread."""
    inbox = actors.Inbox()
    ref = PykkaCrasher.start(inbox)
    inbox.receive(timeout=5.0)
    latencies = []
    for _ in range(samples):
        started = time.perf_counter()
        ref.tell("crash")
        ref.actor_stopped.wait(5.0)
        ref = PykkaCrasher.start(inbox)
        ref.ask("ping", timeout=5.0)
        latencies.append(time.perf_counter() - started)
        inbox.drain()
    ref.stop()
    return latencies


def first_chunk_latencies(samples: int) -> dict[str, list[float]]:
    """Seconds from the call to the first decoded chunk, per client (warm connections)."""
    params = generate_params(1)
    results: dict[str, list[float]] = {"httpx": [], "ours": [], "official": []}
    with EmulatorProcess() as emulator:
        client = Ollama(emulator.base_url)
        official = ollama.Client(host=emulator.url)
        raw = httpx.Client()
        url = emulator.base_url + "/generate"

        def raw_first() -> None:
            with raw.stream("POST", url, json=params) as response:
                lines = response.iter_lines()
                json.loads(next(line for line in lines if line))
                results["httpx"].append(time.perf_counter() - started)
                for _ in lines:
                    pass

        for round_ in range(samples + 10):  # the first rounds warm up and are dropped
            started = time.perf_counter()
            raw_first()
            started = time.perf_counter()
            streaming = client.completion(stream=True, **params)
            next(streaming)
            results["ours"].append(time.perf_counter() - started)
            for _ in streaming:
                pass
            started = time.perf_counter()
            generator = official.generate(stream=True, **params)
            next(generator)
            results["official"].append(time.perf_counter() - started)
            for _ in generator:
                pass
            if round_ < 10:
                for values in results.values():
                    values.clear()
        client.close()
    return results


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "samples": len(values),
        "p50": median(values),
        "p99": percentile(values, 99),
        "max": max(values),
    }


def run(samples: int = 200) -> dict[str, Any]:
    """Every B3 figure, in seconds."""
    logging.getLogger("actors").setLevel(logging.CRITICAL)  # the crashes are on purpose
    logging.getLogger("pykka").setLevel(logging.CRITICAL)
    cancel = cancel_latencies(min(samples, 100))
    restart = {
        "actors.Actor under Supervisor": supervised_restarts(ThreadCrasher, samples),
        "actors.LoopActor under Supervisor": supervised_restarts(LoopCrasher, samples),
        "pykka.ThreadingActor restarted by hand": by_hand_restarts(samples),
    }
    first = first_chunk_latencies(samples)
    assert threading.active_count() < 50, "a benchmark leaked threads"
    return {
        "cancel": {name: _summary(values) for name, values in cancel.items()},
        "restart": {name: _summary(values) for name, values in restart.items()},
        "first_chunk": {name: _summary(values) for name, values in first.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line")
    args = parser.parse_args()
    result = run(args.samples)
    if args.json:
        print(json.dumps(result))
        return
    for group, rows in result.items():
        for name, row in rows.items():
            print(
                f"{group:<12} {name:<40} p50 {row['p50'] * 1e3:7.3f} ms  "
                f"p99 {row['p99'] * 1e3:7.3f} ms  max {row['max'] * 1e3:7.3f} ms"
            )


if __name__ == "__main__":
    main()
