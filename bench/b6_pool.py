"""B6: a pool of three hosts (``Ollama([url, url, url])``): failover, routing cost, model share.

Each part runs in a fresh child process that starts its own emulator subprocesses:

- ``failover``: 1,000 supervised streams (40 chunks at 20/s) over three emulators, one SIGKILLed
  half-way through the streams (1 s after the first call). Every stream must end ``done`` with
  its whole text (checked against the emulator's deterministic reply). The time to finish is
  compared with two ideals: a stream's own 2 s, and the kill's offset plus 2 s, the best any
  failover can do, since a restarted stream starts its answer again. Also: when the pool last
  routed a request to the dead host, after the kill.
- ``kills``: the time from a SIGKILL to the last request routed to the dead host, over many
  kills (the host restarted between them) under steady traffic from 16 threads.
- ``routing``: what routing costs per request: the same requests through one host's client and
  through a pool of three (which routes them all to that same host, the only one with the model
  in memory), in alternating blocks, in the same process: client CPU and wall time per request,
  for a whole reply and for a 40-chunk stream; and `Pool.choose` alone.
- ``share``: qwen3 in memory on one host of three, llama3.2 on all: the share of qwen3's
  requests that go to its host under concurrent mixed traffic (no per-host limit), and with a
  limit of 4 requests in flight per host (the host is then often full and the rest spill over).

    .venv/bin/python -m bench.b6_pool [--quick] [--part failover] [--streams 1000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import actors
from bench import _report
from bench._common import (
    MODEL,
    cpu_seconds,
    machine,
    median,
    peak_rss_mb,
    percentile,
    raise_fd_limit,
    run_child,
)
from ollama_actor import Ollama, OllamaError, OllamaPool, Timeout
from ollama_actor.emulator import EmulatorProcess, expected_tokens

PARTS = ("failover", "kills", "routing", "share")
TIMEOUT = Timeout(connect=5, read=30)


def _start(*loaded: list[str], **settings: Any) -> list[EmulatorProcess]:
    emulators = [EmulatorProcess(loaded=models, **settings) for models in loaded]
    for emulator in emulators:
        emulator.start()
    return emulators


def _pool(emulators: list[EmulatorProcess], **options: Any) -> OllamaPool:
    client = Ollama([e.url for e in emulators], timeout=TIMEOUT, **options)
    assert isinstance(client, OllamaPool)
    client.refresh()
    return client


# -- failover -----------------------------------------------------------------------------------


class _Streams:
    """Every stream's text so far (a restart empties it), restarts, and how it ended."""

    def __init__(self, count: int) -> None:
        self.texts: dict[Any, list[str]] = {}
        self.restarts: list[dict[str, Any]] = []
        self.first_data: dict[Any, float] = {}  # perf_counter() of each stream's first chunk
        self.restarted_at: list[float] = []
        self.ends: dict[Any, str] = {}
        self.ended_at = 0.0
        self._left = count
        self._lock = threading.Lock()
        self.all_ended = threading.Event()

    def recorder(self) -> type[actors.LoopActor]:
        streams = self

        class Recorder(actors.LoopActor):
            def on_receive(self, message: Any) -> None:
                ref, (kind, payload) = message
                if kind == "data":
                    if ref not in streams.texts:
                        streams.first_data[ref] = time.perf_counter()
                    streams.texts.setdefault(ref, []).append(payload["response"])
                elif kind == "restart":
                    streams.texts[ref] = []
                    streams.restarts.append(payload)
                    streams.restarted_at.append(time.perf_counter())
                else:
                    streams.end(ref, "done" if kind == "done" else repr(payload)[:200])

        return Recorder

    def end(self, ref: Any, outcome: str) -> None:
        with self._lock:
            self.ends[ref] = outcome
            self._left -= 1
            if self._left == 0:
                self.ended_at = time.perf_counter()
                self.all_ended.set()


def _ends(values: list[float]) -> list[float]:
    """The first and the last of ``values`` (none if empty)."""
    return [min(values), max(values)] if values else []


