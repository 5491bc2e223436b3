"""The spinner shown on a terminal while a model loads or thinks of its first token.

As ``ollama run`` does, a braille frame turns at the cursor, on stderr, until the answer
begins; then it is erased, leaving the cursor where it found it (at the start of a line: the
command writes answers from there). It draws from a thread of its own, so that it turns while
the command's thread waits; `stop` is idempotent and returns once the last frame is erased.
"""

from __future__ import annotations

import threading
from typing import Any, TextIO

from ollama_actor._cli._terminal import write_control
from ollama_actor._cli._views import View, shows_text

__all__ = ["FRAMES", "Spinner", "UntilShown"]

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
INTERVAL = 0.1
"""Seconds between frames (Ollama's spinner turns every 100 ms)."""
_BACK = "\x1b[D"
"""Move the cursor back one column."""
_ERASE = "\x1b[K"
"""Erase from the cursor to the end of the line."""


class Spinner:
    """A spinner on ``err`` (a terminal), turning from `start` until `stop`."""

    def __init__(self, err: TextIO) -> None:
        self._err = err
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> Spinner:
        self._thread = threading.Thread(target=self._turn, name="spinner", daemon=True)
        self._thread.start()
        return self

    def _turn(self) -> None:
        frame = 0
        while not self._stopped.is_set():
            with self._lock:
                if self._stopped.is_set():
                    return
                self._draw(FRAMES[frame % len(FRAMES)] + _BACK)  # the cursor stays put
            frame += 1
            self._stopped.wait(INTERVAL)

    def _draw(self, text: str) -> None:
        try:
            write_control(self._err, text)
            self._err.flush()
        except (OSError, ValueError):  # the terminal went away: nothing to show it on
            self._stopped.set()

    def stop(self) -> None:
        """Stop turning and erase the frame; any thread, any number of times."""
        with self._lock:
            if self._stopped.is_set():
                return
            self._stopped.set()
            if self._thread is not None:
                self._draw(_ERASE)


class UntilShown:
    """A `View` that stops the spinner before the first thing it shows, then is ``view``.

    Thinking counts as shown unless it is hidden (``--hidethinking``), as in ``ollama run``.
    """

    def __init__(self, view: View, spinner: Spinner, *, thinking: bool) -> None:
        self._view = view
        self._spinner = spinner
        self._thinking = thinking

    def data(self, chunk: dict[str, Any]) -> None:
        if shows_text(chunk, thinking=self._thinking):
            self._spinner.stop()
        self._view.data(chunk)

    def restart(self, attempt: int, error: BaseException) -> None:
        self._spinner.stop()
        self._view.restart(attempt, error)

    def done(self, response: dict[str, Any]) -> None:
        self._spinner.stop()
        self._view.done(response)

    def error(self, exc: BaseException) -> None:
        self._spinner.stop()
        self._view.error(exc)
