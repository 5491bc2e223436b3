"""OpenTelemetry from the telemetry events: metrics, and a span per stream (the ``otel`` extra).

::

    from ollama_actor.otel import OpenTelemetry

    exporter = OpenTelemetry().attach()  # the global providers, or pass meter/tracer_provider=
    ...
    exporter.detach()

It uses the OpenTelemetry API only (``pip install 'ollama-actor[otel]'``); configure the SDK
and your exporter (OTLP, console, ...) as usual. Metrics: ``ollama_actor.streams.started``,
``ollama_actor.streams.finished`` (attribute ``outcome``), ``ollama_actor.streams.in_flight``,
``ollama_actor.stream.restarts``, ``ollama_actor.stream.duration`` and
``ollama_actor.stream.time_to_first_chunk`` (histograms, s), ``ollama_actor.tokens.prompt``
and ``ollama_actor.tokens.generated``, ``actors.supervisor.restarts``, ``actors.loop.lag``
(histogram, s); each stream metric with attributes ``model`` and ``host``. Spans: one
``ollama stream`` span per stream, from its start to its end, with an event per first chunk
and restart, its counts as attributes, and an error status with the exception when it failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, Status, StatusCode

from actors import Ref, telemetry
from ollama_actor.telemetry import STREAM_FIRST_CHUNK, STREAM_RESTART, STREAM_START, STREAM_STOP

__all__ = ["OpenTelemetry"]

_SCOPE = "ollama_actor"
_Handler = Callable[[Mapping[str, Any], Mapping[str, Any]], None]


class OpenTelemetry:
    """Turns the telemetry events into OpenTelemetry metrics and spans.

    ``meter_provider`` and ``tracer_provider`` default to the global ones. `attach` and
    `detach` from any thread. Spans of streams still running at `detach` are ended then.
    """

    def __init__(
        self,
        *,
        meter_provider: metrics.MeterProvider | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self._id = f"otel-{id(self)}"
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(_SCOPE)
        self._tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(_SCOPE)
        self._started = meter.create_counter(
            "ollama_actor.streams.started", description="Streams begun"
        )
        self._finished = meter.create_counter(
            "ollama_actor.streams.finished", description="Streams ended, by outcome"
        )
        self._in_flight = meter.create_up_down_counter(
            "ollama_actor.streams.in_flight", description="Streams begun and not ended"
        )
        self._restarts = meter.create_counter(
            "ollama_actor.stream.restarts", description="Attempts retried after a failure"
        )
        self._duration = meter.create_histogram(
            "ollama_actor.stream.duration", unit="s", description="A stream's start to its end"
        )
        self._first_chunk = meter.create_histogram(
            "ollama_actor.stream.time_to_first_chunk",
            unit="s",
            description="An attempt's request to its first chunk",
        )
        self._prompt = meter.create_counter(
            "ollama_actor.tokens.prompt", description="Prompt tokens evaluated"
        )
        self._generated = meter.create_counter(
            "ollama_actor.tokens.generated", description="Tokens generated"
        )
        self._supervisor_restarts = meter.create_counter(
            "actors.supervisor.restarts", description="Children restarted by a supervisor"
        )
        self._lag = meter.create_histogram(
            "actors.loop.lag", unit="s", description="How late the shared loop's heartbeat ran"
        )
        self._spans: dict[Ref, Span] = {}
        self._counted: dict[Ref, dict[str, str]] = {}
        """Where each stream in flight is counted in ``streams.in_flight``: a pool's stream
        moves to its host's count when its first chunk names the host."""
        self._lock = threading.Lock()
        self._handlers: dict[telemetry.Event, _Handler] = {
            STREAM_START: self._on_start,
            STREAM_FIRST_CHUNK: self._on_first_chunk,
            STREAM_RESTART: self._on_restart,
            STREAM_STOP: self._on_stop,
            telemetry.SUPERVISOR_RESTART: lambda m, md: self._supervisor_restarts.add(1),
            telemetry.LOOP_LAG: lambda m, md: self._lag.record(m["lag"]),
        }

    def attach(self) -> OpenTelemetry:
        """Attach the handlers; returns self."""
        telemetry.attach_many(self._id, self._handlers, self._handle)
        return self

    def detach(self) -> None:
        """Detach the handlers and end the spans of streams still running."""
        telemetry.detach(self._id)
        with self._lock:
            spans, self._spans = self._spans, {}
        for span in spans.values():
            span.end()

    def _handle(
        self,
        event: telemetry.Event,
        measurements: Mapping[str, Any],
        metadata: Mapping[str, Any],
        _config: Any,
    ) -> None:
        self._handlers[event](measurements, metadata)

    def _on_start(self, m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        where = _where(md)
        self._started.add(1, where)
        self._in_flight.add(1, where)
        with self._lock:
            self._counted[md["ref"]] = where
        started = m.get("system_time")
        span = self._tracer.start_span(
            "ollama stream",
            kind=trace.SpanKind.CLIENT,
            start_time=int(started * 1e9) if started is not None else None,
            attributes={
                **where,
                "ollama.ref": str(md["ref"]),
                "ollama.endpoint": str(md.get("endpoint") or ""),
                "ollama.supervised": bool(md.get("supervised")),
            },
        )
        with self._lock:
            self._spans[md["ref"]] = span

    def _on_first_chunk(self, m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        where = _where(md)
        self._first_chunk.record(m["time_to_first_chunk"], where)
        with self._lock:
            counted = self._counted.get(md["ref"])
            if counted is not None and counted != where:
                self._counted[md["ref"]] = where
        if counted is not None and counted != where:
            self._in_flight.add(-1, counted)
            self._in_flight.add(1, where)
        span = self._spans.get(md["ref"])
        if span is not None:
            span.add_event(
                "first_chunk",
                {"attempt": md["attempt"], "time_to_first_chunk": m["time_to_first_chunk"]},
            )

    def _on_restart(self, m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        self._restarts.add(1, _where(md))
        span = self._spans.get(md["ref"])
        if span is not None:
            span.add_event("restart", {"attempt": m["attempt"], "error": repr(md.get("error"))})

    def _on_stop(self, m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        where = _where(md)
        outcome = str(md.get("outcome"))
        self._finished.add(1, {**where, "outcome": outcome})
        with self._lock:
            counted = self._counted.pop(md["ref"], None)
        if counted is not None:  # (not if it began before the handlers were attached)
            self._in_flight.add(-1, counted)
        self._duration.record(m["duration"], {**where, "outcome": outcome})
        if "prompt_eval_count" in m:
            self._prompt.add(m["prompt_eval_count"], where)
        if "eval_count" in m:
            self._generated.add(m["eval_count"], where)
        with self._lock:
            span = self._spans.pop(md["ref"], None)
        if span is None:
            return
        span.set_attributes({f"ollama.{key}": value for key, value in m.items()})
        span.set_attribute("host", where["host"])  # a pool's: the host it went to
        error = md.get("error")
        if isinstance(error, BaseException):
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, str(error)))
        span.end(end_time=time.time_ns())


def _where(metadata: Mapping[str, Any]) -> dict[str, str]:
    return {"model": str(metadata.get("model") or ""), "host": str(metadata.get("host") or "")}