def failover(streams: int, tokens: int, rate: float, limit: float) -> dict[str, Any]:
    raise_fd_limit(streams + 1024)
    actors.event_loop()
    servers = _start([MODEL], [MODEL], [MODEL], token_rate=rate)
    victim_index = 1
    victim = servers[victim_index]
    try:
        client = _pool(servers)
        record = _Streams(streams)
        recipients = [record.recorder().start() for _ in range(streams)]
        options = {"num_predict": tokens}
        ideal = tokens / rate
        prompts = [f"stream {i}" for i in range(streams)]
        killed_at: list[float] = []
        killed_perf: list[float] = []

        def kill() -> None:
            killed_at.append(time.monotonic())
            killed_perf.append(time.perf_counter())
            assert victim.pid is not None
            os.kill(victim.pid, 9)

        cpu, started = cpu_seconds(), time.perf_counter()
        started_mono = time.monotonic()
        killer = threading.Timer(ideal / 2, kill)
        killer.start()
        handles = [
            client.completion(model=MODEL, prompt=prompt, options=options, stream=recipient)
            for prompt, recipient in zip(prompts, recipients, strict=True)
        ]
        launched = time.perf_counter() - started
        finished = record.all_ended.wait(limit)
        ended = record.ended_at if finished else time.perf_counter()
        cpu = cpu_seconds() - cpu
        killer.join()
        hosts = client.hosts()
        whole = sum(
            record.ends.get(h.ref) == "done"
            and "".join(record.texts.get(h.ref, [])) == "".join(expected_tokens(MODEL, p, options))
            for h, p in zip(handles, prompts, strict=True)
        )
        outcomes = Counter("done" if o == "done" else o.split("(")[0] for o in record.ends.values())
        dead = hosts[victim_index]
        kill_offset = killed_at[0] - started_mono
        last_routed = dead["last_routed"]
        for recipient in recipients:
            recipient.stop(block=False)
        client.close()
        return {
            "streams": streams,
            "tokens": tokens,
            "rate": rate,
            "finished": finished,
            "seconds": ended - started,
            "launch": launched,
            "ideal": ideal,
            "kill_offset": kill_offset,
            "ideal_with_kill": kill_offset + ideal,
            "whole": whole,
            "outcomes": dict(outcomes),
            "restarts": len(record.restarts),
            "restarts_to_dead_host": sum(r.get("host") == dead["url"] for r in record.restarts),
            "kill_to_last_routed": max(0.0, last_routed - killed_at[0]) if last_routed else 0.0,
            "first_chunks_over": max(record.first_data.values()) - started,
            "restarts_over": (
                [
                    min(record.restarted_at) - killed_perf[0],
                    max(record.restarted_at) - killed_perf[0],
                ]
                if record.restarted_at
                else None
            ),
            "requests_per_host": [h["requests"] for h in hosts],
            "cpu": cpu,
            "peak_rss_mb": peak_rss_mb(),
        }
    finally:
        for server in servers:
            server.stop()


# -- kills --------------------------------------------------------------------------------------


def kills(cycles: int, threads: int) -> dict[str, Any]:
    servers = _start([MODEL], [MODEL], [MODEL])
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    stop = threading.Event()
    samples: list[float] = []
    try:
        client = _pool(servers)

        def work() -> None:
            while not stop.is_set():
                try:
                    client.completion(model=MODEL, prompt="k", options={"num_predict": 3})
                    outcome = "ok"
                except OllamaError as exc:
                    outcome = type(exc).__name__
                with lock:
                    outcomes[outcome] += 1

        workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for cycle in range(cycles):
            index = cycle % len(servers)
            time.sleep(0.3)
            killed = time.monotonic()
            servers[index].kill()
            time.sleep(1.0)
            last = client.hosts()[index]["last_routed"]
            samples.append(max(0.0, last - killed) if last is not None else 0.0)
            servers[index].start()
            deadline = time.monotonic() + 15
            while not client.hosts()[index]["up"] and time.monotonic() < deadline:
                time.sleep(0.01)
        stop.set()
        for worker in workers:
            worker.join(30)
        client.close()
    finally:
        for server in servers:
            server.stop()
    return {
        "cycles": cycles,
        "threads": threads,
        "p50": percentile(samples, 50),
        "p99": percentile(samples, 99),
        "max": max(samples),
        "outcomes": dict(outcomes),
    }


