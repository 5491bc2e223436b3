"""B1: one stream, as fast as the server sends, read by each client side by side.

Every reader consumes the same unpaced ``/api/generate`` stream from one emulator subprocess;
the readers take turns, round after round, and each keeps its best round. CPU is this (client)
process's user + system time over the round, all threads included.

    .venv/bin/python -m bench.b1_single [--tokens 50000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import ollama
import pykka

from bench._common import cpu_seconds, generate_params
from ollama_actor import Ollama
from ollama_actor import _ndjson as ndjson
from ollama_actor.emulator import EmulatorProcess

OFFICIAL = "official `ollama.Client.generate(stream=True)`"


class Counter(pykka.ThreadingActor):
    """A Pykka actor that counts the data messages it is told; ``ask("count")`` reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks = 0

    def on_receive(self, message: Any) -> Any:
        if message == "count":
            return self.chunks
        if message[1][0] == "data":
            self.chunks += 1
        return None


@dataclass
class Reader:
    name: str
    read: Callable[[], int]
    """Reads one whole stream; returns the number of chunks it got."""
    json_loads: str = ""
    """Force this decoder for the project's readers ("json" = stdlib); empty: the default."""


@dataclass
class Result:
    name: str
    chunks: int
    seconds: float
    cpu: float

    @property
    def rate(self) -> float:
        return self.chunks / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.chunks * 1e6


def readers(emulator: EmulatorProcess, tokens: int) -> list[Reader]:
    params = generate_params(tokens)
    client = Ollama(emulator.base_url, timeout=60)
    official = ollama.Client(host=emulator.url)
    raw = httpx.Client(timeout=60)

    def official_generate() -> int:
        return sum(1 for _ in official.generate(stream=True, **params))

    def httpx_lines() -> int:
        count = 0
        with raw.stream("POST", emulator.base_url + "/generate", json=params) as response:
            for line in response.iter_lines():
                if line:
                    json.loads(line)
                    count += 1
        return count

    def iterate() -> int:
        return sum(1 for _ in client.completion(stream=True, **params))

    def send_to() -> int:
        actor = Counter.start()
        try:
            client.completion(stream=True, **params).send_to(actor)
            return int(actor.ask("count", block=True))
        finally:
            actor.stop()

    def recipient() -> int:
        actor = Counter.start()
        try:
            client.completion(stream=actor, **params).result(timeout=120)
            return int(actor.ask("count", block=True))
        finally:
            actor.stop()

    ours = [
        Reader("ollama-actor: `for chunk in client.completion(stream=True)`", iterate),
        Reader("ollama-actor: `Streaming.send_to(pykka_actor)`", send_to),
        Reader("ollama-actor: `completion(stream=pykka_actor)` (supervised)", recipient),
    ]
    chosen = [
        Reader(OFFICIAL, official_generate),
        Reader("httpx `iter_lines()` + `json.loads`", httpx_lines),
        *ours,
    ]
    if ndjson.JSON_DECODER != "json":
        for reader in ours[:2]:
            chosen.append(Reader(f"{reader.name}, stdlib `json`", reader.read, "json"))
    return chosen


def measure(reader: Reader) -> Result:
    saved = ndjson._decode
    if reader.json_loads == "json":
        ndjson._decode = ndjson._decode_json
    try:
        cpu, started = cpu_seconds(), time.perf_counter()
        chunks = reader.read()
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    finally:
        ndjson._decode = saved
    return Result(reader.name, chunks, seconds, cpu)


def run(tokens: int = 50_000, rounds: int = 5) -> dict[str, Any]:
    """Measure every reader; the best round of each, with ratios to the official client."""
    with EmulatorProcess() as emulator:
        chosen = readers(emulator, tokens)
        for reader in chosen:  # warm up connections, imports and caches
            reader.read()
        best: dict[str, Result] = {}
        for _ in range(rounds):
            for reader in chosen:
                result = measure(reader)
                if reader.name not in best or result.seconds < best[reader.name].seconds:
                    best[reader.name] = result
    official = best[OFFICIAL]
    rows = [
        {
            "reader": result.name,
            "chunks": result.chunks,
            "chunks_per_s": result.rate,
            "cpu_us_per_chunk": result.cpu_us,
            "vs_official": result.rate / official.rate,
        }
        for result in best.values()
    ]
    return {"tokens": tokens, "rounds": rounds, "decoder": ndjson.JSON_DECODER, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line")
    args = parser.parse_args()
    result = run(args.tokens, args.rounds)
    if args.json:
        print(json.dumps(result))
        return
    for row in result["rows"]:
        print(
            f"{row['reader']:<72} {row['chunks_per_s']:>10,.0f}/s "
            f"{row['cpu_us_per_chunk']:>6.1f} us {row['vs_official']:>5.2f}x"
        )


if __name__ == "__main__":
    main()
