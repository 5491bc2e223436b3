"""Control characters from the server, shown harmlessly on a terminal.

Model output and server text (errors, model names, pull status) are the server's to choose. Written
raw to a terminal, an escape sequence in them can retitle the window (OSC 0), write the clipboard
(OSC 52), hide a link (OSC 8), clear the screen or move the cursor to overwrite what was shown.
So when the command writes to a terminal, every write goes through `TerminalText`, which replaces
each control character but TAB and LF with a visible stand-in: C0 controls and DEL by their
Unicode control pictures (ESC shows as ``␛``, CR as ``␍``), C1 controls (U+0080 to U+009F) by
``�``. Output to a file or a pipe is left exactly as received, as is a terminal's with
``--raw-output``.

The command's own escape sequences (dim thinking, a progress line redrawn with CR, a partial
answer erased, rich's live bars) go past the filter through `write_control` and `unfiltered`.
A stream that sits between a view and the terminal (`_once.Screen`, `_once.Held`) has its own
``write_control``, and shows text as `shown_by` its terminal says it will look.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO, cast

__all__ = ["TerminalText", "for_terminal", "shown_by", "unfiltered", "visible", "write_control"]

_STAND_INS = {code: chr(0x2400 + code) for code in range(0x20) if code not in (0x09, 0x0A)}
_STAND_INS[0x7F] = "\u2421"  # ␡
_STAND_INS.update({code: "\ufffd" for code in range(0x80, 0xA0)})


def visible(text: str) -> str:
    """``text`` with its control characters (but TAB and LF) replaced by visible stand-ins."""
    return text.translate(_STAND_INS)


class TerminalText:
    """A text stream for a terminal: whatever is written shows its control characters visibly.

    Everything but ``write`` is the wrapped stream's (``flush``, ``isatty``, ``fileno``, ...).
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(visible(text))
        return len(text)

    def write_control(self, sequence: str) -> None:
        """Write one of the command's own control sequences, unfiltered."""
        self.stream.write(sequence)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def for_terminal(stream: TextIO, *, raw: bool) -> TextIO:
    """``stream`` filtered by `TerminalText` if it is a terminal and ``raw`` is not asked for."""
    if raw or not stream.isatty():
        return stream
    return cast(TextIO, TerminalText(stream))


def unfiltered(stream: TextIO) -> TextIO:
    """The stream under a `TerminalText`, for output that must reach the terminal as written."""
    return stream.stream if isinstance(stream, TerminalText) else stream


def write_control(stream: Any, sequence: str) -> None:
    """Write one of the command's own control sequences (colour, CR), unfiltered.

    ``stream`` passes it on with its own ``write_control`` if it has one, else writes it.
    """
    getattr(stream, "write_control", stream.write)(sequence)


def shown_by(stream: TextIO) -> Callable[[str], str]:
    """What writing through ``stream`` does to text (for text drawn on its unfiltered stream)."""
    return visible if isinstance(stream, TerminalText) else str