# -- routing cost --------------------------------------------------------------------------------


def _cpu_per_call(run: Any, count: int) -> float:
    """CPU seconds (this process, all threads) per call of ``run``, over ``count`` calls."""
    cpu = cpu_seconds()
    for _ in range(count):
        run()
    return (cpu_seconds() - cpu) / count


def routing(rounds: int, count: int) -> dict[str, Any]:
    """The pool's model is in memory on its first host only, so that both clients talk to the
    same server process and what differs is the client's own work. CPU is measured over blocks
    of calls (the two clients' blocks alternate); wall time per call, with the two clients'
    calls interleaved one by one (block medians drift more than the difference)."""
    servers = _start([MODEL], [], [])
    try:
        single = Ollama(servers[0].url, timeout=TIMEOUT)
        pool = _pool(servers)
        clients = {"single": single, "pool": pool}
        whole = {"model": MODEL, "prompt": "r", "options": {"num_predict": 1}}
        streamed = {"model": MODEL, "prompt": "r", "options": {"num_predict": 40}}
        cases = {
            "whole reply": lambda c: c.completion(**whole),
            "40-chunk stream": lambda c: sum(1 for _ in c.completion(stream=True, **streamed)),
        }
        results: dict[str, Any] = {}
        for name, call in cases.items():
            for client in clients.values():  # warm both: connections, caches
                for _ in range(50):
                    call(client)
            cpus: dict[str, list[float]] = {label: [] for label in clients}
            walls: dict[str, list[float]] = {label: [] for label in clients}
            for _ in range(rounds):
                for label, client in clients.items():
                    cpus[label].append(_cpu_per_call(lambda c=client, f=call: f(c), count))
                for _ in range(count):
                    for label, client in clients.items():
                        started = time.perf_counter()
                        call(client)
                        walls[label].append(time.perf_counter() - started)
            results[name] = {
                label: {"wall": median(walls[label]), "cpu": median(cpus[label])}
                for label in clients
            }
            results[name]["cpu_extra"] = median(
                [p - s for p, s in zip(cpus["pool"], cpus["single"], strict=True)]
            )
            results[name]["wall_extra"] = median(walls["pool"]) - median(walls["single"])
        members = pool._pool
        key = "llama3.2:latest"
        n = 200_000
        started = time.perf_counter()
        for _ in range(n):
            members.choose(key)
        choose = (time.perf_counter() - started) / n
        single.close()
        pool.close()
        return {"rounds": rounds, "count": count, "cases": results, "choose": choose}
    finally:
        for server in servers:
            server.stop()


# -- model share ---------------------------------------------------------------------------------


def share(requests: int, threads: int) -> dict[str, Any]:
    cases = {"no limit": None, "max_in_flight=4": 4}
    return {
        "requests": requests,
        "threads": threads,
        "cases": {label: _share(limit, requests, threads) for label, limit in cases.items()},
    }


def _share(limit: int | None, requests: int, threads: int) -> dict[str, Any]:
    """Half the requests for qwen3 (in memory on the second host only), half for llama3.2."""
    servers = _start([MODEL], [MODEL, "qwen3"], [MODEL], token_rate=200)
    try:
        client = _pool(servers, max_in_flight=limit)
        counter = iter(range(requests))
        lock = threading.Lock()

        def work() -> None:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                extra = {"model": "qwen3", "think": False} if i % 2 else {"model": MODEL}
                client.completion(prompt=f"s{i}", options={"num_predict": 5}, **extra)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        per_host = [
            sum(
                1
                for info in server.requests
                if info.path == "/api/generate" and (info.body or {}).get("model") == "qwen3"
            )
            for server in servers
        ]
        client.close()
        total = sum(per_host)
        return {"qwen3_per_host": per_host, "share": per_host[1] / total if total else math.nan}
    finally:
        for server in servers:
            server.stop()


