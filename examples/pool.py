"""A daemon that spreads streams over three Ollama servers while one of them crashes and returns.

It starts three emulator processes (llama3.2 in memory on each), one client for all of them
(``Ollama([url, url, url])``, a pool) and a `Printer` actor, then starts a supervised stream every
``--interval`` seconds for ``--seconds`` seconds. A third of the way through it SIGKILLs one
emulator; two thirds through it starts it again on its port. The streams the crash cut restart on
a server that is up (their ``("restart", {...})`` message names it), the pool sends nothing to
the dead server but probes, and takes it back once a probe is answered. Every stream ends
``done`` with its whole text; the printer says where each one ran as it ends::

    python examples/pool.py [--seconds 6] [--interval 0.05] [--tokens 20] [--rate 20]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from typing import Any, TextIO

import actors
from actors import Backoff, Ref
from ollama_actor import Ollama, OllamaPool, RetryPolicy, StreamHandle, Timeout
from ollama_actor.emulator import EmulatorProcess, expected_tokens

MODEL = "llama3.2"
RETRY = RetryPolicy(max_restarts=5, max_seconds=10.0, backoff=Backoff(min=0.05, max=1.0))


class Printer(actors.Actor):
    """Prints each stream's end: its hosts in order, and whether its text is whole.

    The main thread tells it ``("watch", handle, number, expected_text)`` for each stream it
    starts; the stream's own messages may come first, so both are kept until both are in.
    """

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        self.out = out
        self.watched: dict[Ref, tuple[StreamHandle, int, str]] = {}
        self.texts: dict[Ref, list[str]] = {}
        self.ends: dict[Ref, tuple[str, Any]] = {}
        self.outcomes: Counter[str] = Counter()
        self.ended = 0
        self.expected: int | None = None
        self.all_ended = threading.Event()

    def on_receive(self, message: Any) -> None:
        match message:
            case ("watch", handle, number, text):
                self.watched[handle.ref] = (handle, number, text)
                self._maybe_print(handle.ref)
            case ("expect", count):
                self.expected = count
                self._check_all_ended()
            case (ref, ("data", chunk)):
                self.texts.setdefault(ref, []).append(chunk.get("response", ""))
            case (ref, ("restart", _info)):
                self.texts[ref] = []  # the answer starts again
            case (ref, (("done" | "error") as kind, payload)):
                self.ends[ref] = (kind, payload)
                self._maybe_print(ref)

    def _maybe_print(self, ref: Ref) -> None:
        if ref not in self.watched or ref not in self.ends:
            return
        handle, number, expected = self.watched[ref]
        kind, payload = self.ends[ref]
        hosts = " -> ".join(url.rsplit(":", 1)[-1] for url in handle.hosts)
        if kind == "done":
            whole = "".join(self.texts.get(ref, [])) == expected
            outcome = "done" if whole else "done, text NOT whole"
        else:
            outcome = f"error: {payload}"
        self.outcomes[outcome] += 1
        self.outcomes["restarted"] += handle.attempt > 0
        self.ended += 1
        self.out.write(f"stream {number:3}: {outcome:<8} on port {hosts}\n")
        self._check_all_ended()

    def _check_all_ended(self) -> None:
        if self.expected is not None and self.ended >= self.expected:
            self.all_ended.set()

    def summary(self) -> dict[str, int]:
        return dict(self.outcomes)


def run(seconds: float, interval: float, tokens: int, rate: float, out: TextIO) -> dict[str, Any]:
    """The whole show; returns the printer's tally and what the pool knew of each host."""
    servers = [EmulatorProcess(token_rate=rate, loaded=[MODEL]) for _ in range(3)]
    for server in servers:
        server.start()
    printer_ref = Printer.start(out)
    printer = printer_ref.proxy()
    victim = servers[1]
    client = Ollama([s.url for s in servers], timeout=Timeout(connect=2, read=10))
    assert isinstance(client, OllamaPool)
    try:
        out.write(f"pool: {', '.join(s.url for s in servers)}; port {victim.port} will crash\n")
        started, number = time.monotonic(), 0
        killed = restarted = False
        options = {"num_predict": tokens}
        while (elapsed := time.monotonic() - started) < seconds:
            if not killed and elapsed >= seconds / 3:
                victim.kill()
                killed = True
                out.write(f"--- SIGKILL port {victim.port} at {elapsed:.1f} s\n")
            if not restarted and elapsed >= 2 * seconds / 3:
                victim.start()
                restarted = True
                out.write(f"--- port {victim.port} started again at {elapsed:.1f} s\n")
            prompt = f"Question number {number}"
            handle = client.completion(
                model=MODEL, prompt=prompt, options=options, stream=printer_ref, retry=RETRY
            )
            text = "".join(expected_tokens(MODEL, prompt, options))
            printer_ref.tell(("watch", handle, number, text))
            number += 1
            time.sleep(interval)
        printer_ref.tell(("expect", number))
        ended = printer.all_ended.get(timeout=10).wait(tokens / rate + 30)
        hosts = client.hosts()
        out.write("\nhost                      up     requests  models\n")
        for host in hosts:
            models = ", ".join(host["models"])
            out.write(f"{host['url']:<25} {host['up']!s:<6} {host['requests']:>8}  {models}\n")
        summary = printer.summary().get(timeout=10)
        out.write(f"\n{number} streams: {summary}\n")
        return {"streams": number, "ended": ended, "outcomes": summary, "hosts": hosts}
    finally:
        client.close()
        printer_ref.stop()
        for server in servers:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="how long to start streams")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between streams")
    parser.add_argument("--tokens", type=int, default=20, help="chunks per stream")
    parser.add_argument("--rate", type=float, default=20.0, help="chunks per second")
    args = parser.parse_args()
    result = run(args.seconds, args.interval, args.tokens, args.rate, sys.stdout)
    whole = result["outcomes"].get("done", 0) == result["streams"]
    sys.exit(0 if result["ended"] and whole else 1)


if __name__ == "__main__":
    main()
