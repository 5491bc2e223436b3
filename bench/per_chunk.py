"""B5: CPU per chunk of paced supervised streams, beside the floor of a bare asyncio protocol.

Each stream is 40 generate chunks at 20/s (plus the final one), so every chunk arrives alone: one
socket read, one loop turn. At 1,000 streams that is 20,000 chunks a second through one process.
The client runs in a fresh process per case, against one paced emulator subprocess, and reports
its CPU (user + system, all threads) from the first request until every stream ended, divided by
the chunks it received: a stream's start and end are spread over its chunks.

Clients:

- ``supervised``: ``client.completion(stream=recipient)`` per stream (a `StreamWorker` under the
  default supervisor), one counting `actors.LoopActor` recipient per stream.
- ``floor``: the least a Python process can do for the same bytes: one bare
  ``asyncio.BufferedProtocol`` per connection that reads into one reused buffer and counts the
  JSON lines (no HTTP parsing, no JSON, no actors).
- ``floor-protocol``: the same with a plain ``asyncio.Protocol``, which asyncio reads with a fresh
  256 KiB ``recv`` per read.

Each runs in two kinds of process: ``plain`` imports nothing but this project (what a user's
service that imports only ollama-actor sees), ``bench`` imports the official client first (as the
B2 process does). The allocator behaves differently in the two: a 256 KiB allocation per read is
an ``mmap``/``munmap`` pair in a process whose allocator has not yet raised its mmap threshold.

Also reported: garbage collections per 1,000 chunks (``gc.get_stats``, each generation), and the
memory a running stream holds (RSS once every stream has its first chunk, minus RSS before the
first request, per stream; the floor's figure is what a bare connection costs).

    .venv/bin/python -m bench.per_chunk [--streams 1000] [--kinds plain,bench]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import threading
import time
from typing import Any

from bench._common import (
    cpu_seconds,
    generate_params,
    median,
    process_cpu_seconds,
    raise_fd_limit,
    run_child,
)

CLIENTS = ("supervised", "floor", "floor-protocol")
KINDS = ("plain", "bench")
READ_SIZE = 256 * 1024


def _rss_kib() -> int:
    """The resident set size now (not the peak), in KiB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4


class _Run:
    """Counts chunks and ended streams; notes RSS once every stream has its first chunk."""

    def __init__(self, streams: int) -> None:
        self.streams = streams
        self.left = streams
        self.chunks = 0
        self.first_seen = 0
        self.rss_running = 0
        self.rss_before = 0
        self.finished = False
        self.seconds = 0.0
        self.cpu = 0.0
        self.started = 0.0
        self.gc: list[int] = []
        self._all = threading.Event()
        self._lock = threading.Lock()

    def first(self) -> None:
        self.first_seen += 1
        if self.first_seen == self.streams:
            self.rss_running = _rss_kib()

    def end(self, chunks: int) -> None:
        with self._lock:
            self.chunks += chunks
            self.left -= 1
            if self.left == 0:
                self._all.set()

    def wait(self, timeout: float) -> bool:
        return self._all.wait(timeout)


def _supervised(url: str, streams: int, tokens: int, run: _Run) -> None:
    import actors
    from ollama_actor import Ollama

    class Counter(actors.LoopActor):
        def __init__(self) -> None:
            super().__init__()
            self.chunks = 0

        def on_receive(self, message: Any) -> None:
            kind = message[1][0]
            if kind == "data":
                self.chunks += 1
                if self.chunks == 1:
                    run.first()
            else:
                if kind == "error":
                    print(f"stream failed: {message[1][1]!r}", file=sys.stderr)
                run.end(self.chunks)

    recipients = [Counter.start() for _ in range(streams)]
    client = Ollama(url)
    params = generate_params(tokens)
    _measure(run, lambda: [client.completion(stream=r, **params) for r in recipients])
    for recipient in recipients:
        recipient.stop(block=False)


