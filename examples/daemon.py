"""A long-running daemon: a supervision tree that streams completions, drains on SIGTERM, and
shows what it is doing.

    daemon (Supervisor, one_for_one)
    ├── status     a StatusServer on loopback: /status (ollama-actor top URL) and /metrics
    ├── consumer   an actor, reached by its stable Address("consumer"), that tallies every stream
    ├── streams    a DynamicSupervisor that runs the StreamWorkers
    └── producer   a loop actor that starts a completion every `interval` seconds

`actors.Application` (what `actors.run` runs) runs it as a program: it starts the tree, tells
systemd it is ready (under ``Type=notify``), and on SIGTERM or Ctrl-C drains: new streams are
refused (the producer's next ones end with ``actors.Draining``), running ones get ``--drain``
seconds to finish, then the tree is stopped top-down and what still runs is cancelled (each
recipient still gets its one terminal message). A second signal stops at once. Streams that
fail while the server is down are retried with backoff by ``streams``. Run it against the
Ollama at ``OLLAMA_HOST`` (or ``--host``, or the emulator), watch it with
``ollama-actor top URL``, and stop it (or give ``--seconds``)::

    python examples/daemon.py [--host URL] [--model llama3.2] [--status-port 8765] [--drain 30]
                              [--seconds N]

When it has stopped, it prints one JSON line: every stream's message kinds, in order, and the
type of its error if it ended with one. docs/daemons.md runs it under systemd and in a container.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from typing import Any

import actors
from actors import Address, Backoff, ChildSpec, DynamicSupervisor, Supervisor, whereis
from ollama_actor import Ollama, OllamaError, RetryPolicy, StatusServer, Timeout
from ollama_actor.prometheus import PrometheusMetrics

RETRY = RetryPolicy(max_restarts=8, max_seconds=20.0, backoff=Backoff(min=0.1, max=1.0))
logger = logging.getLogger("daemon")


class Consumer(actors.Actor):
    """Tallies each stream: its message kinds in order, and the type of its error."""

    def __init__(self, tally: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.tally = tally  # owned by the caller, so that it outlives this incarnation

    def on_receive(self, message: Any) -> None:
        match message:
            case (ref, (("data" | "restart" | "done" | "error") as kind, payload)):
                entry = self.tally.setdefault(str(ref), {"kinds": [], "error": None})
                entry["kinds"].append(kind)
                if kind == "error":
                    entry["error"] = type(payload).__name__

    def summary(self) -> dict[str, int]:
        """Streams by how they ended so far ("running" for those not ended), and restarts."""
        ends = {"done": 0, "error": 0, "running": 0, "restarts": 0}
        for entry in self.tally.values():
            kinds = entry["kinds"]
            ends[kinds[-1] if kinds[-1] in ("done", "error") else "running"] += 1
            ends["restarts"] += kinds.count("restart")
        return ends


class Producer(actors.LoopActor):
    """Starts a completion every ``interval`` seconds (and ``burst`` at once), under
    ``streams``, told to ``Address("consumer")``."""

    def __init__(self, client: Ollama, model: str, interval: float, burst: int) -> None:
        super().__init__()
        self.client = client
        self.model = model
        self.interval = interval
        self.burst = burst
        self.started = 0

    def on_start(self) -> None:
        for _ in range(self.burst):
            self._ask()
        actors.send_after(self.interval, self.actor_ref, "tick")

    def on_receive(self, message: Any) -> None:
        if message == "tick":
            self._ask()
            actors.send_after(self.interval, self.actor_ref, "tick")  # dropped once we end

    def _ask(self) -> None:
        streams = whereis("streams")
        if streams is None:  # restarting
            return
        self.started += 1
        self.client.completion(
            model=self.model,
            prompt=f"Question number {self.started}",
            stream=Address("consumer"),
            supervisor=streams,
            retry=RETRY,
        )


def tree(
    client: Ollama,
    model: str,
    *,
    tally: dict[str, dict[str, Any]],
    interval: float = 0.2,
    burst: int = 0,
    status_port: int = 0,
    metrics: PrometheusMetrics | None = None,
) -> Any:
    """Start the tree; returns its root's ref (what `actors.run` takes from its start)."""
    return Supervisor.start(
        [
            ChildSpec(
                "status",
                lambda: StatusServer.start(port=status_port, metrics=metrics),
                name="status",
            ),
            ChildSpec("consumer", lambda: Consumer.start(tally), name="consumer"),
            ChildSpec(
                "streams",
                lambda: DynamicSupervisor.start(max_restarts=None),
                type="supervisor",
                name="streams",
            ),
            ChildSpec("producer", lambda: Producer.start(client, model, interval, burst)),
        ],
        strategy="one_for_one",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a supervised streaming daemon")
    parser.add_argument("--host", help="the Ollama server (default: OLLAMA_HOST)")
    parser.add_argument("--model", default="llama3.2")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between streams")
    parser.add_argument("--burst", type=int, default=0, help="streams to start at once")
    parser.add_argument("--drain", type=float, default=30.0, help="seconds streams get to end")
    parser.add_argument("--status-port", type=int, default=0, help="loopback; 0: any free one")
    parser.add_argument("--seconds", type=float, help="then stop by itself, as on SIGTERM")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        client = Ollama(args.host, timeout=Timeout(connect=1.0, read=2.0, total=60.0))
    except OllamaError as exc:  # a bad --host or OLLAMA_HOST
        print(f"error: {exc}", file=sys.stderr)
        return 1
    metrics = PrometheusMetrics().attach()
    tally: dict[str, dict[str, Any]] = {}

    def start() -> Any:
        root = tree(
            client,
            args.model,
            tally=tally,
            interval=args.interval,
            burst=args.burst,
            status_port=args.status_port,
            metrics=metrics,
        )
        url = Address("status").proxy().url.get(timeout=5)
        print(f"status at {url} (ollama-actor top {url})", flush=True)
        return root

    app = actors.Application(start, name="daemon", drain=args.drain)
    if args.seconds is not None:
        timer = threading.Timer(args.seconds, app.stop)
        timer.daemon = True
        timer.start()
    with client:
        code = app.run()
    metrics.detach()
    print(json.dumps({"exit_code": code, "streams": tally}), flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
