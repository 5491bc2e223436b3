"""``ollama-actor``: Ollama's command line, on this library's supervised streaming actors.

    ollama-actor [--host URL ...] [--proxy URL | --no-proxy] [--json] [--debug]
                 [--timeout SECONDS] [-v] COMMAND ...

Commands: ``run MODEL [PROMPT...]`` and ``stop MODEL`` as the ``ollama`` command has them,
``generate MODEL [PROMPT]``, ``chat MODEL``, ``embed MODEL [TEXT...]``, ``pull``/``push``/
``create MODEL``, ``list``, ``ps``, ``show MODEL``, ``cp SOURCE DESTINATION``, ``rm MODEL...``,
``version``, and ``emulator`` (serves the bundled emulator). Answers are printed token by token
as the printing actor receives them; ``pull``, ``push`` and ``create`` show a progress bar per
layer; a conversation (``chat``, or ``run`` on a terminal) takes ``ollama run``'s commands.
``--host`` given several times makes a pool of servers (`OllamaPool`): answers come from one of
them, ``list`` and ``ps`` show every server's models with a HOST column.

Every error is one line on stderr (``--debug`` adds the traceback), and the exit code says whose
it was: 0 success, 1 the server or the connection, 2 a request that cannot succeed as written
(bad arguments, an invalid parameter, an unknown model: the classification that also decides
what is retried), 130 Ctrl-C (which cancels a running stream and closes its connection first).
An answer is printed once, whatever the retries (docs/cli.md).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import signal
import sys
import threading
import traceback
from typing import TYPE_CHECKING, TextIO

from ollama_actor._actors_check import check_actors
from ollama_actor._cli._args import SchemaFlags, build_parser
from ollama_actor._cli._exit import (
    BROKEN_PIPE,
    INTERRUPTED,
    OK,
    UsageError,
    describe,
    exit_code,
)
from ollama_actor._cli._terminal import for_terminal

if TYPE_CHECKING:
    from ollama_actor._timeout import Timeout

__all__ = ["main"]

_ONE_HOST = frozenset({"pull", "push", "create", "cp", "rm"})


def _interruptible() -> None:
    """Make Ctrl-C raise KeyboardInterrupt even if SIGINT was ignored by whoever started us."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _output_closed(out: TextIO) -> int:
    """The reader went away (``| head``): say nothing more, as a shell tool would."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
    return BROKEN_PIPE


def _timeout(args: argparse.Namespace) -> Timeout:
    from ollama_actor._timeout import DEFAULT_TIMEOUT, Timeout

    if args.timeout is None:
        return DEFAULT_TIMEOUT
    return Timeout(connect=args.timeout, read=args.timeout)


def _hosts(args: argparse.Namespace) -> str | list[str] | None:
    """``--host`` once (or not at all): one server; several times: a pool of them."""
    hosts: list[str] = args.host or []
    if len(hosts) <= 1:
        return hosts[0] if hosts else None
    if args.command in _ONE_HOST:
        raise UsageError(f"{args.command} manages the models of one server: give --host once")
    return hosts


def main(
    argv: list[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    for stream in (out, err):
        if isinstance(stream, io.TextIOWrapper):  # text the terminal cannot encode stays visible
            with contextlib.suppress(ValueError):
                stream.reconfigure(errors="backslashreplace")
    if isinstance(stdin, io.TextIOWrapper):  # bytes that are not text: U+FFFD, as Go's JSON
        with contextlib.suppress(ValueError):  # writes what `ollama run` read (and input() too)
            stdin.reconfigure(errors="replace")
    _interruptible()
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args, extras = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
            if args.command == "emulator":
                from ollama_actor.emulator.__main__ import main as emulator_main

                return emulator_main(extras, prog=f"{parser.prog} emulator")
            if extras:
                parser.error(f"unrecognized arguments: {' '.join(extras)}")
            if args.version:
                args.command = "version"
            if args.command is None:  # no command: what there is to do
                parser.print_help()
                return OK
    except SystemExit as exit:  # --help, or a usage error already printed
        return exit.code if isinstance(exit.code, int) else 2
    except KeyboardInterrupt:
        return INTERRUPTED
    schema: SchemaFlags | None = getattr(args, "schema", None)
    out, err = for_terminal(out, raw=args.raw_output), for_terminal(err, raw=args.raw_output)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, stream=err)
    else:  # the library's warnings would be more lines; the error line says what matters
        logging.getLogger().addHandler(logging.NullHandler())
    try:
        # Here, not at the top: --help and usage errors need neither the client nor the actors.
        check_actors()
        from ollama_actor._cli._commands import COMMANDS, Session
        from ollama_actor._client import Ollama

        if args.proxy is not None and args.no_proxy:
            raise UsageError("--proxy and --no-proxy cannot be used together")
        client = Ollama(
            _hosts(args), timeout=_timeout(args), proxy=args.proxy, trust_env=not args.no_proxy
        )
        with client:
            return COMMANDS[args.command](Session(args, client, stdin, out, err))
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        return _output_closed(out)
    except Exception as exc:
        if args.debug:
            traceback.print_exception(exc, file=err)
        flags = {
            "host": "--host",
            "base_url": "--host",
            "proxy": "--proxy",
            **(schema.flags if schema else {}),
        }
        err.write(f"error: {describe(exc, flags)}\n")
        err.flush()
        return exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