def _request(url: str, tokens: int) -> tuple[str, int, bytes]:
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    body = json.dumps({**generate_params(tokens), "stream": True}).encode()
    head = (
        f"POST /api/generate HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return host, int(port), head.encode() + body


def _floor(url: str, streams: int, tokens: int, run: _Run, buffered: bool) -> None:
    """Bare protocols that count JSON lines (``}\\n``) until the stream's last one."""
    host, port, request = _request(url, tokens)
    shared = bytearray(READ_SIZE)
    expected = tokens + 1

    class Count:
        def __init__(self) -> None:
            self.lines = 0
            self.transport: asyncio.Transport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport
            transport.write(request)

        def _got(self, lines: int) -> None:
            if lines and not self.lines:
                run.first()
            self.lines += lines
            if self.lines >= expected:
                assert self.transport is not None
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            run.end(self.lines)

        def eof_received(self) -> bool:
            return False

    class Buffered(Count, asyncio.BufferedProtocol):
        def get_buffer(self, sizehint: int) -> memoryview:
            return memoryview(shared)

        def buffer_updated(self, nbytes: int) -> None:
            self._got(shared.count(b"}\n", 0, nbytes))

    class Plain(Count, asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            self._got(data.count(b"}\n"))

    protocol = Buffered if buffered else Plain
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def connect_all() -> None:
        await asyncio.gather(
            *(loop.create_connection(protocol, host, port) for _ in range(streams))
        )

    def start() -> None:
        asyncio.run_coroutine_threadsafe(connect_all(), loop)

    _measure(run, start)
    loop.call_soon_threadsafe(loop.stop)


def _measure(run: _Run, start: Any) -> None:
    run.rss_before = _rss_kib()
    gc_before = [s["collections"] for s in gc.get_stats()]
    run.cpu = cpu_seconds()
    run.started = time.perf_counter()
    start()
    run.finished = run.wait(120)
    run.seconds = time.perf_counter() - run.started
    run.cpu = cpu_seconds() - run.cpu
    run.gc = [s["collections"] - b for s, b in zip(gc.get_stats(), gc_before, strict=True)]


def client_main(args: argparse.Namespace) -> None:
    """The child process: one client of one kind; prints its figures as JSON."""
    if args.kind == "bench":
        import httpx  # noqa: F401
        import ollama  # noqa: F401
    import actors

    raise_fd_limit(args.streams + 1024)
    actors.event_loop()
    run = _Run(args.streams)
    if args.client == "supervised":
        from ollama_actor._handle import default_supervisor

        default_supervisor()
        _supervised(args.url, args.streams, args.tokens, run)
    else:
        _floor(args.url, args.streams, args.tokens, run, args.client == "floor")
    chunks = max(run.chunks, 1)
    result = {
        "client": args.client,
        "kind": args.kind,
        "streams": args.streams,
        "finished": run.finished,
        "chunks": run.chunks,
        "seconds": run.seconds,
        "cpu": run.cpu,
        "cpu_us_per_chunk": run.cpu / chunks * 1e6,
        "gc_per_1000_chunks": [n / chunks * 1000 for n in run.gc],
        "kib_per_stream": (run.rss_running - run.rss_before) / args.streams,
    }
    print(json.dumps(result))


def run_cases(
    streams: int, tokens: int, rounds: int, kinds: list[str], clients: list[str]
) -> dict[str, Any]:
    """Every client in every kind of process, ``rounds`` times, alternating; medians."""
    from ollama_actor.emulator import EmulatorProcess

    raise_fd_limit(streams + 1024)
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with EmulatorProcess(token_rate=20.0) as emulator:
        assert emulator.pid is not None
        for _ in range(rounds):
            for kind in kinds:
                for client in clients:
                    server = process_cpu_seconds(emulator.pid)
                    args = ["--client", client, "--kind", kind, "--url", emulator.base_url]
                    args += ["--streams", str(streams), "--tokens", str(tokens)]
                    result = run_child("bench.per_chunk", args, timeout=180)
                    result["server_cpu"] = process_cpu_seconds(emulator.pid) - server
                    samples.setdefault((kind, client), []).append(result)
    rows = []
    for (kind, client), results in samples.items():
        good = [r for r in results if not r.get("failed") and r.get("finished")]
        row: dict[str, Any] = {"kind": kind, "client": client, "rounds": len(results)}
        if not good:
            row["failed"] = next((r.get("failed") for r in results), "unfinished")
        else:
            for key in ("cpu_us_per_chunk", "kib_per_stream", "seconds", "server_cpu"):
                row[key] = median([r[key] for r in good])
            row["all_cpu_us_per_chunk"] = [r["cpu_us_per_chunk"] for r in good]
            row["gc_per_1000_chunks"] = [
                median([r["gc_per_1000_chunks"][g] for r in good]) for g in range(3)
            ]
            row["chunks"] = good[0]["chunks"]
        rows.append(row)
    return {"streams": streams, "tokens": tokens, "rounds": rounds, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client", choices=CLIENTS, help="(internal) run one client here")
    parser.add_argument("--kind", choices=KINDS, default="plain", help="(internal)")
    parser.add_argument("--url", help="(internal) the emulator's base URL")
    parser.add_argument("--streams", type=int, default=1_000)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line")
    args = parser.parse_args()
    if args.client:
        client_main(args)
        return
    result = run_cases(
        args.streams, args.tokens, args.rounds, args.kinds.split(","), args.clients.split(",")
    )
    if args.json:
        print(json.dumps(result))
        return
    for row in result["rows"]:
        if row.get("failed"):
            print(f"{row['kind']:<6} {row['client']:<15} failed: {row['failed']}")
            continue
        gcs = "/".join(f"{n:.2f}" for n in row["gc_per_1000_chunks"])
        runs = ", ".join(f"{v:.1f}" for v in row["all_cpu_us_per_chunk"])
        print(
            f"{row['kind']:<6} {row['client']:<15} {row['cpu_us_per_chunk']:6.1f} us/chunk "
            f"[{runs}]  gc per 1000 chunks {gcs}  {row['kib_per_stream']:5.1f} KiB/stream  "
            f"{row['seconds']:.2f} s"
        )


if __name__ == "__main__":
    main()
