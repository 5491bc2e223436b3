"""Showing a generation once, whatever the retries: on a terminal, or held until complete.

A retried stream starts its answer again from the beginning. `Attempts` is the `View` that
makes that invisible: each attempt gets a fresh `TokenView` (or whatever the factory makes), and
before a new attempt the output of the failed one is taken back. Two outputs can take text back:

- `Screen`, a terminal: it follows where the text it wrote has taken the cursor (line breaks,
  wrapping at the terminal's width, wide characters) and erases it, if it still is on the screen;
  otherwise it ends the line, so that the new attempt starts on a fresh, marked line.
- `Held` (``--buffer``): the text waits in memory and is written once the stream is done.

To a file or a pipe, without ``--buffer``, nothing can be taken back: see `run_stream`.
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
from collections.abc import Callable
from typing import Any, Protocol, TextIO

from ollama_actor._cli._exit import one_line
from ollama_actor._cli._terminal import shown_by, unfiltered, write_control
from ollama_actor._cli._views import View

__all__ = ["Attempts", "Held", "Screen"]

_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
"""A terminal control sequence (CSI, or a two-character escape): it takes no room."""


class Output(Protocol):
    """What `Attempts` writes through: a text stream that can take back what it was given."""

    def write(self, text: str) -> int: ...

    def flush(self) -> None: ...

    def take_back(self) -> bool:
        """Remove what was written since the last call; False if some of it stays visible."""

    def release(self, complete: bool) -> None:
        """The stream ended (``complete``: with its answer): show what is still held, or not."""


class Attempts:
    """A `View` that shows only the current attempt of a stream.

    ``make(out)`` builds the view of one attempt, writing to ``out``. On ``restart`` the failed
    attempt's text is taken back, a line on ``err`` says why, and a fresh view starts.
    """

    def __init__(self, make: Callable[[Output], View], out: Output, err: TextIO) -> None:
        self._make = make
        self._out = out
        self._err = err
        self._view = make(out)

    def data(self, chunk: dict[str, Any]) -> None:
        self._view.data(chunk)

    def restart(self, attempt: int, error: BaseException) -> None:
        self._out.flush()
        erased = self._out.take_back()
        where = "" if erased else " below"
        self._err.write(
            f"[retry {attempt} after: {one_line(str(error))}; the answer starts over{where}]\n"
        )
        self._err.flush()
        self._view = self._make(self._out)

    def done(self, response: dict[str, Any]) -> None:
        self._out.release(complete=True)  # first: what the view says last (--verbose) follows it
        self._view.done(response)

    def error(self, exc: BaseException) -> None:
        self._view.error(exc)
        self._out.release(complete=False)


class Held(io.StringIO):
    """``--buffer``: the answer is kept in memory and written whole once the stream is done.

    A failed stream writes nothing: its output is an answer or nothing. Once a complete answer
    was released, what the view still writes (the end of its last line) goes straight out.
    """

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        self._target = out
        self._shown = shown_by(out)  # kept as the terminal would show it, written unfiltered
        self._released = False

    def write(self, text: str) -> int:
        if self._released:
            return self._target.write(text)
        return super().write(self._shown(text))

    def write_control(self, sequence: str) -> None:
        if self._released:
            write_control(self._target, sequence)
        else:
            super().write(sequence)

    def flush(self) -> None:
        if self._released:
            self._target.flush()

    def take_back(self) -> bool:
        self.seek(0)
        self.truncate()
        return True

    def release(self, complete: bool) -> None:
        if complete:
            unfiltered(self._target).write(self.getvalue())
            self._target.flush()
            self._released = True
        self.take_back()


class Screen:
    """A terminal that can erase the text written to it since the last mark.

    It counts the rows the text took from where it began (the start of a line: the command
    writes an answer from there), wrapping at the terminal's width as a terminal does. Erasing
    moves the cursor up that many rows and clears to the end of the screen, which is possible
    only while the first row is still on the screen.
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._shown = shown_by(out)  # the text as the terminal gets it (see `_terminal`)
        self._row = 0
        self._column = 0

    def write(self, text: str) -> int:
        self._follow(self._shown(text))
        return self._out.write(text)

    def write_control(self, sequence: str) -> None:
        self._follow(sequence)
        write_control(self._out, sequence)

    def flush(self) -> None:
        self._out.flush()

    def isatty(self) -> bool:
        return True

    def take_back(self) -> bool:
        size = self._size()
        if size is None or self._row >= size.lines:
            if self._column:
                self._out.write("\n")
            self._mark()
            return False
        up = f"\x1b[{self._row}A" if self._row else ""
        write_control(self._out, f"\r{up}\x1b[J")
        self._out.flush()
        self._mark()
        return True

    def release(self, complete: bool) -> None:
        self._mark()

    def _mark(self) -> None:
        self._row = self._column = 0

    def _size(self) -> os.terminal_size | None:
        try:
            size = os.get_terminal_size(self._out.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            return None
        return size if size.columns > 0 and size.lines > 0 else None

    def _follow(self, text: str) -> None:
        """Move the counted cursor over ``text`` as the terminal moves the real one."""
        size = self._size()
        width = size.columns if size is not None else 1 << 30
        for part in _ESCAPE.split(text):
            for char in part:
                if char == "\n":
                    self._row += 1
                    self._column = 0
                elif char == "\r":
                    self._column = 0
                elif char == "\t":
                    self._place(min(8 - self._column % 8, max(1, width - self._column)), width)
                else:
                    self._place(_width(char), width)

    def _place(self, columns: int, width: int) -> None:
        if not columns:
            return
        if self._column + columns > width:  # the terminal wraps before the character
            self._row += 1
            self._column = 0
        self._column += columns


def _width(char: str) -> int:
    """The columns a character takes on a terminal."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Cc", "Cf", "Mn", "Me"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
