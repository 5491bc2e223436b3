"""The emulator's tunables, shared by the server, its control endpoint and the command line."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_VERSION = "0.12.6"


@dataclass
class Settings:
    """Server-wide settings; the pacing ones may change while running (new streams pick them up)."""

    token_rate: float | None = None
    """Tokens per second per stream; None writes as fast as the client reads."""
    first_token_delay: float = 0.0
    """Seconds before the first token of a generation."""
    num_parallel: int | None = None
    """Generations that may run at once (``OLLAMA_NUM_PARALLEL``); None means no limit."""
    max_queue: int = 512
    """Requests that may wait for a slot before new ones get 503 (``OLLAMA_MAX_QUEUE``)."""
    version: str = DEFAULT_VERSION
    """What ``/api/version`` reports."""
    log_limit: int = 20_000
    """Request-log entries kept (counts go on beyond it)."""
    log_budget: int = 32 * 1024 * 1024
    """Bytes of request heads and bodies the log keeps (the oldest bodies are dropped first)."""
    origins: tuple[str, ...] = ()
    """Origins allowed besides Ollama's defaults, as ``OLLAMA_ORIGINS`` lists them."""
    loaded: tuple[str, ...] = ()
    """Local models in memory from the start (``/api/ps``), as if each had just been used."""
