"""The argument parser. Each endpoint's flags are generated from `_schemas.ENDPOINTS`.

A parameter of the endpoint's table becomes ``--name`` (underscores as dashes) with the table's
description as its help: a yes/no parameter is a ``--name/--no-name`` switch, a text parameter
takes its text, and any other takes a JSON value (``--keep-alive 300``, ``--format '{...}'``),
plain text where the text is not JSON (``--keep-alive 5m``, ``--format json``), or ``@FILE`` to
read the value from a file. ``options`` becomes ``--option KEY=VALUE`` (repeatable; with
``--unchecked-options`` names this release does not know are sent too) and ``images`` becomes
``--image FILE`` (repeatable). The client then checks the values, so the
command line and the library refuse the same things with the same words.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from ollama_actor._cli._exit import UNCHECKED, USAGE, UsageError
from ollama_actor._schemas import ENDPOINTS, UncheckedOptions, boolean, model_name, string

__all__ = ["Parser", "SchemaFlags", "build_parser", "schema_params"]

PROG = "ollama-actor"


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"error: {message} (see '{self.prog} --help')\n")


@dataclass(frozen=True)
class SchemaFlags:
    """The flags one command generated from its endpoint's parameter table."""

    endpoint: str
    dests: dict[str, str] = field(default_factory=dict)
    """parameter -> argparse dest"""
    flags: dict[str, str] = field(default_factory=dict)
    """parameter -> the flag that sets it (to name it in error messages)"""


def json_or_text(text: str) -> Any:
    """A flag's value: JSON if it reads as JSON, else the text; ``@FILE`` reads a file."""
    if text.startswith("@"):
        try:
            text = Path(text[1:]).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise argparse.ArgumentTypeError(f"cannot read {text[1:]}: {exc}") from None
    try:
        return json.loads(text)
    except ValueError:
        return text


def add_schema_flags(
    parser: argparse.ArgumentParser,
    endpoint: str,
    *,
    positional: tuple[str, ...] = (),
    omit: tuple[str, ...] = (),
) -> None:
    """Add a flag for each parameter of ``endpoint`` not given positionally nor omitted."""
    schema = SchemaFlags(endpoint)
    for name, param in ENDPOINTS[endpoint].params.items():
        if name in positional or name in omit:
            continue
        dest = f"param_{name}"
        flag = "--" + name.replace("_", "-")
        doc = param.doc
        if name == "options":
            flag = "--option"
            parser.add_argument(
                "-o", flag, action="append", dest=dest, metavar="KEY=VALUE",
                help=f"{doc}; repeatable (e.g. -o temperature=0.2 -o num_ctx=8192)",
            )  # fmt: skip
            parser.add_argument(
                UNCHECKED, action="store_true", dest=f"{dest}_unchecked",
                help="send -o names this release does not know (options newer than it)",
            )  # fmt: skip
        elif name == "images":
            flag = "--image"
            parser.add_argument(flag, action="append", dest=dest, metavar="FILE",
                                help=f"{doc}; a file to send, repeatable")  # fmt: skip
        elif param.check is boolean:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, dest=dest, help=doc)
        elif param.check is string or param.check is model_name:
            parser.add_argument(flag, dest=dest, metavar="TEXT", help=doc)
        elif name == "think":
            parser.add_argument(
                flag, dest=dest, nargs="?", const=True, type=json_or_text, metavar="LEVEL",
                help=f"{doc}; --think alone means true",
            )  # fmt: skip
        else:
            parser.add_argument(
                flag, dest=dest, type=json_or_text, metavar="VALUE",
                help=f"{doc} (JSON, plain text, or @FILE)",
            )  # fmt: skip
        schema.dests[name] = dest
        schema.flags[name] = flag
    parser.set_defaults(schema=schema)


