"""Helpers shared by the benchmarks: clocks, percentiles, the machine, child processes."""

from __future__ import annotations

import calendar
import datetime as dt
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODEL = "llama3.2"
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    """CPU time (user + system) of this process so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float:
    """CPU time of another process (user + system), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def peak_rss_mb() -> float:
    """The peak resident set size of this process, in MB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file limit towards ``wanted`` (bounded by the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def generate_params(tokens: int, prompt: str = "benchmark") -> dict[str, Any]:
    """Keyword arguments of one ``/api/generate`` request streaming ``tokens`` content chunks."""
    return {"model": MODEL, "prompt": prompt, "options": {"num_predict": tokens}}


def seconds_of_day(created_at: str) -> float:
    """Ollama's ``created_at`` (RFC 3339, UTC) as seconds since midnight UTC."""
    clock = created_at[11:].rstrip("Z")
    hours, minutes, seconds = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def lag_seconds(created_at: str, handled_at: float) -> float:
    """From a chunk's ``created_at`` to ``handled_at`` (a ``time.time()``), wrapping at midnight."""
    lag = handled_at % 86400 - seconds_of_day(created_at)
    if lag < -43200:
        lag += 86400
    return lag


@dataclass(frozen=True)
class Machine:
    """What the figures were measured on."""

    cpu: str
    cores: int
    python: str
    system: str
    packages: dict[str, str]
    date: str


def machine() -> Machine:
    """The CPU model, core count, Python, kernel and package versions, and today's date."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    packages = {}
    for name in ("ollama-actor", "pykka", "httpx", "ollama", "pydantic", "orjson"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = "not installed"
    return Machine(
        cpu=cpu,
        cores=os.cpu_count() or 0,
        python=f"{platform.python_implementation()} {platform.python_version()}",
        system=f"{platform.system()} {platform.release()}",
        packages=packages,
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def run_child(
    module: str, args: list[str], timeout: float, *, python: str = sys.executable
) -> dict[str, Any]:
    """Run ``python -m module args`` and return the JSON object it prints last on stdout.

    A child that fails or times out yields ``{"failed": "<why>"}`` instead of raising, so one
    broken case does not lose the rest of the run. ``python`` is the interpreter (another
    virtual environment's, for a plain install); the benchmarks come from this checkout.
    """
    command = [python, "-m", module, *args]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    try:
        done = subprocess.run(
            command,
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"failed": f"did not finish within {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"failed": f"exit {done.returncode}: {tail[:200]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


class Lags:
    """Delivery lags, from each chunk's ``created_at`` to the moment it was handled.

    `add` costs well under a microsecond (the minute's epoch is cached), so recording every
    chunk hardly loads the client it measures; values are kept as doubles (8 bytes each).
    """

    def __init__(self) -> None:
        self.values = array("d")
        self._minutes: dict[str, float] = {}

    def add(self, created_at: str, handled_at: float) -> None:
        """Record one chunk; ``handled_at`` is a ``time.time()``."""
        minute = created_at[:17]
        base = self._minutes.get(minute)
        if base is None:
            base = float(calendar.timegm(time.strptime(minute, "%Y-%m-%dT%H:%M:")))
            self._minutes[minute] = base
        self.values.append(handled_at - base - float(created_at[17:].rstrip("Z")))


class Collections:
    """Garbage collections in this process from `start` on: the count per generation and the
    seconds spent in them (all threads), through ``gc.callbacks`` (the benchmark's own hook;
    the library sets nothing on the collector)."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._began = 0.0

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def stop(self) -> dict[str, list[float]]:
        gc.callbacks.remove(self._callback)
        return {"gc_counts": list(self.counts), "gc_seconds": list(self.seconds)}

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            generation = info["generation"]
            self.counts[generation] += 1
            self.seconds[generation] += time.perf_counter() - self._began
