"""B2: many concurrent streams paced at 20 chunks/s, each client in its own fresh process.

For each case the emulator runs in one subprocess (``EmulatorProcess(token_rate=...)``) and the
client in another (``python -m bench.b2_concurrency --client ...``), so the client's CPU time and
peak RSS are its own and each process has its own 20,000 file descriptors. The client starts every
stream at once and waits until each has ended; it reports the time to finish against the ideal
(``tokens / rate``: the last chunk of a stream is written ``tokens`` intervals after its first),
the delivery lag of every chunk (its ``created_at`` to the moment the consumer handled it), its
CPU seconds, its peak RSS and the streams that failed.

When a chunk was sent is recovered from the *next* chunk's ``created_at``: the emulator stamps a
line when it takes it from the model, which is right after writing the previous line, and then
holds it until its time comes (so a line's own ``created_at`` is one interval, 50 ms, before it
is sent). The lag of chunk k is therefore measured as handled(k) - created_at(k + 1); the last
(``done``) chunk of each stream has no successor and is not measured. Stamps are cached per
millisecond, so a lag may read up to 1 ms high.

Clients:

- ``loop-actor``: ``client.completion(stream=recipient)`` (a supervised `StreamWorker`), one
  `actors.LoopActor` recipient per stream (no thread per actor; handled on the shared loop).
- ``thread-actor``: the same with one `actors.Actor` (a thread) per stream.
- ``async-for``: ``async for chunk in client.completion(stream=True)`` under ``asyncio.gather``.
- ``official``: ``ollama.AsyncClient.generate(stream=True)`` under ``asyncio.gather``, its httpx
  pool unbounded (httpx's default of 100 connections would queue the rest).

    .venv/bin/python -m bench.b2_concurrency [--streams 1000] [--clients loop-actor,official]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
import time
from typing import Any

import httpx
import ollama

import actors
from bench._common import (
    Collections,
    Lags,
    cpu_seconds,
    generate_params,
    peak_rss_mb,
    percentile,
    process_cpu_seconds,
    raise_fd_limit,
    run_child,
)
from ollama_actor import Ollama, _engine
from ollama_actor.emulator import EmulatorProcess

CLIENTS = ("loop-actor", "thread-actor", "async-for", "official")


class Finish:
    """Counts streams that ended; `wait` returns when all have (any thread may `end`)."""

    def __init__(self, streams: int) -> None:
        self.left = streams
        self.errors: list[str] = []
        self.chunks = 0
        self.ended_at = 0.0
        self._lock = threading.Lock()
        self._all = threading.Event()

    def end(self, chunks: int, error: BaseException | None = None) -> None:
        with self._lock:
            self.chunks += chunks
            if error is not None:
                self.errors.append(repr(error)[:200])
            self.left -= 1
            if self.left == 0:
                self.ended_at = time.perf_counter()
                self._all.set()

    def wait(self, timeout: float) -> bool:
        return self._all.wait(timeout)


def _recorder(base: type[Any], lags: Lags, finish: Finish) -> Any:
    """An actor class on ``base`` that records each chunk's lag and reports its stream's end."""

    class Recorder(base):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.chunks = 0
            self.previous = 0.0

        def on_receive(self, message: Any) -> None:
            _ref, (kind, payload) = message
            if kind == "data":
                now = time.time()
                if self.chunks:
                    lags.add(payload["created_at"], self.previous)
                self.previous = now
                self.chunks += 1
            elif kind == "done":
                finish.end(self.chunks)
            elif kind == "error":
                finish.end(self.chunks, payload)

    return Recorder


def run_actors(
    base: type[Any], url: str, streams: int, tokens: int, limit: float
) -> dict[str, Any]:
    """Supervised streams, one recipient actor of class ``base`` per stream."""
    lags, finish = Lags(), Finish(streams)
    recorder = _recorder(base, lags, finish)
    setup = time.perf_counter()
    recipients = [recorder.start() for _ in range(streams)]
    client = Ollama(url)
    params = generate_params(tokens)
    setup = time.perf_counter() - setup
    collections = Collections()
    collections.start()
    cpu, started = cpu_seconds(), time.perf_counter()
    for recipient in recipients:
        client.completion(stream=recipient, **params)
    launched = time.perf_counter() - started
    finished = finish.wait(limit)
    ended = finish.ended_at if finished else time.perf_counter()
    cpu = cpu_seconds() - cpu
    gcs = collections.stop()
    for recipient in recipients:
        recipient.stop(block=False)
    report = _report(finish, lags, ended - started, cpu, finished, setup=setup, launch=launched)
    return report | gcs


def run_async(
    kind: str, url: str, streams: int, tokens: int, limit: float, *, base_rss: float
) -> dict[str, Any]:
    """``asyncio.gather`` over one coroutine per stream, ours (``async for``) or official."""
    lags, finish = Lags(), Finish(streams)
    params = generate_params(tokens)

    async def ours(client: Ollama) -> None:
        chunks, previous = 0, 0.0
        try:
            async for chunk in client.completion(stream=True, **params):
                now = time.time()
                if chunks:
                    lags.add(chunk["created_at"], previous)
                previous = now
                chunks += 1
        except Exception as exc:
            finish.end(chunks, exc)
        else:
            finish.end(chunks)

    async def official(client: ollama.AsyncClient) -> None:
        chunks, previous = 0, 0.0
        try:
            async for part in await client.generate(stream=True, **params):
                now = time.time()
                assert part.created_at is not None
                if chunks:
                    lags.add(part.created_at, previous)
                previous = now
                chunks += 1
        except Exception as exc:
            finish.end(chunks, exc)
        else:
            finish.end(chunks)

    async def main() -> float:
        started = time.perf_counter()
        if kind == "async-for":
            client = Ollama(url)
            runs = [ours(client) for _ in range(streams)]
        else:
            pool = httpx.Limits(max_connections=None, max_keepalive_connections=None)
            host = url.removesuffix("/api")
            official_client = ollama.AsyncClient(host=host, limits=pool)
            runs = [official(official_client) for _ in range(streams)]
        await asyncio.gather(*runs)
        return started

    cpu, started = cpu_seconds(), time.perf_counter()

    def give_up() -> None:
        """Past the limit: report what arrived and leave (cancelling 10,000 tasks can take
        longer than the streams themselves)."""
        report = _report(finish, lags, time.perf_counter() - started, cpu_seconds() - cpu, False)
        print(json.dumps(report | {"base_rss_mb": base_rss}), flush=True)
        os._exit(0)

    watchdog = threading.Timer(limit, give_up)
    watchdog.daemon = True
    watchdog.start()
    started = asyncio.run(main())
    watchdog.cancel()
    cpu = cpu_seconds() - cpu
    return _report(finish, lags, finish.ended_at - started, cpu, True)


def _report(
    finish: Finish, lags: Lags, seconds: float, cpu: float, finished: bool, **extra: float
) -> dict[str, Any]:
    values = lags.values
    return {
        "finished": finished,
        "seconds": seconds,
        "chunks": finish.chunks,
        "errors": len(finish.errors),
        "unfinished": finish.left,
        "first_errors": finish.errors[:3],
        "lag_p50": percentile(values, 50),
        "lag_p99": percentile(values, 99),
        "lag_max": max(values) if values else float("nan"),
        "cpu": cpu,
        "peak_rss_mb": peak_rss_mb(),
        **extra,
    }


def _note_requests_sent() -> list[float]:
    """Record when each request is handed to its socket (``time.monotonic()``), by wrapping the
    engine's private ``Call._attach`` in this benchmark process: the client's side of "every
    request sent", apart from how fast the emulator accepts and reads them."""
    sent: list[float] = []
    attach = _engine.Call._attach

    def attach_and_note(call: _engine.Call, conn: Any, *, reused: bool) -> None:
        attach(call, conn, reused=reused)
        sent.append(time.monotonic())

    _engine.Call._attach = attach_and_note  # type: ignore[method-assign,assignment]
    return sent


