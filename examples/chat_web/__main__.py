"""``python -m examples.chat_web``: serve the chat page until Ctrl-C.

It chats with the Ollama at ``--ollama``, else at ``OLLAMA_HOST``; with neither it starts the
bundled emulator (paced at ``--token-rate`` tokens a second, so that there is time to press
Cancel) and says so.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from collections.abc import Iterator

from examples.chat_web.app import create_app
from examples.chat_web.server import WebServer
from ollama_actor import Ollama, OllamaError


@contextlib.contextmanager
def _ollama(url: str | None, token_rate: float) -> Iterator[str]:
    if url is not None:
        yield url
        return
    from ollama_actor.emulator import Emulator

    with Emulator(token_rate=token_rate) as emulator:
        print(f"no --ollama given: using the bundled emulator at {emulator.url}", flush=True)
        yield emulator.base_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.chat_web", description=__doc__)
    parser.add_argument(
        "--ollama",
        metavar="URL",
        default=os.environ.get("OLLAMA_HOST") or None,
        help="an Ollama server (default: OLLAMA_HOST, else the bundled emulator)",
    )
    parser.add_argument("--model", default="llama3.2", help="the model to chat with")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve the page on")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a name the page is served as, besides loopback ones and --host (repeatable)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    parser.add_argument(
        "--token-rate", type=float, default=15.0, help="the emulator's tokens per second"
    )
    args = parser.parse_args(argv)
    hosts = [args.host, *args.allow_host]
    with _ollama(args.ollama, args.token_rate) as base_url:
        try:
            client = Ollama(base_url)
        except OllamaError as exc:  # a bad --ollama or OLLAMA_HOST
            print(f"error: {exc}", file=sys.stderr)
            return 1
        with (
            client,
            WebServer(create_app(client, args.model, hosts=hosts), args.host, args.port) as server,
        ):
            print(f"chat page on {server.url} (model {args.model}); Ctrl-C stops", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
