"""The fault matrix: every fault x {generate, chat, pull} x {iterate, send_to, supervised}.

`run_cell` runs one cell against a fresh emulator and returns what it produced; it raises
AssertionError when the cell breaks a rule of the contract (a hang, a foreign exception, a
message sequence other than ``data* (restart data*)* (done | error)``, a retry where none is due
or none where one is). The tests run every cell; ``make soak`` also writes the results, with the
official client's behaviour beside each fault, to ``docs/reliability.md``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from actors import Backoff, Inbox
from ollama_actor import (
    ConnectError,
    ConnectionLost,
    DecodeError,
    HTTPError,
    LineTooLong,
    Ollama,
    OllamaError,
    ReadTimeout,
    ResponseError,
    RetryPolicy,
    Streaming,
    Timeout,
)
from ollama_actor.emulator import (
    Emulator,
    EmulatorBase,
    EmulatorProcess,
    Fault,
    cut,
    drip,
    error_line,
    invalid_utf8,
    long_line,
    malformed_line,
    stall,
    status,
)

MAX_LINE = 1024 * 1024
TIMEOUT = Timeout(connect=2.0, read=0.5, total=30.0)
RETRY = RetryPolicy(max_restarts=3, max_seconds=30.0, backoff=Backoff(min=0.01, max=0.05))
CELL_BOUND = 15.0
"""No cell may take longer than this: anything slower counts as a hang."""


@dataclass(frozen=True)
class FaultCase:
    """One row of the matrix: how to provoke the fault and what the client must make of it."""

    name: str
    fault: Callable[[], Fault] | None
    error: type[OllamaError] | None
    """The error it must raise; None when the stream must succeed despite the fault."""
    retryable: bool = False
    persistent: bool = False
    """True when every retry meets the fault again (the budget runs out)."""
    special: str = ""


FAULTS = [
    FaultCase("cut after 3 chunks", lambda: cut(after=3), ConnectionLost, retryable=True),
    FaultCase("stall after 3 chunks", lambda: stall(after=3), ReadTimeout, retryable=True),
    FaultCase("slow drip (50 ms a chunk)", lambda: drip(0.05), None),
    FaultCase("error line after 3 chunks", lambda: error_line(after=3), ResponseError, True),
    FaultCase("malformed JSON line", lambda: malformed_line(after=3), DecodeError),
    FaultCase("invalid UTF-8 line", lambda: invalid_utf8(after=3), DecodeError),
    FaultCase(
        "line over the limit (2 MiB, limit 1 MiB)",
        lambda: long_line(after=3, size=2 * MAX_LINE),
        LineTooLong,
    ),
    FaultCase("HTTP 400 before the stream", lambda: status(400), HTTPError),
    FaultCase("HTTP 404 before the stream", lambda: status(404), HTTPError),
    FaultCase("HTTP 429 before the stream", lambda: status(429), HTTPError, retryable=True),
    FaultCase("HTTP 500 before the stream", lambda: status(500), HTTPError, retryable=True),
    FaultCase("HTTP 503 before the stream", lambda: status(503), HTTPError, retryable=True),
    FaultCase(
        "connection refused", None, ConnectError, retryable=True, persistent=True, special="refused"
    ),
    FaultCase(
        "server process killed mid-stream",
        None,
        ConnectionLost,
        retryable=True,
        persistent=True,
        special="killed",
    ),
]

ENDPOINTS = ("generate", "chat", "pull")
MODES = ("iterate", "send_to", "supervised")
PATHS = {"generate": "/api/generate", "chat": "/api/chat", "pull": "/api/pull"}


@dataclass(frozen=True)
class Cell:
    """What one cell produced."""

    fault: str
    endpoint: str
    mode: str
    outcome: str
    """"done" or the name of the error that ended it."""
    restarts: int
    chunks: int
    seconds: float


def _start(client: Ollama, endpoint: str, stream: Any, **extra: Any) -> Any:
    if endpoint == "generate":
        return client.completion(
            model="llama3.2", prompt="Why is the sky blue?", stream=stream, **extra
        )
    if endpoint == "chat":
        messages = [{"role": "user", "content": "Why is the sky blue?"}]
        return client.chat(model="llama3.2", messages=messages, stream=stream, **extra)
    return client.pull_model(model="tinyllama", stream=stream, **extra)


@contextmanager
def _server(case: FaultCase, endpoint: str) -> Iterator[tuple[str, EmulatorBase | None]]:
    """A base URL and the emulator behind it (none for "refused"), the fault armed."""
    if case.special == "refused":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
            yield f"http://127.0.0.1:{s.getsockname()[1]}/api", None
        return
    if case.special == "killed":
        with EmulatorProcess() as emu:
            emu.inject(drip(0.05), path=PATHS[endpoint])  # slow enough to be killed mid-stream
            yield emu.base_url, emu
        return
    with Emulator() as emu:
        assert case.fault is not None
        emu.inject(case.fault(), path=PATHS[endpoint])
        yield emu.base_url, emu


def run_cell(case: FaultCase, endpoint: str, mode: str) -> Cell:
    """Run one cell; AssertionError if it breaks the contract."""
    started = time.monotonic()
    with (
        _server(case, endpoint) as (url, emu),
        Ollama(url, timeout=TIMEOUT, max_line=MAX_LINE) as client,
    ):
        if mode == "iterate":
            outcome, restarts, chunks = _iterate(case, client, endpoint, emu)
        else:
            outcome, restarts, chunks = _deliver(case, client, endpoint, mode, emu)
    seconds = time.monotonic() - started
    assert seconds < CELL_BOUND, f"took {seconds:.1f} s"
    _check(case, mode, outcome, restarts)
    return Cell(case.name, endpoint, mode, outcome, restarts, chunks, seconds)


def _iterate(
    case: FaultCase, client: Ollama, endpoint: str, emu: EmulatorBase | None
) -> tuple[str, int, int]:
    stream: Streaming = _start(client, endpoint, True)
    chunks = 0
    try:
        for _ in stream:
            chunks += 1
            if case.special == "killed" and chunks == 2:
                assert isinstance(emu, EmulatorProcess)
                emu.kill()
    except OllamaError as exc:
        return type(exc).__name__, 0, chunks
    # Anything that is not an OllamaError propagates and fails the cell.
    return "done", 0, chunks


def _deliver(
    case: FaultCase, client: Ollama, endpoint: str, mode: str, emu: EmulatorBase | None
) -> tuple[str, int, int]:
    inbox = Inbox()
    outcome: list[BaseException | dict[str, Any]] = []
    if mode == "send_to":
        stream: Streaming = _start(client, endpoint, True)
        ref = stream.ref

        def run() -> None:
            try:
                outcome.append(stream.send_to(inbox))
            except OllamaError as exc:
                outcome.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
    else:
        handle = _start(client, endpoint, inbox, retry=RETRY)
        ref = handle.ref
    seen: list[tuple[str, Any]] = []
    while not seen or seen[-1][0] not in ("done", "error"):
        _, message = inbox.receive(match=lambda m: m[0] == ref, timeout=CELL_BOUND)
        seen.append(message)
        if case.special == "killed" and [k for k, _ in seen] == ["data", "data"]:
            assert isinstance(emu, EmulatorProcess)
            emu.kill()
    try:
        extra = inbox.receive(match=lambda m: m[0] == ref, timeout=0.05)
    except TimeoutError:
        pass
    else:
        raise AssertionError(f"a message after the terminal one: {extra!r}")
    kinds = [kind for kind, _ in seen]
    assert all(k in ("data", "restart") for k in kinds[:-1]), kinds
    for kind, payload in seen:
        assert kind != "data" or "error" not in payload, "an error line delivered as data"
    if mode == "send_to":
        worker.join(CELL_BOUND)
        assert not worker.is_alive(), "send_to did not return"
        returned = outcome[0]
        if kinds[-1] == "done":
            assert returned == seen[-1][1]
        else:
            assert returned is seen[-1][1], "send_to raised another error than it told"
    elif kinds[-1] == "done":
        assert handle.result(timeout=1) == seen[-1][1]
    terminal = seen[-1]
    name = "done" if terminal[0] == "done" else type(terminal[1]).__name__
    return name, kinds.count("restart"), kinds.count("data")


def _check(case: FaultCase, mode: str, outcome: str, restarts: int) -> None:
    supervised = mode == "supervised"
    if case.error is None:
        assert outcome == "done", f"expected success, got {outcome}"
        assert restarts == 0
        return
    if supervised and case.retryable and not case.persistent:
        assert outcome == "done", f"a one-off {case.name} must be retried to success, got {outcome}"
        assert restarts == 1
        return
    if supervised and case.retryable:
        assert restarts == RETRY.max_restarts, f"{restarts} restarts"
        assert outcome in (case.error.__name__, "ConnectError"), outcome
        return
    assert outcome == case.error.__name__, f"expected {case.error.__name__}, got {outcome}"
    assert restarts == 0


def cells() -> Iterator[tuple[FaultCase, str, str]]:
    for case in FAULTS:
        for endpoint in ENDPOINTS:
            for mode in MODES:
                yield case, endpoint, mode
