"""B7: streams on Ray (``ollama_actor.ray``): nodes, Ray recipients, 10,000 streams.

Each part runs in a fresh child process with its own local Ray (``ray.init(num_cpus=2)``) and
its own emulator process:

- ``throughput``: aggregate chunks/s of a `StreamCluster` of 1 node and of 2 nodes, same run,
  alternating: 40 concurrent streams of 2,000 tokens as fast as the emulator sends, each told
  to a Ray actor recipient (4 counting actors shared by the streams).
- ``overhead``: what a Ray actor recipient costs per chunk beside a local actor recipient, in
  one process (no cluster): one stream of 20,000 tokens, as fast as it comes, told to a local
  `actors.Actor`, then to a Ray actor (`RayRecipient`); the client process's CPU per chunk, the
  recipient process's CPU per chunk, the Ray calls made (the batching) and the wall time.
- ``concurrent``: 10,000 concurrent streams (40 chunks at 20/s) over a 2-node cluster, a 1-node
  cluster, and one plain process (`stream=` a local actor), same run: wall time from the first
  call to the last terminal message, errors, every message counted.

    .venv/bin/python -m bench.b7_ray [--quick] [--part throughput] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import actors
from bench import _report
from bench._common import MODEL, machine, raise_fd_limit, run_child
from ollama_actor import Ollama, Timeout
from ollama_actor._ray_deliver import deliver
from ollama_actor.emulator import EmulatorProcess

PARTS = ("throughput", "overhead", "concurrent")
TIMEOUT = Timeout(connect=10, read=60)


def _ray() -> Any:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    return ray


def _counter_class(ray: Any) -> Any:
    @ray.remote
    class Counter:
        """A Ray recipient that counts messages and terminal messages (and its own CPU)."""

        def __init__(self) -> None:
            self.messages = 0
            self.ends = 0
            self.errors = 0

        def tell(self, message: Any) -> None:
            self.messages += 1
            kind = message[1][0]
            if kind == "done":
                self.ends += 1
            elif kind == "error":
                self.ends += 1
                self.errors += 1

        def counts(self) -> dict[str, Any]:
            return {
                "messages": self.messages,
                "ends": self.ends,
                "errors": self.errors,
                "cpu": time.process_time(),
                "pid": os.getpid(),
            }

    return Counter


def _warm(ray: Any, counters: list[Any]) -> list[dict[str, Any]]:
    """Load what a Ray recipient's process runs (`ollama_actor._ray_deliver`, on its first
    message) outside the timing; the counters' counts now."""
    ray.get([c.__ray_call__.remote(deliver, "tell", []) for c in counters])
    return ray.get([c.counts.remote() for c in counters])  # type: ignore[no-any-return]


