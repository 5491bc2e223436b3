"""Throughput of the Ollama emulator, measured from raw-socket clients.

1. One unpaced ``/api/generate`` stream of 20,000 tokens read by a blocking socket: chunks/s.
2. N concurrent streams (default 1,000) paced at 20 tokens/s, 40 tokens each (ideal 2 s), read by
   an asyncio raw-socket client: wall time, chunks/s, how late the last chunk came, and the CPU
   time used by the emulator process and by the client.

The emulator runs as a subprocess (``EmulatorProcess``) so its CPU time is its own.

    .venv/bin/python bench/emulator_throughput.py [--streams 1000] [--tokens 40] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import time

from ollama_actor.emulator import EmulatorProcess

_TICKS = os.sysconf("SC_CLK_TCK")


def _request(port: int, tokens: int) -> bytes:
    body = json.dumps(
        {"model": "llama3.2", "prompt": "benchmark", "options": {"num_predict": tokens}}
    ).encode()
    return (
        b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%b" % (port, len(body), body)
    )


def _count_chunks(body: bytes) -> int:
    """Parse a complete chunked body; the number of non-empty chunks."""
    count = 0
    at = 0
    while True:
        end = body.index(b"\r\n", at)
        size = int(body[at:end], 16)
        if size == 0:
            return count
        count += 1
        at = end + 2 + size + 2


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def single_stream(emulator: EmulatorProcess, tokens: int) -> None:
    """One unpaced stream, read as fast as a blocking socket can."""
    with socket.create_connection(("127.0.0.1", emulator.port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        started = time.perf_counter()
        sock.sendall(_request(emulator.port, tokens))
        data = bytearray()
        while not data.endswith(b"\r\n0\r\n\r\n"):
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        elapsed = time.perf_counter() - started
    body = bytes(data[data.index(b"\r\n\r\n") + 4 :])
    chunks = _count_chunks(body)
    print(
        f"single stream: {chunks} chunks ({len(body) / 1e6:.1f} MB) in {elapsed:.3f} s "
        f"= {chunks / elapsed:,.0f} chunks/s"
    )


async def _one_paced(port: int, tokens: int, lags: list[float], started: float) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_request(port, tokens))
    data = bytearray()
    while not data.endswith(b"\r\n0\r\n\r\n"):
        chunk = await reader.read(65536)
        if not chunk:
            break
        data += chunk
    lags.append(time.perf_counter() - started)
    writer.close()
    body = bytes(data[data.index(b"\r\n\r\n") + 4 :])
    return _count_chunks(body)


async def _many(port: int, streams: int, tokens: int, rate: float) -> None:
    lags: list[float] = []
    started = time.perf_counter()
    counts = await asyncio.gather(
        *(_one_paced(port, tokens, lags, started) for _ in range(streams))
    )
    wall = time.perf_counter() - started
    ideal = (tokens + 1) / rate
    total = sum(counts)
    lags.sort()
    print(
        f"{streams} streams x {tokens} tokens at {rate:g}/s: {total} chunks in {wall:.2f} s "
        f"(ideal {ideal:.2f} s) = {total / wall:,.0f} chunks/s; stream end p50 "
        f"{lags[len(lags) // 2]:.2f} s, max {lags[-1]:.2f} s"
    )


def many_streams(streams: int, tokens: int, rate: float) -> None:
    """Many concurrent paced streams; CPU of the emulator process and of this client."""
    with EmulatorProcess(token_rate=rate) as emulator:
        assert emulator.pid is not None
        server_cpu = _cpu_seconds(emulator.pid)
        client = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        asyncio.run(_many(emulator.port, streams, tokens, rate))
        wall = time.perf_counter() - started
        server_used = _cpu_seconds(emulator.pid) - server_cpu
        after = resource.getrusage(resource.RUSAGE_SELF)
        client_used = after.ru_utime + after.ru_stime - client.ru_utime - client.ru_stime
        print(
            f"  emulator CPU {server_used:.2f} s ({server_used / wall:.0%} of a core), "
            f"client CPU {client_used:.2f} s ({client_used / wall:.0%} of a core)"
        )


def main() -> None:
    """Run both measurements."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--single-tokens", type=int, default=20_000)
    parser.add_argument("--streams", type=int, default=1_000)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.streams + 256)), hard))
    with EmulatorProcess() as emulator:
        for _ in range(3):
            single_stream(emulator, args.single_tokens)
    many_streams(args.streams, args.tokens, args.rate)


if __name__ == "__main__":
    main()