def client_main(args: argparse.Namespace) -> None:
    """The child process: run one client against the emulator at ``args.url``; print JSON."""
    raise_fd_limit(args.streams + 1024)
    actors._loop.event_loop()
    sent = _note_requests_sent()
    base_rss = peak_rss_mb()
    if args.client in ("loop-actor", "thread-actor"):
        base: type[Any] = actors.LoopActor if args.client == "loop-actor" else actors.Actor
        result = run_actors(base, args.url, args.streams, args.tokens, args.limit)
    else:
        result = run_async(
            args.client, args.url, args.streams, args.tokens, args.limit, base_rss=base_rss
        )
    result["base_rss_mb"] = base_rss
    if sent:
        result["sent_spread"] = max(sent) - min(sent)
        result["sent"] = len(sent)
    print(json.dumps(result))


def run_case(client: str, streams: int, tokens: int, rate: float, limit: float) -> dict[str, Any]:
    """One client against a fresh paced emulator subprocess; the child's report plus ours."""
    raise_fd_limit(streams + 1024)  # inherited by the emulator process
    with EmulatorProcess(token_rate=rate) as emulator:
        assert emulator.pid is not None
        server_cpu = process_cpu_seconds(emulator.pid)
        args = ["--client", client, "--url", emulator.base_url, "--streams", str(streams)]
        args += ["--tokens", str(tokens), "--limit", str(limit)]
        result = run_child("bench.b2_concurrency", args, timeout=limit + 120)
        result["server_cpu"] = process_cpu_seconds(emulator.pid) - server_cpu
        arrivals = [info.started_at for info in emulator.requests if info.path == "/api/generate"]
        if arrivals:
            result["arrival_spread"] = max(arrivals) - min(arrivals)
    result |= {"client": client, "streams": streams, "tokens": tokens, "rate": rate}
    result["ideal"] = tokens / rate
    result["expected_chunks"] = streams * (tokens + 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client", choices=CLIENTS, help="(internal) run one client here")
    parser.add_argument("--url", help="(internal) the emulator's base URL")
    parser.add_argument("--streams", type=int, default=1_000)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--limit", type=float, default=120.0, help="seconds before giving up")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    args = parser.parse_args()
    if args.client:
        client_main(args)
        return
    for client in args.clients.split(","):
        result = run_case(client, args.streams, args.tokens, args.rate, args.limit)
        print(json.dumps(result))


if __name__ == "__main__":
    main()
