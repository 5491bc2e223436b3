"""A faithful, fast Ollama emulator with fault injection, for tests and benchmarks.

``Emulator`` runs in a background thread of the test process; ``EmulatorProcess`` runs
``python -m ollama_actor.emulator`` as a child. Both speak Ollama's REST API over real HTTP/1.1
(same status codes, error texts, NDJSON framing and JSON bytes as Ollama's Go server), and offer the
same control API::

    with Emulator(token_rate=20) as emu:
        client = ollama.Client(host=emu.url)
        emu.inject(cut(after=3), path="/api/chat")
        ...
        info = emu.last_request("/api/chat")
        assert emu.wait_until_ended(info.id).outcome == "fault"

The fake model is deterministic: ``expected_reply``/``expected_tokens`` say what a request produces.
"""

from ._base import EmulatorBase
from ._emulator import Emulator
from ._faults import (
    Fault,
    blank_lines,
    close_before_response,
    coalesce,
    cut,
    delay,
    drip,
    endless_line,
    error_line,
    invalid_utf8,
    long_line,
    malformed_line,
    split,
    stall,
    status,
)
from ._log import OUTCOMES, RequestInfo
from ._model import ExpectedReply, embedding, expected_reply, expected_tokens
from ._process import EmulatorProcess
from ._settings import DEFAULT_VERSION

__all__ = [
    "DEFAULT_VERSION",
    "OUTCOMES",
    "Emulator",
    "EmulatorBase",
    "EmulatorProcess",
    "ExpectedReply",
    "Fault",
    "RequestInfo",
    "blank_lines",
    "close_before_response",
    "coalesce",
    "cut",
    "delay",
    "drip",
    "embedding",
    "endless_line",
    "error_line",
    "expected_reply",
    "expected_tokens",
    "invalid_utf8",
    "long_line",
    "malformed_line",
    "split",
    "stall",
    "status",
]
