"""Running the command on a pseudo-terminal, and what a terminal would then show.

`Terminal` is a small model of a terminal: it knows the moves and erasures the command may
write (carriage return, line feed, cursor up, erase to the end of the line or screen, colours),
wraps at its width, and gives wide characters two columns, as xterm does.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time
import unicodedata

from .conftest import CLI, WAIT

_TOKEN = re.compile(r"\x1b\[([0-9;]*)([A-Za-z])|(.)", re.DOTALL)


class Terminal:
    def __init__(self, columns: int) -> None:
        self.columns = columns
        self.rows: list[list[str]] = [[]]
        self.wrapped: set[int] = set()
        self.row = 0
        self.column = 0

    def feed(self, text: str) -> Terminal:
        for match in _TOKEN.finditer(text):
            params, command, char = match.groups()
            if command:
                self._control(int(params or 0), command)
            elif char == "\r":
                self.column = 0
            elif char == "\n":
                self.row += 1
                while len(self.rows) <= self.row:
                    self.rows.append([])
            else:
                self._put(char)
        return self

    def _control(self, n: int, command: str) -> None:
        if command == "A":
            self.row = max(0, self.row - max(1, n))
        elif command == "J":
            del self.rows[self.row + 1 :]
            del self.rows[self.row][self.column :]
            self.wrapped = {row for row in self.wrapped if row < self.row}
        elif command == "K":
            del self.rows[self.row][self.column :]

    def _put(self, char: str) -> None:
        width = 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
        if self.column + width > self.columns:
            self.wrapped.add(self.row)
            self.feed("\r\n")
        line = self.rows[self.row]
        line.extend(" " * (self.column + width - len(line)))
        line[self.column] = char
        if width == 2:
            line[self.column + 1] = ""
        self.column += width

    @property
    def text(self) -> str:
        """The screen's text: its lines, a row that wrapped joined to the next."""
        out = []
        for number, row in enumerate(self.rows):
            text = "".join(row)
            out.append(text if number in self.wrapped else text.rstrip() + "\n")
        return "".join(out).strip("\n")


def run_on_pty(
    args: list[str], env: dict[str, str], *, columns: int = 40, lines: int = 24
) -> tuple[int, str]:
    """Run the command with stdout and stderr on a pseudo-terminal of that size."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    process = subprocess.Popen(
        [*CLI, *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    output = bytearray()
    deadline = time.monotonic() + WAIT
    try:
        while True:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no end within {WAIT} s: {output!r}"
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal has gone
                break
            if not data:
                break
            output += data
        return process.wait(timeout=WAIT), output.decode("utf-8")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
