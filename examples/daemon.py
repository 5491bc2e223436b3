"""A long-running supervision tree that keeps serving streams while Ollama goes away and back.

    root (Supervisor, one_for_one)
    ├── consumer   an actor, reached by its stable Address("consumer"), that tallies every stream
    ├── streams    a DynamicSupervisor that runs the StreamWorkers
    └── producer   a loop actor that starts a completion every `interval` seconds

Each stream is told to ``Address("consumer")``, so messages reach whichever incarnation of the
consumer is current. Streams that fail while the server is down are retried with backoff by
``streams``; streams that run out of retries end with ``("error", ...)``. Run it against the
Ollama at ``OLLAMA_HOST`` (or ``--host``, or the emulator) and kill the server for a moment to
watch it recover::

    python examples/daemon.py [--host URL] [--model llama3.2] [--seconds 30]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from typing import Any

import actors
from actors import Address, Backoff, ChildSpec, DynamicSupervisor, Supervisor, whereis
from ollama_actor import Ollama, OllamaError, RetryPolicy, Timeout

RETRY = RetryPolicy(max_restarts=8, max_seconds=20.0, backoff=Backoff(min=0.1, max=1.0))


class Consumer(actors.Actor):
    """Tallies each stream: how many chunks, restarts, and how it ended."""

    def __init__(self) -> None:
        super().__init__()
        self.streams: dict[Any, list[str]] = {}

    def on_receive(self, message: Any) -> None:
        match message:
            case (ref, (("data" | "restart" | "done" | "error") as kind, _)):
                self.streams.setdefault(ref, []).append(kind)

    def summary(self) -> dict[str, int]:
        """Streams by how they ended so far ("running" for those not ended)."""
        ends = Counter(kinds[-1] if kinds[-1] in ("done", "error") else "running"
                       for kinds in self.streams.values())  # fmt: skip
        ends["restarts"] = sum(kinds.count("restart") for kinds in self.streams.values())
        return dict(ends)

    def sequences(self) -> dict[Any, list[str]]:
        """Every stream's message kinds, in arrival order."""
        return {ref: list(kinds) for ref, kinds in self.streams.items()}


class Producer(actors.LoopActor):
    """Starts a completion every ``interval`` seconds, supervised by ``streams``."""

    def __init__(self, client: Ollama, model: str, interval: float) -> None:
        super().__init__()
        self.client = client
        self.model = model
        self.interval = interval
        self.started = 0

    def on_start(self) -> None:
        self._schedule()

    def on_receive(self, message: Any) -> None:
        if message == "tick":
            streams = whereis("streams")
            if streams is not None:
                self.started += 1
                self.client.completion(
                    model=self.model,
                    prompt=f"Question number {self.started}",
                    stream=Address("consumer"),
                    supervisor=streams,
                    retry=RETRY,
                )
            self._schedule()

    def _schedule(self) -> None:
        actors.send_after(self.interval, self.actor_ref, "tick")  # dropped if we have ended


def start_tree(base_url: str | None, model: str, interval: float = 0.05) -> tuple[Any, Ollama]:
    """Start the tree; returns the root supervisor's ref and the client it uses.

    ``base_url`` None means ``OLLAMA_HOST`` (else the default address), as for `Ollama`.
    """
    client = Ollama(base_url, timeout=Timeout(connect=1.0, read=2.0, total=60.0))
    root = Supervisor.start(
        [
            ChildSpec("consumer", Consumer.start, name="consumer"),
            ChildSpec(
                "streams",
                lambda: DynamicSupervisor.start(max_restarts=None),
                type="supervisor",
                name="streams",
            ),
            ChildSpec("producer", lambda: Producer.start(client, model, interval)),
        ],
        strategy="one_for_one",
    )
    return root, client


def stop_tree(root: Any, client: Ollama) -> None:
    """Stop the producer first, then the rest (the root stops children in reverse order)."""
    root.stop()
    client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description="a supervised streaming daemon")
    parser.add_argument("--host", help="the Ollama server (default: OLLAMA_HOST)")
    parser.add_argument("--model", default="llama3.2")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=0.2)
    args = parser.parse_args()
    try:
        root, client = start_tree(args.host, args.model, args.interval)
    except OllamaError as exc:  # a bad --host or OLLAMA_HOST
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            time.sleep(1.0)
            print(Address("consumer").proxy().summary().get(timeout=5), flush=True)
    finally:
        stop_tree(root, client)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
