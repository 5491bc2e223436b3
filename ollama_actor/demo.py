"""``make demo``: a supervised streaming completion, delivered chunk by chunk to an actor.

It talks to the Ollama at ``OLLAMA_HOST`` (or the default address) when one answers, with the
model given, or else the first local model that can generate (by ``show``'s capabilities). When
no Ollama answers, or none of its models can generate, it starts the bundled emulator on a free
port, says so, and has it cut the stream once, so the supervisor's retry shows. An error is one
line on stderr, as the ``ollama-actor`` command prints it.

    python -m ollama_actor.demo [--model NAME] [--prompt TEXT]     (make demo [MODEL=NAME])
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
from ollama_actor._cli._exit import describe, exit_code

DEFAULT_PROMPT = "Why is the sky blue?"
_PROBE = Timeout(connect=1.0, read=3.0)


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
                self.out.write(f"\n[retry {attempt} after: {error}; the answer starts over]\n")
            case (_ref, ("done", response)):
                seconds = response.get("eval_duration", 0) / 1e9
                rate = (
                    f", {response.get('eval_count', 0) / seconds:.0f} tokens/s" if seconds else ""
                )
                reason = response.get("done_reason")
                self.out.write(f"\n\n[done: {self.chunks} chunks, reason {reason}{rate}]\n")
                self.finished.set()
            case (_ref, ("error", _error)):
                self.out.write("\n")  # main() says what went wrong, on stderr
                self.finished.set()


def _can_generate(client: Ollama, name: str) -> bool:
    """Whether ``show`` lists the completion capability (servers that list none: assume so)."""
    capabilities = client.show_model(model=name, timeout=_PROBE).get("capabilities")
    return capabilities is None or "completion" in capabilities


def _generating_model(client: Ollama) -> tuple[str | None, list[str]]:
    """The first local model that can generate, and those skipped because they cannot.

    Raises `ConnectError` (or another `OllamaError`) when no server answers.
    """
    skipped: list[str] = []
    for entry in client.list_models(timeout=_PROBE)["models"]:
        name = str(entry["name"])
        if _can_generate(client, name):
            return name, skipped
        skipped.append(name)
    return None, skipped


@contextlib.contextmanager
def _server(model: str | None, out: TextIO) -> Iterator[tuple[Ollama, str]]:
    """A client for a real Ollama when one answers, else for a freshly started emulator."""
    with Ollama() as client:
        try:
            available, skipped = _generating_model(client)
        except OllamaError as exc:
            why = f"No Ollama answered at {client.base_url} ({describe(exc)})"
        else:
            if model is not None or available is not None:
                chosen = model or available
                out.write(f"Using Ollama at {client.base_url} with model {chosen}\n\n")
                yield client, str(chosen)
                return
            cannot = f" ({', '.join(skipped)} cannot generate)" if skipped else ""
            why = f"The Ollama at {client.base_url} has no model that can generate{cannot}"
    from ollama_actor.emulator import Emulator, cut

    with Emulator(token_rate=30.0) as emulator, Ollama(emulator.base_url) as client:
        out.write(
            f"{why}; using the bundled emulator at {emulator.base_url}.\n"
            "It will cut the first stream after 6 chunks: watch the supervisor retry it.\n\n"
        )
        emulator.inject(cut(after=6), path="/api/generate")
        yield client, model or "llama3.2"


def _run(args: argparse.Namespace, out: TextIO) -> None:
    printer_ref = Printer.start(out)
    try:
        with _server(args.model, out) as (client, model):
            started = time.monotonic()
            handle = client.completion(model=model, prompt=args.prompt, stream=printer_ref)
            try:
                handle.result(timeout=300)
            finally:
                printer_ref.proxy().finished.get().wait(5)
            out.write(f"[{time.monotonic() - started:.2f} s, stream {handle.ref}]\n")
    finally:
        with contextlib.suppress(pykka.ActorDeadError):
            printer_ref.stop()


def main(argv: list[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run the demo; returns the exit code (0, or the ``ollama-actor`` command's for an error)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", help="model name (default: the first that can generate)")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT)
    args = parser.parse_args(argv)
    try:
        _run(args, out)
    except (OllamaError, TimeoutError) as exc:
        out.flush()
        err.write(f"error: {describe(exc)}\n")
        return exit_code(exc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
