"""``make demo``: a supervised streaming completion, delivered chunk by chunk to an actor.

It talks to the Ollama at ``OLLAMA_HOST`` (or the default address) when one answers and has a
model; otherwise it starts the bundled emulator on a free port, says so, and has it cut the
stream once, so the supervisor's retry shows.

    python -m ollama_actor.demo [--model NAME] [--prompt TEXT]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, TextIO

import pykka

import actors
from ollama_actor import Ollama, OllamaError, Timeout

DEFAULT_PROMPT = "Why is the sky blue?"


class Printer(actors.Actor):
    """Prints each token the moment its message arrives, matching messages by their ref."""

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        self.out = out
        self.chunks = 0
        self.finished = threading.Event()

    def on_receive(self, message: Any) -> None:
        match message:
            case (_ref, ("data", {"response": str(token)})):
                self.chunks += 1
                self.out.write(token)
                self.out.flush()
            case (_ref, ("restart", {"attempt": attempt, "error": error})):
                self.chunks = 0  # the answer starts again from its beginning
                self.out.write(f"\n[retry {attempt} after: {error}]\n")
            case (_ref, ("done", response)):
                seconds = response.get("eval_duration", 0) / 1e9
                rate = (
                    f", {response.get('eval_count', 0) / seconds:.0f} tokens/s" if seconds else ""
                )
                reason = response.get("done_reason")
                self.out.write(f"\n\n[done: {self.chunks} chunks, reason {reason}{rate}]\n")
                self.finished.set()
            case (_ref, ("error", error)):
                self.out.write(f"\n\n[error: {error}]\n")
                self.finished.set()


def _first_model(client: Ollama) -> str | None:
    """The first local model of a server that answers quickly, or None."""
    try:
        models = client.list_models(timeout=Timeout(connect=1.0, read=3.0))["models"]
    except OllamaError:
        return None
    return str(models[0]["name"]) if models else None


@contextlib.contextmanager
def _server(model: str | None, out: TextIO) -> Iterator[tuple[Ollama, str]]:
    """A client for a real Ollama when one answers, else for a freshly started emulator."""
    client = Ollama()
    available = _first_model(client)
    if available is not None:
        out.write(f"Using Ollama at {client.base_url} with model {model or available}\n\n")
        with client:
            yield client, model or available
        return
    client.close()
    from ollama_actor.emulator import Emulator, cut

    with Emulator(token_rate=30.0) as emulator, Ollama(emulator.base_url) as client:
        out.write(
            f"No Ollama with a model answered at {Ollama().base_url}; "
            f"using the bundled emulator at {emulator.base_url}.\n"
            "It will cut the first stream after 6 chunks: watch the supervisor retry it.\n\n"
        )
        emulator.inject(cut(after=6), path="/api/generate")
        yield client, model or "llama3.2"


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", help="model name (default: the server's first model)")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT)
    args = parser.parse_args(argv)
    printer_ref = Printer.start(out)
    printer = printer_ref.proxy()
    try:
        with _server(args.model, out) as (client, model):
            started = time.monotonic()
            handle = client.completion(model=model, prompt=args.prompt, stream=printer_ref)
            try:
                handle.result(timeout=300)
                ok = True
            except OllamaError:
                ok = False  # the printer has already shown the error
            printer.finished.get().wait(5)
            out.write(f"[{time.monotonic() - started:.2f} s, stream {handle.ref}]\n")
            return 0 if ok else 1
    finally:
        with contextlib.suppress(pykka.ActorDeadError):
            printer_ref.stop()


if __name__ == "__main__":
    raise SystemExit(main())
