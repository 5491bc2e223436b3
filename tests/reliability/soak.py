"""The soak: thousands of concurrent supervised streams, faults mixed in at random.

Faults are armed as one-shot rules on the emulator (a subprocess, so that it has its own core and
file descriptors); which request meets which fault depends on arrival order, so the expected end
of each stream is read back from the emulator's request log: a stream's requests, in order, each
with the fault it met. A stream must end with ``done`` (and exactly the right text) when its last
request met no fault, with the matching error when it met one a retry cannot mend, and with the
last error when its retry budget ran out; its restarts must equal its requests minus one. After
it all, threads, descriptors and Python objects must be back at their baseline. (The process's
RSS stays near its peak: the allocator keeps freed arenas; a second soak does not grow it.)
"""

from __future__ import annotations

import gc
import os
import random
import resource
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import actors
from actors import Backoff
from ollama_actor import Ollama, RetryPolicy, Timeout
from ollama_actor.emulator import (
    EmulatorProcess,
    Fault,
    cut,
    error_line,
    expected_tokens,
    invalid_utf8,
    malformed_line,
    stall,
    status,
)

RETRYABLE_FAULTS = (
    lambda: cut(after=2),
    lambda: stall(after=2),
    lambda: error_line(after=2),
    lambda: status(429),
    lambda: status(500),
    lambda: status(503),
)
FATAL_FAULTS = (
    lambda: malformed_line(after=2),
    lambda: invalid_utf8(after=2),
    lambda: status(400),
    lambda: status(404),
)
FATAL_ERRORS = {
    "malformed_line": "DecodeError",
    "invalid_utf8": "DecodeError",
    "status": "HTTPError",
}
RETRYABLE_ERRORS = {
    "cut": "ConnectionLost",
    "stall": "ReadTimeout",
    "error_line": "ResponseError",
    "status": "HTTPError",
}
RETRY = RetryPolicy(max_restarts=3, max_seconds=60.0, backoff=Backoff(min=0.02, max=0.2))
MODEL = "llama3.2"


class Collector(actors.LoopActor):
    """Keeps every stream's messages; sets `all_heard` once each expected stream has told
    something, and `finished` when all have ended."""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected = expected
        self.streams: dict[Any, list[tuple[str, Any]]] = {}
        self.ended = 0
        self.all_heard = threading.Event()
        self.finished = threading.Event()

    def on_receive(self, message: Any) -> None:
        ref, (kind, payload) = message
        messages = self.streams.get(ref)
        if messages is None:
            messages = self.streams[ref] = []
            if len(self.streams) >= self.expected:
                self.all_heard.set()
        messages.append((kind, payload))
        if kind in ("done", "error"):
            self.ended += 1
            if self.ended >= self.expected:
                self.finished.set()


