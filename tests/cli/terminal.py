"""Running the command on a pseudo-terminal, and what a terminal would then show.

`Terminal` is a small model of a terminal: it knows the moves and erasures the command may
write (carriage return, line feed, cursor up and back, erase to the end of the line or screen,
colours), wraps at its width, and gives wide characters two columns, as xterm does.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import unicodedata

from .conftest import CLI, WAIT

_TOKEN = re.compile(r"\x1b\[([0-9;]*)([A-Za-z])|(.)", re.DOTALL)
_PROMPT = re.compile(r"(?:>>>|\.\.\.) $")
_READING = {"aarch64": {"63", "72", "73"}}.get(platform.machine(), {"0", "7", "23", "270", "271"})
"""The system calls a program blocks in to read a terminal (read, poll, select, pselect6,
ppoll on x86-64; read, pselect6, ppoll on arm64), by number as ``/proc/PID/syscall`` gives it."""


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
        elif command == "D":
            self.column = max(0, self.column - max(1, n))
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


class Pty:
    """The command on a pseudo-terminal, its controlling one: typed input, what it printed
    (``screen``, as bytes decoded), Ctrl-C typed as a user types it (``type("\x03")``)."""

    def __init__(self, args, env, *, columns=200):
        self.pid, self.fd = pty.fork()  # the child gets the terminal as its controlling one
        if self.pid == 0:  # pragma: no cover - the child
            os.execve(sys.executable, [sys.executable, "-m", "ollama_actor.cli", *args], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        self._bytes = b""
        self.screen = ""

    def type(self, text):
        os.write(self.fd, text.encode())

    def _read(self, deadline, what):
        ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"{what}; the screen: {self.screen!r}"
        try:
            self._bytes += os.read(self.fd, 4096)
        except OSError:  # EIO: the command has ended and closed the terminal
            raise AssertionError(f"{what}, and the command ended: {self.screen!r}") from None
        self.screen = self._bytes.decode(errors="replace")

    def wait_for(self, text, count=1, timeout=15.0):
        deadline = time.monotonic() + timeout
        while self.screen.count(text) < count:
            self._read(deadline, f"{text!r} did not appear")

    def wait_for_output_after(self, mark, timeout=15.0):
        """Wait until something is shown after ``mark`` (the first tokens of an answer)."""
        end = self.screen.index(mark) + len(mark)
        deadline = time.monotonic() + timeout
        while len(self.screen) <= end:
            self._read(deadline, f"nothing after {mark!r}")

    def wait_until_reading(self, timeout=15.0):
        """Wait until the command's main thread is blocked reading the terminal.

        A Ctrl-C typed just before a program blocks to read is felt only once the next key
        comes (Python checks for signals before and after a blocking call, not during it
        unless the call is interrupted), so a test that types one waits for this first.
        """
        deadline = time.monotonic() + timeout
        while True:
            with open(f"/proc/{self.pid}/syscall", encoding="ascii") as file:
                number = file.read().split()[0]
            if number in _READING:
                return
            assert time.monotonic() < deadline, f"never blocked reading: {self.screen!r}"
            time.sleep(0.01)

    def ask(self, line, *, timeout=15.0):
        """Type a line and wait for the next prompt (``>>> ``, or ``... `` inside a message);
        what was shown in between (the line's echo left out, the terminal's CR LF as LF)."""
        start = len(self.screen)
        self.type(line + "\n")
        deadline = time.monotonic() + timeout
        while True:
            echo = self.screen.find("\n", start)
            found = None if echo < 0 else _PROMPT.search(self.screen, echo)
            if found:
                return self.screen[echo + 1 : found.start()].replace("\r\n", "\n")
            self._read(deadline, f"no prompt after {line!r}")

    def exit_code(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.02)
        raise AssertionError("the command did not exit")

    def close(self):
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)