def _wait_ends(ray: Any, counters: list[Any], ends: int, limit: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + limit
    while True:
        counts = ray.get([c.counts.remote() for c in counters])
        if sum(c["ends"] for c in counts) >= ends or time.monotonic() > deadline:
            return counts  # type: ignore[no-any-return]
        time.sleep(0.02)


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` so far (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _ray_processes() -> dict[str, Any]:
    """Ray's own processes on this machine (its GCS, raylet, workers...): count and memory."""
    count, rss = 0, 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "ray" in command and (
            "gcs_server" in command
            or "raylet" in command
            or "ray::" in command
            or "default_worker" in command
        ):
            count += 1
            rss += _rss_mb(int(entry.name))
    return {"processes": count, "rss_mb": rss}


# -- throughput ---------------------------------------------------------------------------------


def throughput(streams: int, tokens: int, rounds: int) -> dict[str, Any]:
    ray = _ray()
    from ollama_actor.ray import RayRecipient, StreamCluster

    counter_class = _counter_class(ray)
    with EmulatorProcess() as server:
        clusters = {n: StreamCluster(server.url, nodes=n, timeout=TIMEOUT) for n in (1, 2)}
        results: dict[int, list[float]] = {1: [], 2: []}
        cpu: dict[str, list[float]] = {"node": [], "recipient": [], "emulator": []}
        counters = [counter_class.remote() for _ in range(4)]
        try:
            for _ in range(rounds):
                for nodes, cluster in clusters.items():
                    before = _warm(ray, counters)
                    ends = sum(c["ends"] for c in before)
                    nodes_before = ray.get([cluster.node(i).stats.remote() for i in range(nodes)])
                    emulator_before = _cpu_seconds(server.pid)
                    started = time.perf_counter()
                    handles = [
                        cluster.completion(
                            model=MODEL,
                            prompt=f"t{i}",
                            options={"num_predict": tokens},
                            stream=RayRecipient(counters[i % 4]),
                        )
                        for i in range(streams)
                    ]
                    for handle in handles:
                        handle.result(300)
                    seconds = time.perf_counter() - started
                    counts = _wait_ends(ray, counters, ends + streams, 60)
                    assert sum(c["errors"] for c in counts) == 0, counts
                    chunks = streams * (tokens + 1)
                    results[nodes].append(chunks / seconds)
                    nodes_after = ray.get([cluster.node(i).stats.remote() for i in range(nodes)])
                    used = zip(nodes_before, nodes_after, strict=True)
                    cpu["node"].append(sum(b["cpu"] - a["cpu"] for a, b in used) / chunks)
                    used = zip(before, counts, strict=True)
                    cpu["recipient"].append(sum(b["cpu"] - a["cpu"] for a, b in used) / chunks)
                    cpu["emulator"].append((_cpu_seconds(server.pid) - emulator_before) / chunks)
        finally:
            for cluster in clusters.values():
                cluster.shutdown()
    one, two = statistics.median(results[1]), statistics.median(results[2])
    return {
        "streams": streams,
        "tokens": tokens,
        "rounds": rounds,
        "one_node": one,
        "two_nodes": two,
        "ratio": two / one,
        "cpu_per_chunk": {key: statistics.median(values) for key, values in cpu.items()},
        "each": results,
    }


# -- overhead -----------------------------------------------------------------------------------


class _LocalCounter(actors.Actor):
    def __init__(self, done: threading.Event) -> None:
        super().__init__()
        self.done = done
        self.messages = 0

    def on_receive(self, message: Any) -> None:
        self.messages += 1
        if message[1][0] in ("done", "error"):
            self.done.set()


def overhead(tokens: int, rounds: int) -> dict[str, Any]:
    ray = _ray()
    from ollama_actor.ray import RayRecipient

    counter_class = _counter_class(ray)
    rows: dict[str, list[dict[str, float]]] = {"local actor": [], "Ray actor": []}
    with EmulatorProcess() as server:
        client = Ollama(server.url, timeout=TIMEOUT)
        params = {"model": MODEL, "prompt": "o", "options": {"num_predict": tokens}}
        client.completion(**params)  # warm
        for _ in range(rounds):
            done = threading.Event()
            local = _LocalCounter.start(done)
            cpu, wall = time.process_time(), time.perf_counter()
            client.completion(**params, stream=local).result(120)
            done.wait(60)
            rows["local actor"].append(
                {
                    "client_cpu": (time.process_time() - cpu) / tokens,
                    "wall": (time.perf_counter() - wall) / tokens,
                    "recipient_cpu": float("nan"),
                    "messages_per_call": float("nan"),
                }
            )
            local.stop()

            counter = counter_class.remote()
            (before,) = _warm(ray, [counter])
            recipient = RayRecipient(counter, max_pending=2 * tokens)  # measure, not bound
            cpu, wall = time.process_time(), time.perf_counter()
            client.completion(**params, stream=recipient).result(120)
            after = _wait_ends(ray, [counter], 1, 60)[0]
            client_cpu = time.process_time() - cpu
            seconds = time.perf_counter() - wall
            calls, messages = recipient.sent()
            rows["Ray actor"].append(
                {
                    "client_cpu": client_cpu / tokens,
                    "wall": seconds / tokens,
                    "recipient_cpu": (after["cpu"] - before["cpu"]) / tokens,
                    "messages_per_call": messages / calls,
                }
            )
            ray.kill(counter)
        client.close()
    medians = {
        name: {key: statistics.median(r[key] for r in each) for key in each[0]}
        for name, each in rows.items()
    }
    return {"tokens": tokens, "rounds": rounds, "cases": medians}


# -- 10,000 concurrent streams ------------------------------------------------------------------


def concurrent(streams: int, tokens: int, rate: float) -> dict[str, Any]:
    raise_fd_limit(4 * streams + 1024)
    ray = _ray()
    from ollama_actor.ray import RayRecipient, StreamCluster

    counter_class = _counter_class(ray)
    cases: dict[str, Any] = {}
    with EmulatorProcess(token_rate=rate) as server:
        for nodes in (2, 1):
            cluster = StreamCluster(server.url, nodes=nodes, timeout=TIMEOUT)
            try:
                counters = [counter_class.remote() for _ in range(4)]
                _warm(ray, counters)
                recipients = [RayRecipient(c) for c in counters]
                started = time.perf_counter()
                handles = [
                    cluster.completion(
                        model=MODEL,
                        prompt=f"c{i}",
                        options={"num_predict": tokens},
                        stream=recipients[i % 4],
                    )
                    for i in range(streams)
                ]
                submitted = time.perf_counter() - started
                counts = _wait_ends(ray, counters, streams, 300)
                seconds = time.perf_counter() - started
                failed = sum(1 for h in handles if _failed(h))
                node_rss = [_rss_mb(s["pid"]) for s in cluster.stats()]
                cases[f"{nodes} node{'s' if nodes > 1 else ''}"] = {
                    "seconds": seconds,
                    "submitted": submitted,
                    "ends": sum(c["ends"] for c in counts),
                    "errors": sum(c["errors"] for c in counts) + failed,
                    "messages": sum(c["messages"] for c in counts),
                    "node_rss_mb": node_rss,
                    "ray": _ray_processes(),
                }
                for c in counters:
                    ray.kill(c)
            finally:
                cluster.shutdown()
        cases["one process"] = _plain(server.url, streams, tokens)
    return {"streams": streams, "tokens": tokens, "rate": rate, "cases": cases}


def _failed(handle: Any) -> bool:
    try:
        handle.result(60)
    except Exception:
        return True
    return False


def _plain(url: str, streams: int, tokens: int) -> dict[str, Any]:
    """The same streams from this process, each told to one local counting actor."""
    done = threading.Event()
    state = {"messages": 0, "ends": 0, "errors": 0}

    class Counter(actors.LoopActor):
        def on_receive(self, message: Any) -> None:
            state["messages"] += 1
            kind = message[1][0]
            if kind in ("done", "error"):
                state["ends"] += 1
                state["errors"] += kind == "error"
                if state["ends"] == streams:
                    done.set()

    counter = Counter.start()
    client = Ollama(url, timeout=TIMEOUT)
    started = time.perf_counter()
    for i in range(streams):
        client.completion(
            model=MODEL, prompt=f"c{i}", options={"num_predict": tokens}, stream=counter
        )
    done.wait(300)
    seconds = time.perf_counter() - started
    counter.stop()
    client.close()
    return {**state, "seconds": seconds, "rss_mb": _rss_mb(os.getpid())}


# -- the runner ---------------------------------------------------------------------------------


def run_parts(quick: bool) -> dict[str, Any]:
    """Every part in its own child process."""
    plan = (
        ("throughput", ["--rounds", "1" if quick else "3"], 900),
        ("overhead", ["--rounds", "1" if quick else "3"], 600),
        ("concurrent", ["--streams", "2000" if quick else "10000"], 900),
    )
    return {
        part: run_child("bench.b7_ray", ["--part", part, *args], limit)
        for part, args, limit in plan
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=PARTS, help="run one part here (else all, each alone)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--write", type=Path, help="put the B7 section into this document")
    args = parser.parse_args()
    if args.part is None:
        results = run_parts(args.quick)
        if args.write:
            command = f"python -m bench.b7_ray --write {args.write}"
            note = f"B7 alone, written {machine().date} by `{command}`."
            goals = _report.Goals()
            section = _report.b7(results, goals, note)
            _report.write_section(args.write, "B7", section, goals)
        print(json.dumps(results))
        return
    if args.part == "throughput":
        result = throughput(streams=40, tokens=2000, rounds=args.rounds)
    elif args.part == "overhead":
        result = overhead(tokens=20_000, rounds=args.rounds)
    else:
        result = concurrent(args.streams, tokens=40, rate=20.0)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
