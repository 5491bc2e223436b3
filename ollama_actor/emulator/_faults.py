"""Fault injection: what can go wrong with a response, and rules saying which request gets it.

A rule matches a request by path (and optionally by model) and applies to the next ``times``
matching requests; rules are tried in the order they were added. Faults are plain values so that the
subprocess emulator can receive them as JSON over its control endpoint.

"after=N" counts lines (HTTP chunks of a stream). A reply that is not streamed is one line: a cut
or a stall with ``after=0`` acts before its headers, with any other ``after`` in the middle of its
body (a cut sends the headers and half the body, a stall the headers only). A reply without a
body (copy, delete) has no middle: it gets the fault before its headers whatever ``after``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any

from . import _gojson
from ._names import Name
from ._reply import Frame, Partial, Piece, Signal, Step, Wait

DEFAULT_ERROR_LINE = "an error was encountered while running the model"
_STATUS_TEXTS = {
    400: "model is required",
    404: "model '{model}' not found",
    429: "rate limit exceeded",
    500: "internal server error",
    503: "server busy, please try again.  maximum pending requests exceeded",
}
LONG_LINE_PIECE = 64 * 1024
_BODY_FAULTS = frozenset(
    {"error_line", "malformed_line", "invalid_utf8", "long_line", "endless_line", "blank_lines"}
)


@dataclass(frozen=True)
class Fault:
    """One kind of misbehaviour and its parameters; build it with the constructors below."""

    kind: str
    after: int = 0
    interval: float = 0.0
    max_bytes: int = 7
    message: str = DEFAULT_ERROR_LINE
    size: int = 0
    count: int | None = None
    code: int = 500
    error_text: str | None = None
    seconds: float = 0.0

    @property
    def alters_body(self) -> bool:
        """Whether the body gets lines it would not have (the reply is then sent chunked)."""
        return self.kind in _BODY_FAULTS

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form for the control endpoint."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """The inverse of ``to_json``; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def cut(after: int = 1) -> Fault:
    """Send ``after`` lines, then close the TCP connection abruptly (no chunked terminator).

    A reply that is not streamed: ``after=0`` closes before its headers; any other ``after`` sends
    the headers (announcing the whole body) and half the body, then closes. A reply without a
    body is closed before its headers.
    """
    return Fault("cut", after=after)


def stall(after: int = 1) -> Fault:
    """Send ``after`` lines, then nothing, holding the connection until the client leaves.

    A reply that is not streamed: ``after=0`` stalls before its headers, any other ``after``
    after its headers, before the body (before the headers if it has none).
    """
    return Fault("stall", after=after)


def drip(interval: float) -> Fault:
    """Delay every line (the first included) by ``interval`` seconds."""
    return Fault("drip", interval=interval)


def split(max_bytes: int = 7) -> Fault:
    """Write everything in pieces of 1..max_bytes bytes, 1 ms apart, so lines straddle reads."""
    return Fault("split", max_bytes=max(1, max_bytes))


def coalesce() -> Fault:
    """Send the whole response (headers, every line, terminator) in one write."""
    return Fault("coalesce")


def error_line(after: int = 1, message: str = DEFAULT_ERROR_LINE) -> Fault:
    """Send ``after`` lines, then ``{"error": message}``, then end the body (status stays 200)."""
    return Fault("error_line", after=after, message=message)


def malformed_line(after: int = 1) -> Fault:
    """Insert a line that is not JSON after ``after`` lines; the stream then goes on."""
    return Fault("malformed_line", after=after)


def invalid_utf8(after: int = 1) -> Fault:
    """Insert a JSON-shaped line holding invalid UTF-8 bytes after ``after`` lines."""
    return Fault("invalid_utf8", after=after)


def long_line(after: int = 1, size: int = 1 << 20) -> Fault:
    """Insert one valid JSON line of ``size`` bytes (newline included), written in 64 KiB chunks."""
    return Fault("long_line", after=after, size=size)


def endless_line(after: int = 1) -> Fault:
    """After ``after`` lines, send bytes without any newline until the client disconnects."""
    return Fault("endless_line", after=after)


def blank_lines(after: int = 1, count: int | None = None) -> Fault:
    """Insert ``count`` blank lines (each its own chunk) after ``after`` lines; endless if None."""
    return Fault("blank_lines", after=after, count=count)


def status(code: int, error_text: str | None = None) -> Fault:
    """Answer with this HTTP status and Ollama's ``{"error": ...}`` body, before any stream byte."""
    return Fault("status", code=code, error_text=error_text)


