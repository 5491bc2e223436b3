"""`StreamSpan`: emits a stream's telemetry events (`ollama_actor.telemetry` lists them).

A stream emits, through `actors.telemetry`, ``STREAM_START`` once, ``STREAM_FIRST_CHUNK`` once
per attempt that gets a chunk, ``STREAM_RESTART`` when a supervised stream tries again, and
``STREAM_STOP`` once, when it has ended (with ``outcome`` ``"done"`` or ``"error"``). Every
start is followed by exactly one stop. Nothing is emitted per chunk: the first chunk and the
stop carry the times and Ollama's own counts. A stream begun while no handler listens to any
of these gets no span at all (one dictionary lookup per event name, per stream); the per-chunk
path is the same with or without handlers, but for the stream's first read.
"""

from __future__ import annotations

import time
from typing import Any

from actors import Ref, telemetry
from ollama_actor.telemetry import STREAM_FIRST_CHUNK as FIRST_CHUNK
from ollama_actor.telemetry import STREAM_RESTART as RESTART
from ollama_actor.telemetry import STREAM_START as START
from ollama_actor.telemetry import STREAM_STOP as STOP

__all__ = ["EVENTS", "StreamSpan", "wanted"]

EVENTS = (START, FIRST_CHUNK, RESTART, STOP)
"""The stream events, for `wanted`."""

_COUNTS = ("prompt_eval_count", "eval_count")
_DURATIONS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")


def wanted() -> bool:
    """Whether any handler listens to a stream event (so a new stream needs a span)."""
    return any(telemetry.attached(event) for event in EVENTS)


class StreamSpan:
    """One stream's telemetry across its attempts; emits the events above.

    ``supervised`` spans end when their `actors.StreamRun` ends (its ``on_end``); others when
    their one attempt does. `stop` is idempotent.
    """

    __slots__ = (
        "_attempt_started",
        "_first_chunk",
        "_started",
        "_stopped",
        "attempt",
        "endpoint",
        "host",
        "last_error",
        "model",
        "ref",
        "supervised",
    )

    def __init__(
        self, ref: Ref, model: str | None, host: str, endpoint: str, *, supervised: bool
    ) -> None:
        self.ref = ref
        self.model = model
        self.host = host
        self.endpoint = endpoint
        self.supervised = supervised
        self.attempt = -1
        self.last_error: BaseException | None = None
        self._started = time.monotonic()
        self._attempt_started = self._started
        self._first_chunk: float | None = None
        self._stopped = False
        if telemetry.attached(START):
            telemetry.execute(
                START,
                {"system_time": time.time()},
                {
                    "ref": ref,
                    "model": model,
                    "host": host,
                    "endpoint": endpoint,
                    "supervised": supervised,
                },
            )

    def attempt_started(self) -> None:
        """An attempt sends its request: the first, or a restart (emits ``RESTART``)."""
        self.attempt += 1
        now = self._attempt_started = time.monotonic()
        self._first_chunk = None
        if self.attempt > 0 and telemetry.attached(RESTART):
            telemetry.execute(
                RESTART,
                {"attempt": self.attempt, "since_start": now - self._started},
                {
                    "ref": self.ref,
                    "model": self.model,
                    "host": self.host,
                    "error": self.last_error,
                },
            )

    def first_chunk(self, at: float) -> None:
        """The attempt's first chunk arrived at ``at`` (``time.monotonic()``)."""
        self._first_chunk = ttfc = at - self._attempt_started
        if telemetry.attached(FIRST_CHUNK):
            telemetry.execute(
                FIRST_CHUNK,
                {"time_to_first_chunk": ttfc, "since_start": at - self._started},
                {"ref": self.ref, "model": self.model, "host": self.host, "attempt": self.attempt},
            )

    def stop(self, result: Any, error: BaseException | None) -> None:
        """The stream has ended with ``result`` or ``error``: emit ``STOP`` (once)."""
        if self._stopped:
            return
        self._stopped = True
        if not telemetry.attached(STOP):
            return
        measurements: dict[str, float] = {
            "duration": time.monotonic() - self._started,
            "attempts": max(0, self.attempt),
        }
        if self._first_chunk is not None:
            measurements["time_to_first_chunk"] = self._first_chunk
        if isinstance(result, dict):
            for key in _COUNTS:
                if isinstance(result.get(key), int):
                    measurements[key] = result[key]
            for key in _DURATIONS:
                if isinstance(result.get(key), int):
                    measurements[key] = result[key] / 1e9
        telemetry.execute(
            STOP,
            measurements,
            {
                "ref": self.ref,
                "model": self.model,
                "host": self.host,
                "endpoint": self.endpoint,
                "outcome": "done" if error is None else "error",
                "error": error,
            },
        )