# -- the runner ----------------------------------------------------------------------------------


def run_parts(quick: bool, runs: int = 1) -> dict[str, Any]:
    """Every part in its own child process, ``runs`` times over; the medians (`combine`)."""
    streams = "300" if quick else "1000"
    plan = (
        ("failover", ["--streams", streams], 300),
        ("kills", ["--cycles", "6" if quick else "20"], 600),
        ("routing", ["--rounds", "3" if quick else "7"], 600),
        ("share", ["--requests", "300" if quick else "1200"], 600),
    )
    return combine(
        [
            {
                part: run_child("bench.b6_pool", ["--part", part, *args], limit)
                for part, args, limit in plan
            }
            for _ in range(runs)
        ]
    )


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from several runs' (the machine is shared and noisy): every number is the
    median of the runs', a part that failed in any run is that failure, and ``each`` keeps
    each run's headline figures (``raw``: the runs themselves)."""
    combined: dict[str, Any] = {"runs": len(runs), "each": [_headline(run) for run in runs]}
    combined["raw"] = runs
    for part in PARTS:
        parts = [run.get(part) or {"failed": "not run"} for run in runs]
        failed = [p for p in parts if "failed" in p]
        combined[part] = failed[0] if failed else _median_of(parts)
    return combined


def _median_of(values: list[Any]) -> Any:
    first = values[0]
    if isinstance(first, bool):
        return all(values)
    if isinstance(first, int | float):
        return statistics.median(values)
    if isinstance(first, dict):
        keys = list(dict.fromkeys(key for value in values for key in value))
        return {key: _median_of([v[key] for v in values if key in v]) for key in keys}
    if isinstance(first, list) and all(
        isinstance(v, list) and len(v) == len(first) for v in values
    ):
        return [_median_of(list(column)) for column in zip(*values, strict=True)]
    return first


def _headline(run: dict[str, Any]) -> dict[str, Any]:
    """The figure each part's goal is judged on, for one run (None where the part failed)."""
    failover, kills_, routing_, share_ = (run.get(part) or {} for part in PARTS)
    return {
        "failover": failover.get("seconds", math.nan) / failover.get("ideal_with_kill", math.nan)
        if "seconds" in failover
        else None,
        "kills_p99": kills_.get("p99"),
        "routing_cpu_extra": routing_.get("cases", {}).get("whole reply", {}).get("cpu_extra"),
        "share": share_.get("cases", {}).get("no limit", {}).get("share"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=PARTS, help="run one part here (else all, each alone)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=1, help="run every part this many times")
    parser.add_argument("--from-json", nargs="+", type=Path, help="combine saved runs instead")
    parser.add_argument("--write", type=Path, help="put the B6 section into this document")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=1200)
    args = parser.parse_args()
    if args.part is None:
        if args.from_json:
            saved = [json.loads(path.read_text()) for path in args.from_json]
            runs = [run for result in saved for run in _runs_of(result)]
            results = combine(runs)
        else:
            results = run_parts(args.quick, args.runs)
        if args.write:
            command = f"python -m bench.b6_pool --runs {results['runs']} --write {args.write}"
            note = f"B6 alone, written {machine().date} by `{command}`."
            _report.write_b6(args.write, results, note)
        print(json.dumps(results))
        return
    if args.part == "failover":
        result = failover(args.streams, args.tokens, args.rate, limit=120.0)
    elif args.part == "kills":
        result = kills(args.cycles, threads=16)
    elif args.part == "routing":
        result = routing(args.rounds, count=400)
    else:
        result = share(args.requests, threads=16)
    print(json.dumps(result))


def _runs_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs a saved result holds (``raw`` of a combined one; else it is one run)."""
    raw: list[dict[str, Any]] = result.get("raw", [result])
    return raw


if __name__ == "__main__":
    main()
