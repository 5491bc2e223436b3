"""Exit codes, and turning any error into the one line the command prints on stderr.

| code | meaning |
|---|---|
| 0 | success |
| 1 | the server or the connection failed: HTTP 5xx/408/429, refused, timeouts, mid-stream errors |
| 2 | the request cannot succeed as written (below) |
| 130 | interrupted (Ctrl-C), which cancels a running stream first |
| 141 | the output was closed (a pipe into ``head``), as a shell reports SIGPIPE |

Code 2 covers bad arguments, an invalid parameter, and every error the server says no retry can
mend (`OllamaError.refused`: an unknown model, a missing capability, no access, invalid input).
The same classification decides what is retried: docs/protocol.md has it as a table.
"""

from __future__ import annotations

from collections.abc import Mapping

from ollama_actor._errors import (
    ConnectError,
    HTTPError,
    OllamaError,
    ValidationError,
)
from ollama_actor._schemas import NEWER_OPTIONS_HINT

__all__ = [
    "BROKEN_PIPE",
    "FAILURE",
    "INTERRUPTED",
    "OK",
    "UNCHECKED",
    "USAGE",
    "PartialAnswer",
    "UsageError",
    "describe",
    "exit_code",
    "one_line",
]

UNCHECKED = "--unchecked-options"
"""The command line's way to send an option newer than this release."""

OK = 0
FAILURE = 1
USAGE = 2
INTERRUPTED = 130
BROKEN_PIPE = 141


class UsageError(Exception):
    """The command line asks for something impossible (a missing file, a bad Modelfile)."""


class PartialAnswer(Exception):
    """A stream failed after part of its answer was written to a file or a pipe, so it was not
    retried (the answer would have been written twice); ``error`` is why it failed."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def exit_code(exc: BaseException) -> int:
    """The exit code an error ends the command with."""
    if isinstance(exc, PartialAnswer):
        return exit_code(exc.error)
    if isinstance(exc, UsageError) or (isinstance(exc, OllamaError) and exc.refused):
        return USAGE
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        return BROKEN_PIPE
    return FAILURE


def one_line(text: str) -> str:
    """``text`` with its lines joined, so that an error never spans several lines."""
    return " / ".join(line.strip() for line in text.splitlines() if line.strip())


def describe(exc: BaseException, flags: Mapping[str, str] | None = None) -> str:
    """The error line (without ``error:``): what happened, and what to do when that is clear.

    ``flags`` maps parameter names to the command-line flags that set them, so that an invalid
    parameter is reported by the flag the user typed.
    """
    if isinstance(exc, PartialAnswer):
        return (
            f"{describe(exc.error, flags)} (the answer above is incomplete: it was not retried "
            "since a retry would write it again; run the command again, or use --buffer to "
            "have a failed answer retried before anything is written)"
        )
    if isinstance(exc, ValidationError):
        root = exc.field.split(".", 1)[0].split("[", 1)[0]
        flag = (flags or {}).get(root)
        if flag is not None:
            rest = exc.field[len(root) :].lstrip(".")
            where = f"{flag} {rest}".strip()
            problem = exc.problem.replace(NEWER_OPTIONS_HINT, f"send it anyway with {UNCHECKED}")
            return one_line(f"{where}: {problem}")
        return one_line(f"{exc.field}: {exc.problem}")
    text = one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, ConnectError):
        return f"{text} (is Ollama running? use --host or OLLAMA_HOST to point elsewhere)"
    if isinstance(exc, HTTPError | UsageError) or type(exc).__module__.startswith("ollama_actor"):
        return text
    return f"{type(exc).__name__}: {text} (run with --debug for the traceback)"