def schema_params(args: argparse.Namespace) -> dict[str, Any]:
    """The endpoint parameters the command line set (unset flags are left out)."""
    schema: SchemaFlags | None = getattr(args, "schema", None)
    if schema is None:
        return {}
    params: dict[str, Any] = {}
    for name, dest in schema.dests.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        if name == "options":
            value = _options(value)
            if getattr(args, f"{dest}_unchecked", False):
                value = UncheckedOptions(value)
        elif name == "images":
            value = [_read_bytes(path) for path in value]
        params[name] = value
    return params


def _options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--option takes KEY=VALUE, not {pair!r}")
        options[key.strip()] = json_or_text(value)
    return options


def _read_bytes(path: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def _add_global(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The options every command takes, before or after its name.

    A command's copy leaves the value alone unless given (SUPPRESS), so that
    ``ollama-actor --json list`` and ``ollama-actor list --json`` mean the same.
    """

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--host",
        metavar="URL",
        action="append",
        default=default(None),
        help="the Ollama server (default: OLLAMA_HOST, else 127.0.0.1:11434); given several "
        "times, a pool of servers that shares the work (docs/scaling.md)",
    )
    group.add_argument(
        "--proxy",
        metavar="URL",
        default=default(None),
        help="send every request through this HTTP proxy, http://[user:pass@]host:port "
        "(default: HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY; never for loopback)",
    )
    group.add_argument(
        "--no-proxy",
        action="store_true",
        default=default(False),
        help="connect directly, whatever the proxy environment variables say",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="machine-readable output: Ollama's responses, or each streamed chunk, as JSON lines",
    )
    group.add_argument(
        "--debug", action="store_true", default=default(False), help="show tracebacks, debug logs"
    )
    group.add_argument(
        "--raw-output",
        action="store_true",
        default=default(False),
        help="write model output and server text as received, even to a terminal (by default a "
        "terminal is shown their control characters harmlessly, ESC as ␛)",
    )
    group.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        default=default(None),
        help="bound on connecting and on each silence of the server (default: 10 s and 300 s)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def _command(
    commands: argparse._SubParsersAction[Parser], name: str, text: str, **kwargs: Any
) -> Parser:
    parser = commands.add_parser(name, help=text, description=text, **kwargs)
    _add_global(parser, top=False)
    parser.set_defaults(command=name)
    return parser


def _retries(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _stream_flags(parser: Parser) -> None:
    parser.add_argument(
        "--retries",
        type=_retries,
        default=3,
        metavar="N",
        help="after a failure a retry may mend (a cut connection, HTTP 503...), send the "
        "request again, up to N times within 5 s; 0 never retries (default: 3)",
    )


def _generation_flags(parser: Parser) -> None:
    _stream_flags(parser)
    parser.add_argument(
        "--buffer",
        action="store_true",
        help="print the answer once it is complete, so that a failure can still be retried "
        "when the output is a file or a pipe (else an answer partly written is not retried)",
    )
    parser.add_argument(
        "--hidethinking", action="store_true", help="do not show the model's thinking"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="show timings and token rates when done"
    )


def _progress_flags(parser: Parser) -> None:
    _stream_flags(parser)
    parser.add_argument(
        "--progress", choices=("auto", "bar", "plain"), default="auto",
        help="progress display: bars (needs the cli extra: rich), plain text, or bars on a "
        "terminal when rich is installed (default)",
    )  # fmt: skip


def build_parser() -> Parser:
    """The whole command line."""
    parser = Parser(
        prog=PROG,
        description="Talk to Ollama through supervised streaming actors.",
        epilog="Exit codes: 0 success, 1 server or connection failure, 2 usage error or "
        "HTTP 4xx (e.g. unknown model), 130 interrupted.",
    )
    _add_global(parser, top=True)
    parser.add_argument(
        "-v", "--version", action="store_true", help="show this client's and the server's versions"
    )
    parser.set_defaults(command=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = _command(
        commands, "run", "run a model: one answer to PROMPT (and stdin), else a conversation"
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("prompt", metavar="PROMPT", nargs="*", help="the prompt (stdin comes first)")
    p.add_argument("--system", metavar="TEXT", help="a system message")
    p.add_argument(
        "--dimensions", type=int, metavar="N", help="embedding models: the size of the vector"
    )
    add_schema_flags(p, "chat", positional=("model", "messages"), omit=("tools",))
    p.add_argument("--keepalive", dest="param_keep_alive", type=json_or_text, metavar="VALUE",
                   help="the same as --keep-alive (ollama's spelling)")  # fmt: skip
    p.add_argument("--insecure", action="store_true",
                   help="pull a missing model from an insecure registry")  # fmt: skip
    p.add_argument("--nowordwrap", action="store_true",
                   help="accepted as ollama takes it: answers are never wrapped here")  # fmt: skip
    _generation_flags(p)

    p = _command(commands, "stop", "stop a running model (unload it from memory)")
    p.add_argument("model", metavar="MODEL")

    p = _command(commands, "generate", "generate a completion, printing tokens as they arrive")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("prompt", metavar="PROMPT", nargs="?", help="the prompt (default: stdin)")
    add_schema_flags(p, "completion", positional=("model", "prompt"))
    _generation_flags(p)

    p = _command(
        commands, "chat", "chat with a model: a question a line (/? for the commands), /bye ends it"
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--system", metavar="TEXT", help="a system message to start the chat with")
    add_schema_flags(p, "chat", positional=("model", "messages"))
    _generation_flags(p)

    p = _command(commands, "embed", "print the embedding of TEXT (else of stdin) as JSON")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("text", metavar="TEXT", nargs="*", help="the text (default: stdin)")
    add_schema_flags(p, "embed", positional=("model", "input"))

    for name, endpoint, text in (
        ("pull", "pull_model", "download a model from the registry"),
        ("push", "push_model", "upload a model to the registry"),
    ):
        p = _command(commands, name, text)
        p.add_argument("model", metavar="MODEL")
        add_schema_flags(p, endpoint, positional=("model",))
        _progress_flags(p)

    p = _command(commands, "create", "create a model from a Modelfile or from flags")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("-f", "--file", metavar="MODELFILE", help="read FROM, PARAMETER, ... from it")
    add_schema_flags(p, "create_model", positional=("model",))
    _progress_flags(p)

    p = _command(commands, "list", "list local models", aliases=["ls"])
    p.set_defaults(command="list")
    _command(commands, "ps", "list models loaded in memory")

    p = _command(commands, "show", "show a model's details (--verbose: all of them)")
    p.add_argument("model", metavar="MODEL")
    # --system and --template show those parts, as in `ollama show`
    add_schema_flags(p, "show_model", positional=("model",), omit=("system", "template", "options"))
    for part in ("license", "modelfile", "parameters", "system", "template"):
        p.add_argument(f"--{part}", action="store_true", help=f"show only the {part}")

    p = _command(commands, "cp", "copy a model")
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("destination", metavar="DESTINATION")

    p = _command(commands, "rm", "delete models")
    p.add_argument("models", metavar="MODEL", nargs="+")

    _command(commands, "version", "show the server's and this client's versions")

    p = _command(
        commands,
        "top",
        "draw a running program's status live (its StatusServer's URL; Ctrl-C or q ends it)",
    )
    p.add_argument("url", metavar="URL", help="the status server, e.g. http://127.0.0.1:8765")
    p.add_argument(
        "--interval", type=_seconds, default=1.0, metavar="SECONDS", help="between two looks"
    )
    p.add_argument("--once", action="store_true", help="draw one frame and end")

    p = commands.add_parser(
        "emulator",
        add_help=False,
        help="serve the bundled Ollama emulator (see 'ollama-actor emulator --help')",
    )
    p.set_defaults(command="emulator")
    return parser
