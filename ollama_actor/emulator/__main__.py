"""``python -m ollama_actor.emulator``: serve the emulator until SIGTERM or SIGINT.

Prints ``listening on http://HOST:PORT`` (the real port, also for ``--port 0``) once it accepts
connections, then nothing else on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys

from ._access import split_origins
from ._base import url_host
from ._server import Server
from ._settings import DEFAULT_VERSION, Settings

PROG = "python -m ollama_actor.emulator"


def _arguments(argv: list[str] | None, prog: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="A faithful, fast Ollama emulator with fault injection.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=11434, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--token-rate", type=float, default=None, help="tokens/s per stream (default: unpaced)"
    )
    parser.add_argument(
        "--first-token-delay", type=float, default=0.0, help="seconds before the first token"
    )
    parser.add_argument(
        "--max-queue", type=int, default=512, help="requests waiting for a slot before 503"
    )
    parser.add_argument(
        "--num-parallel", type=int, default=None, help="generations at once (default: no limit)"
    )
    parser.add_argument("--version", default=DEFAULT_VERSION, help="version /api/version reports")
    parser.add_argument(
        "--origins",
        default=os.environ.get("OLLAMA_ORIGINS"),
        help="web origins allowed besides Ollama's defaults, comma-separated, as OLLAMA_ORIGINS "
        "(its default)",
    )
    parser.add_argument(
        "--loaded",
        default="",
        help="local models in memory from the start (/api/ps), comma-separated",
    )
    return parser.parse_args(argv)


async def _serve(server: Server, host: str, port: int) -> None:
    bound = await server.start(host, port)
    # A long-lived server of small objects: keep the collector off the hot path.
    gc.freeze()
    gc.set_threshold(50_000, 50, 50)
    print(f"listening on http://{url_host(host)}:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main(argv: list[str] | None = None, *, prog: str = PROG) -> int:
    """Run the emulator from the command line (``prog``: how its help names the command)."""
    args = _arguments(argv, prog)
    settings = Settings(
        token_rate=args.token_rate,
        first_token_delay=args.first_token_delay,
        num_parallel=args.num_parallel,
        max_queue=args.max_queue,
        version=args.version,
        origins=tuple(split_origins(args.origins)),
        loaded=tuple(name.strip() for name in args.loaded.split(",") if name.strip()),
    )
    try:
        server = Server(settings)
    except ValueError as exc:  # a bad OLLAMA_ORIGINS entry (Ollama does not start either), --loaded
        print(f"error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_serve(server, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
