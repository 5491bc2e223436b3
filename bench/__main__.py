"""``make bench``: every benchmark in one run, written to ``docs/benchmarks.md``.

Each part runs in a fresh child process (B2 one per case, beside its own emulator process), so no
part inherits another's threads, garbage or memory peak. The generated section of the document
is replaced; the hand-written text around it is kept.

    .venv/bin/python -m bench [--quick] [--out docs/benchmarks.md] [--json results.json]
        [--plain-python .venv-plain/bin/python]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench import _report
from bench._common import ROOT, machine, run_child
from bench.b2_concurrency import run_case
from bench.b6_pool import run_parts as run_pools
from bench.b7_ray import run_parts as run_ray


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_all(quick: bool, plain_python: str | None) -> dict[str, Any]:
    """Run B1-B7 and the start rate; the results of each, and the machine they ran on."""
    results: dict[str, Any] = {"machine": machine().__dict__, "quick": quick}
    started = time.perf_counter()

    _log("B1: one stream, as fast as the server sends ...")
    tokens, rounds = (10_000, 2) if quick else (50_000, 5)
    b1_args = ["--json", "--tokens", str(tokens), "--rounds", str(rounds)]
    results["b1"] = run_child("bench.b1_single", b1_args, 600)
    if plain_python:
        _log(f"B1 again from a plain install ({plain_python}) ...")
        results["b1_plain"] = run_child("bench.b1_single", b1_args, 600, python=plain_python)
        results["b1_plain"]["python"] = plain_python

    results["b2"] = []
    plan = [
        (100, ("loop-actor", "thread-actor", "async-for", "official"), 60.0),
        (1_000, ("loop-actor", "thread-actor", "async-for", "official"), 90.0),
        (2_000, ("loop-actor", "async-for"), 60.0),
        (10_000, ("loop-actor", "async-for", "official"), 60.0),
    ]
    for streams, clients, limit in plan[:3] if quick else plan:
        for client in clients:
            _log(f"B2: {streams:,} streams, {client} ...")
            results["b2"].append(run_case(client, streams, 40, 20.0, limit))

    _log("B5: CPU per chunk of 1,000 paced supervised streams, beside the floor ...")
    b5_args = ["--json", "--rounds", "1" if quick else "3"]
    results["b5"] = run_child("bench.per_chunk", b5_args, 900)

    _log("Starts: supervised streams started per second; the cost of a stop ...")
    starts_args = ["--json", "--rounds", "2" if quick else "5"]
    results["starts"] = run_child("bench.stream_starts", starts_args, 600)

    _log("B3: cancel, restart and first-chunk latencies ...")
    results["b3"] = run_child(
        "bench.b3_latency", ["--json", "--samples", "50" if quick else "200"], 600
    )

    _log("B4: actor messaging against raw Pykka (pinned to one CPU, then on both) ...")
    rounds_b4 = "3" if quick else "7"
    results["b4_pinned"] = run_child(
        "bench.b4_actors", ["--json", "--rounds", rounds_b4, "--pin", "1"], 600
    )
    results["b4"] = run_child("bench.b4_actors", ["--json", "--rounds", rounds_b4], 600)

    _log("B6: a pool of three hosts: failover, kills, routing cost, model share ...")
    results["b6"] = run_pools(quick)

    _log("B7: streams on Ray: 1 and 2 nodes, a Ray recipient's cost, 10,000 streams ...")
    results["b7"] = run_ray(quick)

    results["seconds"] = time.perf_counter() - started
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, no 10,000 streams")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--json", type=Path, help="also save the raw results here")
    parser.add_argument("--from-json", type=Path, help="render saved results instead of running")
    parser.add_argument(
        "--plain-python",
        help="also run B1 with this interpreter: one whose environment has only a plain "
        "`pip install .` and the official client (`make bench` makes .venv-plain)",
    )
    args = parser.parse_args()
    saved = args.from_json
    results = json.loads(saved.read_text()) if saved else run_all(args.quick, args.plain_python)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    _report.write(args.out, _report.render(results))
    _log(f"wrote {args.out} ({results.get('seconds', 0):.0f} s of benchmarks)")


if __name__ == "__main__":
    main()