def delay(seconds: float) -> Fault:
    """Hold the response (headers included) for ``seconds``: a slow model load or first token."""
    return Fault("delay", seconds=seconds)


def close_before_response() -> Fault:
    """Read the request, then close the connection without answering."""
    return Fault("close_before_response")


def status_text(fault: Fault, model: str) -> str:
    """The error text of a ``status`` fault: the given one or Ollama's usual one for the code."""
    if fault.error_text is not None:
        return fault.error_text
    return _STATUS_TEXTS.get(fault.code, "internal server error").format(model=model)


def _until(steps: Iterator[Step], lines: int) -> Iterator[Step]:
    """Pass steps through until ``lines`` lines have gone by (the rest stays in ``steps``)."""
    if lines <= 0:
        return
    seen = 0
    for step in steps:
        yield step
        if step.__class__ is bytes:
            seen += 1
            if seen >= lines:
                return


def _endless() -> Iterator[Step]:
    filler = Piece(b"a" * LONG_LINE_PIECE)
    while True:
        yield filler


def _long(frame: Frame, size: int) -> Iterator[Step]:
    prefix, suffix = frame
    left = max(0, size - len(prefix) - len(suffix))
    yield Piece(prefix)
    while left:
        take = min(left, LONG_LINE_PIECE)
        yield Piece(b"a" * take)
        left -= take
    yield Piece(suffix)


def _mid_body(steps: Iterator[Step], kind: str) -> Iterator[Step]:
    """A reply that is not streamed, cut (half its body sent) or stalled (none) after its
    headers; the steps before its one line (a generation's ticks) keep their time."""
    for step in steps:
        if step.__class__ is bytes:
            body: bytes = step
            if body:  # an empty body has no middle: the fault comes before the headers
                yield Partial(body, len(body) // 2 if kind == "cut" else 0)
            break
        yield step
    yield Signal.CUT if kind == "cut" else Signal.STALL


def apply(
    fault: Fault, steps: Iterator[Step], frame: Frame, *, streamed: bool = True
) -> Iterator[Step]:
    """The body with ``fault`` applied (faults that change how it is written are the pump's).

    ``streamed``: whether the reply is a stream of lines (else it is one line, see `cut`).
    """
    kind = fault.kind
    if kind in ("cut", "stall") and not streamed and fault.after > 0:
        yield from _mid_body(steps, kind)
        return
    if kind == "delay":
        yield Wait(fault.seconds)
        yield from steps
        return
    if kind == "close_before_response":
        yield Signal.DROP
        return
    if kind not in _BODY_FAULTS and kind not in ("cut", "stall"):
        yield from steps
        return
    yield from _until(steps, fault.after)
    if kind == "cut":
        yield Signal.CUT
    elif kind == "stall":
        yield Signal.STALL
    elif kind == "error_line":
        yield _gojson.line({"error": fault.message})
    elif kind == "endless_line":
        yield from _endless()
    else:
        if kind == "malformed_line":
            yield b"this is not json\n"
        elif kind == "invalid_utf8":
            yield frame[0] + b"\xff\xfe\xc3(" + frame[1]
        elif kind == "long_line":
            yield from _long(frame, fault.size)
        elif fault.count is None:
            while True:
                yield b"\n"
        else:
            for _ in range(fault.count):
                yield b"\n"
        yield from steps


@dataclass
class Rule:
    """A fault waiting for matching requests."""

    fault: Fault
    path: str | None
    model: str | None
    remaining: int

    def matches(self, path: str, model: str | None) -> bool:
        """Whether a request to ``path`` for ``model`` gets this rule's fault."""
        if self.path is not None and self.path != path:
            return False
        if self.model is None:
            return True
        return model is not None and Name.parse(model).key == Name.parse(self.model).key


class Rules:
    """The programmed faults, shared between the test thread and the server loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []

    def add(self, fault: Fault, path: str | None, model: str | None, times: int) -> None:
        """Apply ``fault`` to the next ``times`` requests matching path (None: any) and model."""
        with self._lock:
            self._rules.append(Rule(fault, path, model, times))

    def clear(self) -> None:
        """Forget every rule."""
        with self._lock:
            self._rules.clear()

    @property
    def active(self) -> bool:
        """Whether any rule is programmed."""
        return bool(self._rules)

    def take(self, path: str, model: str | None) -> Fault | None:
        """The fault for this request, if a rule matches (using up one of its ``times``)."""
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.matches(path, model):
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                    return rule.fault
        return None
