"""A faithful, fast Ollama emulator with fault injection, for tests and benchmarks.

``Emulator`` serves from a background thread of the test process; ``EmulatorProcess`` runs
``python -m ollama_actor.emulator`` as a child (its own CPU, and it can be killed and restarted on
the same port). Both speak Ollama's REST API over real HTTP/1.1 with Ollama's status codes, error
texts, NDJSON framing (one HTTP chunk per line) and Go's JSON bytes, and share one control API::

    with Emulator(token_rate=20) as emu:                 # or EmulatorProcess(...)
        client = ollama.Client(host=emu.url)             # emu.base_url is url + "/api"
        emu.inject(cut(after=3), path="/api/chat")       # next /api/chat: 3 chunks, then a cut
        ...
        info = emu.last_request("/api/chat")             # waits (bounded) for one to arrive
        ended = emu.wait_until_ended(info.id)            # outcome, closed_at, lines, bytes_sent
        emu.requests, emu.request_count("/api/chat"), emu.wait_for_requests(3, timeout=5)
        emu.active_streams(), emu.set_pacing(token_rate=None), emu.clear_faults()

Faults (each applies to the next ``times`` requests matching ``path``/``model``): ``cut``,
``stall``, ``drip``, ``split``, ``coalesce``, ``error_line``, ``malformed_line``, ``invalid_utf8``,
``long_line``, ``endless_line``, ``blank_lines``, ``status``, ``delay``, ``close_before_response``.

The fake model is deterministic: ``expected_tokens(model, prompt_or_messages, options)`` gives the
content chunks a request streams, ``expected_reply(...)`` also the thinking, tool calls,
``done_reason`` and counts. Seeded models: llama3.2 (completion, tools), qwen3 (completion, tools,
thinking: it thinks unless ``think`` is false), nomic-embed-text (embedding), llava (completion,
vision); tinyllama and all-minilm can be pulled, as can anything pushed.

It also answers as ollama.com's hosted API does to ``/api/web_search`` and ``/api/web_fetch``
(with any Bearer token; ``Ollama(cloud_url=emu.base_url)`` sends them there): what they return is
``search_results(query, max_results)`` and ``fetch_page(url)``.

Log times are ``time.monotonic()`` (CLOCK_MONOTONIC on Linux, shared across processes).
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
from ._web import fetch_page, search_results

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
    "fetch_page",
    "invalid_utf8",
    "long_line",
    "malformed_line",
    "search_results",
    "split",
    "stall",
    "status",
]
