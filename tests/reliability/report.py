"""Write ``docs/reliability.md``: the fault matrix, the official client beside it, and a soak.

    python -m tests.reliability.report [--streams N] [--concurrency N] [--out PATH]

``make soak`` runs it with a long soak. Every cell is checked as the tests check it, so the
report cannot show a cell that breaks the contract: the run fails instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import ollama

from ollama_actor.emulator import Emulator, EmulatorProcess, drip

from .matrix import ENDPOINTS, FAULTS, MODES, PATHS, FaultCase, run_cell
from .soak import SoakReport, soak

OUT = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
OFFICIAL_TIMEOUT = 3.0


def official_client(case: FaultCase) -> str:
    """What ollama-python 0.6.3 does when it iterates a generate stream that meets ``case``."""
    started = time.monotonic()

    def run(host: str, kill: EmulatorProcess | None = None) -> str:
        client = ollama.Client(host=host, timeout=OFFICIAL_TIMEOUT)
        chunks = 0
        try:
            for _ in client.generate(model="llama3.2", prompt="Why is the sky blue?", stream=True):
                chunks += 1
                if kill is not None and chunks == 2:
                    kill.kill()
        except Exception as exc:
            kind = f"{type(exc).__module__.split('.')[0]}.{type(exc).__name__}"
            return f"raises `{kind}` after {chunks} chunks"
        return f"completes ({chunks} chunks)"

    if case.special == "refused":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            result = run(f"http://127.0.0.1:{s.getsockname()[1]}")
    elif case.special == "killed":
        with EmulatorProcess() as emu:
            emu.inject(drip(0.05), path=PATHS["generate"])
            result = run(emu.url, kill=emu)
    else:
        with Emulator() as emu:
            assert case.fault is not None
            emu.inject(case.fault(), path=PATHS["generate"])
            result = run(emu.url)
    if "ReadTimeout" in result:
        result += f" (only with `timeout={OFFICIAL_TIMEOUT}` set: by default it waits forever)"
    elif case.name.startswith("line over") and result.startswith("completes"):
        result += " (no line limit: memory grows with the line)"
    return result + f" [{time.monotonic() - started:.1f} s]"


def matrix_table() -> tuple[list[str], float]:
    started = time.monotonic()
    header = ["fault"] + [f"{e} / {m}" for e in ENDPOINTS for m in MODES] + ["official client"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for case in FAULTS:
        cells = []
        for endpoint in ENDPOINTS:
            for mode in MODES:
                cell = run_cell(case, endpoint, mode)
                text = cell.outcome
                if cell.restarts:
                    text += f" ({cell.restarts} restart{'s' if cell.restarts > 1 else ''})"
                cells.append(text)
        lines.append(f"| {case.name} | " + " | ".join(cells) + f" | {official_client(case)} |")
    return lines, time.monotonic() - started


def soak_lines(report: SoakReport) -> list[str]:
    outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(report.outcomes.items()))
    return [
        f"- Streams: {report.streams}, at most {report.concurrency} at once, "
        f"{report.faults_armed} faults armed (one-shot, random kinds).",
        f"- Wall time: {report.wall_seconds:.1f} s; restarts: {report.restarts}; "
        f"outcomes: {outcomes}.",
        f"- Threads before / peak / after: {' / '.join(map(str, report.threads))}.",
        f"- File descriptors before / peak / after: {' / '.join(map(str, report.fds))}.",
        f"- RSS MiB before / peak / after: {' / '.join(map(str, report.rss_mb))} "
        "(the allocator keeps freed arenas; a second soak does not grow it, see test_soak).",
        f"- Live objects of this project's classes before / after: "
        f"{report.objects[0]} / {report.objects[1]}.",
        f"- Problems found: {len(report.problems)}.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=5_000)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.getLogger("actors").setLevel(logging.ERROR)  # a line per given-up stream is noise here
    table, matrix_seconds = matrix_table()
    report = soak(streams=args.streams, concurrency=args.concurrency, bound=600.0)
    if report.problems:
        raise SystemExit("the soak found problems:\n" + "\n".join(report.problems[:50]))
    text = TEMPLATE.format(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        table="\n".join(table),
        matrix_seconds=matrix_seconds,
        soak="\n".join(soak_lines(report)),
    )
    args.out.write_text(text)
    print(f"wrote {args.out}")


TEMPLATE = """\
# Reliability

Generated by `make soak` (`python -m tests.reliability.report`) on {date}, {machine}.
The same checks run, smaller, in `make test` (`tests/reliability/`).

## The fault matrix

Every fault the emulator can inject, against generate, chat and pull, consumed three ways:
iterating the `Streaming`, `Streaming.send_to` an `Inbox`, and a supervised `stream=recipient`
(retry policy: 3 restarts in 30 s, backoff 10 to 50 ms). A cell shows how the stream ended:
`done`, or the `OllamaError` it ended with, and the restarts on the way. Every cell was checked:

- iteration raises an `OllamaError` subclass (never httpx, json or socket errors) within the
  configured timeouts (read 0.5 s, total 30 s), and no cell took longer than 15 s;
- delivery tells each ref `data* (restart data*)* (done | error)`, exactly one terminal message,
  nothing after it, and no `{{"error": ...}}` line as data; `send_to` returns or raises what it
  told;
- a one-off retryable fault (cut, stall, error line, 429, 500, 503) is retried to `done`; a fault a
  retry cannot mend (malformed or non-UTF-8 line, a line over the limit, 400, 404) is not retried;
  a fault every retry meets again (refused, a dead server) ends after the budget with its error.

The last column is what the official `ollama` client (0.6.3) does when it iterates a generate
stream that meets the same fault (its own exceptions, or httpx's and json's, leak through).

{table}

(Matrix run: {matrix_seconds:.0f} s.)

## Soak

Thousands of concurrent supervised generate streams against the emulator in its own process
(paced at 50 tokens/s), one-shot faults of random kinds armed for 40% of them.
Each stream's outcome is checked against the emulator's request log: `done` with exactly the
right text after its last restart when its last request met no fault, the matching error
otherwise, and restarts equal to its requests minus one.

{soak}

## Kill and restart

`tests/reliability/test_kill_restart.py` SIGKILLs the emulator process under 300 live
supervised streams and a supervision tree, restarts it on the same port 0.5 s later, and checks
that every stream ends with `done` and the right text after its restarts, that the tree is
intact, and that threads and descriptors return to their baseline. `examples/daemon.py` and its
test do the same for a long-running daemon.

## Bad input and secure defaults

- Every parameter of every endpoint refuses a value of the wrong type with a `ValidationError`
  naming it, before any I/O (`tests/reliability/test_bad_input.py`); blob digests must be
  `sha256:` and 64 lowercase hex digits before they reach a URL; model names and other strings
  go only into JSON bodies (a name with CRLF, `../` or `?` leaves path and headers untouched).
- An endless line ends with `LineTooLong` at the client's limit; endless blank lines end at the
  total bound; a whole response over `max_body` is refused; a slow consumer stops reading
  (backpressure) rather than buffering everything.
- TLS certificates are verified by default (`verify=False` or an `ssl.SSLContext` changes it);
  redirects are never followed, so credentials cannot be sent to another origin; API keys are
  hidden in every repr, log record and error text; the emulator binds to loopback unless told;
  nothing from the server is evaluated or unpickled (JSON only)
  (`tests/reliability/test_secure_defaults.py`).
"""


if __name__ == "__main__":
    main()
