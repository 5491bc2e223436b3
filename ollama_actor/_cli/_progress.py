"""Progress of pull, push and create, shown like Ollama's own command line shows it.

A chunk with a ``digest`` is a layer: it gets a bar keyed by its digest, with completed and
total bytes. Any other chunk is a status line (``pulling manifest``, ``writing manifest``,
``success``). With the optional `rich` package (the ``cli`` extra) on a terminal the bars are
live; otherwise `PlainProgress` prints them as text: redrawn in place on a terminal, or one line
per tenth of a layer when the output is a file or a pipe.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Literal, TextIO

from ollama_actor._cli._exit import UsageError, one_line
from ollama_actor._cli._format import human_bytes
from ollama_actor._cli._terminal import write_control
from ollama_actor._cli._views import View

__all__ = ["PlainProgress", "have_rich", "progress_view"]

Style = Literal["auto", "bar", "plain"]
_WIDTH = 20


def have_rich() -> bool:
    """Whether the optional `rich` package can be imported."""
    try:
        return importlib.util.find_spec("rich") is not None
    except ValueError:  # a module object without a spec (set to None in sys.modules)
        return False


def progress_view(style: Style, out: TextIO, err: TextIO) -> View:
    """The progress display for ``--progress STYLE`` (auto: bars on a terminal if rich is here)."""
    if style == "bar":
        if not have_rich():
            raise UsageError(
                "--progress bar needs the rich package: pip install 'ollama-actor[cli]'"
            )
        return _rich_progress(out, err, force_terminal=True)
    if style == "auto" and out.isatty() and have_rich():
        return _rich_progress(out, err, force_terminal=False)
    return PlainProgress(out, err, live=out.isatty())


def _bar(completed: int, total: int) -> str:
    filled = _WIDTH * completed // total if total else _WIDTH
    return "▕" + "█" * filled + " " * (_WIDTH - filled) + "▏"


def layer_line(chunk: dict[str, Any]) -> tuple[str, int]:
    """A layer's progress as Ollama prints it, and its percentage."""
    total = int(chunk.get("total") or 0)
    completed = int(chunk.get("completed") or 0)
    percent = 100 if total <= 0 else min(100, completed * 100 // total)
    sizes = f"{human_bytes(completed)}/{human_bytes(total)}"
    if completed >= total:
        sizes = human_bytes(total)
    return f"{chunk.get('status', '')}: {percent:3d}% {_bar(completed, total)} {sizes}", percent


class PlainProgress:
    """Text progress: a layer's line is redrawn in place when ``live``, else printed per tenth."""

    def __init__(self, out: TextIO, err: TextIO, *, live: bool) -> None:
        self.out = out
        self.err = err
        self.live = live
        self._open: str | None = None  # digest of the line being redrawn (live only)
        self._width = 0
        self._shown: dict[str, int] = {}  # digest -> the last tenth printed

    def data(self, chunk: dict[str, Any]) -> None:
        digest = chunk.get("digest")
        if digest and "total" in chunk:
            line, percent = layer_line(chunk)
            if self.live:
                if self._open != digest:
                    self._close()
                    self._open = digest
                    self.out.write(line)
                else:
                    write_control(self.out, "\r")
                    self.out.write(line.ljust(self._width))
                self._width = len(line)
            else:
                tenth = percent // 10
                if self._shown.get(digest) != tenth:
                    self._shown[digest] = tenth
                    self.out.write(line + "\n")
        else:
            self._close()
            self.out.write(f"{chunk.get('status', '')}\n")
        self.out.flush()

    def _close(self) -> None:
        if self._open is not None:
            self.out.write("\n")
            self._open = None

    def restart(self, attempt: int, error: BaseException) -> None:
        self._close()
        self.out.flush()
        self.err.write(f"[retry {attempt} after: {one_line(str(error))}]\n")
        self.err.flush()

    def done(self, response: dict[str, Any]) -> None:
        self._close()
        self.out.flush()

    def error(self, exc: BaseException) -> None:
        self._close()
        self.out.flush()


def _rich_progress(out: TextIO, err: TextIO, *, force_terminal: bool) -> View:
    from ollama_actor._cli._rich_progress import RichProgress

    return RichProgress(out, err, force_terminal=force_terminal)