@dataclass
class SoakReport:
    streams: int
    concurrency: int
    faults_armed: int
    wall_seconds: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    restarts: int = 0
    threads: tuple[int, int, int] = (0, 0, 0)
    """Before, peak, after."""
    fds: tuple[int, int, int] = (0, 0, 0)
    rss_mb: tuple[float, float, float] = (0.0, 0.0, 0.0)
    objects: tuple[int, int] = (0, 0)
    """Live objects of this project's classes (streams, calls, workers...), before and after."""
    problems: list[str] = field(default_factory=list)


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _our_objects() -> int:
    gc.collect()
    ours = ("actors.", "ollama_actor.")
    # A type's __module__ is not always a string (Cython's metatypes, as yaml's C loader has).
    modules = (getattr(type(o), "__module__", None) for o in gc.get_objects())
    return sum(1 for module in modules if isinstance(module, str) and module.startswith(ours))


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def soak(
    *,
    streams: int = 2000,
    concurrency: int = 2000,
    fault_share: float = 0.4,
    seed: int = 1,
    token_rate: float = 50.0,
    bound: float = 120.0,
) -> SoakReport:
    """Run the soak and check every stream; the report lists what went wrong, if anything."""
    rng = random.Random(seed)
    faults: list[Fault] = [
        rng.choice(RETRYABLE_FAULTS if rng.random() < 0.6 else FATAL_FAULTS)()
        for _ in range(int(streams * fault_share))
    ]
    report = SoakReport(streams, concurrency, len(faults))
    timeout = Timeout(connect=10.0, read=5.0, total=bound)  # generous: a stall is the only silence
    with (
        EmulatorProcess(token_rate=token_rate) as emu,
        Ollama(emu.base_url, timeout=timeout) as client,
    ):
        warm = Collector.start(1)  # start the loop, the default supervisor and the pools
        client.completion(model=MODEL, prompt="warm up", stream=warm)
        warm.proxy().finished.get().wait(10)
        warm.stop()
        objects_before = _our_objects()
        before = (threading.active_count(), _fds(), _rss_mb())
        peak = list(before)
        for fault in faults:
            emu.inject(fault, path="/api/generate")
        collector = Collector.start(streams)
        started = time.monotonic()
        prompts: dict[Any, str] = {}
        requests: list[Any] = []
        for wave in range(0, streams, concurrency):
            wave_end = min(streams, wave + concurrency)
            for i in range(wave, wave_end):
                prompt = f"soak stream {i}"
                handle = client.completion(
                    model=MODEL, prompt=prompt, stream=collector, retry=RETRY
                )
                prompts[handle.ref] = prompt
            deadline = time.monotonic() + bound
            while collector.proxy().ended.get() < wave_end:
                peak = [max(peak[0], threading.active_count()), max(peak[1], _fds()),
                        max(peak[2], _rss_mb())]  # fmt: skip
                if time.monotonic() > deadline:
                    report.problems.append(f"streams still running after {bound} s")
                    break
                time.sleep(0.05)
            # The emulator keeps a bounded log: take each wave's share and clear it.
            requests += [r for r in emu.requests if r.path == "/api/generate"]
            emu.clear_requests()
        report.wall_seconds = time.monotonic() - started
        results = collector.proxy().streams.get()
        collector.stop()
        _check(report, prompts, results, requests)
        del results, requests, prompts, collector
    gc.collect()
    after = (threading.active_count(), _fds(), _rss_mb())
    deadline = time.monotonic() + 10
    while (after[0] > before[0] or after[1] > before[1]) and time.monotonic() < deadline:
        time.sleep(0.05)
        after = (threading.active_count(), _fds(), _rss_mb())
    report.threads = (before[0], int(peak[0]), after[0])
    report.fds = (before[1], int(peak[1]), after[1])
    report.rss_mb = (round(before[2], 1), round(peak[2], 1), round(after[2], 1))
    report.objects = (objects_before, _our_objects())
    return report


def _check(
    report: SoakReport,
    prompts: dict[Any, str],
    results: dict[Any, list[tuple[str, Any]]],
    requests: list[Any],
) -> None:
    by_prompt: dict[str, list[Any]] = {}
    for request in sorted(requests, key=lambda r: r.id):
        by_prompt.setdefault((request.body or {}).get("prompt", ""), []).append(request)
    problems = report.problems
    for ref, prompt in prompts.items():
        messages = results.get(ref, [])
        kinds = [kind for kind, _ in messages]
        if not kinds or kinds[-1] not in ("done", "error"):
            problems.append(f"{prompt}: no terminal message ({kinds[-3:]})")
            continue
        if kinds.count("done") + kinds.count("error") != 1:
            problems.append(f"{prompt}: {kinds.count('done') + kinds.count('error')} terminals")
        attempts = by_prompt.get(prompt, [])
        restarts = kinds.count("restart")
        report.restarts += restarts
        if restarts != len(attempts) - 1:
            problems.append(f"{prompt}: {restarts} restarts for {len(attempts)} requests")
            continue
        last = attempts[-1]
        terminal, payload = messages[-1]
        outcome = "done" if terminal == "done" else type(payload).__name__
        report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
        if last.fault is None:
            expected = "done"
        elif last.fault in FATAL_ERRORS and (last.fault != "status" or last.status in (400, 404)):
            expected = FATAL_ERRORS[last.fault]
        else:
            expected = RETRYABLE_ERRORS.get(last.fault, "?")
        if outcome != expected:
            problems.append(f"{prompt}: ended {outcome}, its last request met {last.fault}")
            continue
        if outcome == "done":
            text = "".join(expected_tokens(MODEL, prompt))
            if payload.get("response") != text:
                problems.append(f"{prompt}: wrong text {payload.get('response')!r:.60}")
            since = max((i for i, k in enumerate(kinds) if k == "restart"), default=-1) + 1
            data = [p["response"] for k, p in messages[since:] if k == "data"]
            if "".join(data) != text:
                problems.append(f"{prompt}: the data after the last restart is not the answer")
