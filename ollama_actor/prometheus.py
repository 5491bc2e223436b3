"""Prometheus metrics from the telemetry events, in the text exposition format; no dependency.

::

    from ollama_actor.prometheus import PrometheusMetrics

    metrics = PrometheusMetrics().attach()    # handlers on the events, from now on
    text = metrics.exposition()               # what GET /metrics answers (CONTENT_TYPE)
    metrics.detach()

`ollama_actor.StatusServer` serves it at ``/metrics`` when given one. The metrics (each
documented in its ``# HELP`` line and in docs/daemons.md):

- streams: started, finished (by outcome and error), in flight, restarts, duration and time to
  first chunk (histograms), prompt and generated tokens, each by model and host;
- supervisors: restarts, children given up, supervisors that gave up;
- the shared loop: lag (a histogram), times it was reported blocked;
- applications: draining (1 while an application drains).

Label values are the model's name and the server's URL, never a stream's ref, so the number of
series stays bounded. Handlers run on the emitting thread and only update numbers under a lock.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from actors import telemetry
from ollama_actor.telemetry import (
    POOL_HOST_DOWN,
    POOL_HOST_UP,
    STREAM_FIRST_CHUNK,
    STREAM_RESTART,
    STREAM_START,
    STREAM_STOP,
)

__all__ = ["CONTENT_TYPE", "PrometheusMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The exposition format's media type, for the ``Content-Type`` of a ``/metrics`` answer."""

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
FIRST_CHUNK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

Labels = tuple[str, ...]


class _Family:
    """One metric: its name, help, type and the values of each label set."""

    def __init__(self, name: str, kind: str, help: str, labels: Sequence[str]) -> None:
        self.name = name
        self.kind = kind
        self.help = help
        self.labels = tuple(labels)
        self.values: dict[Labels, Any] = {}

    def head(self) -> list[str]:
        name = self.name + ("_total" if self.kind == "counter" else "")
        text = self.help.replace("\\", "\\\\").replace("\n", "\\n")
        return [f"# HELP {name} {text}", f"# TYPE {name} {self.kind}"]

    def selector(self, values: Labels, extra: str = "") -> str:
        pairs = [f'{k}="{_escape(v)}"' for k, v in zip(self.labels, values, strict=True)]
        if extra:
            pairs.append(extra)
        return "{" + ",".join(pairs) + "}" if pairs else ""


class _Histogram:
    __slots__ = ("count", "counts", "sum")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * buckets
        self.sum = 0.0
        self.count = 0


class PrometheusMetrics:
    """Counts the telemetry events into Prometheus metrics; `exposition` writes them out.

    ``prefix`` begins the stream metrics' names (``ollama_actor``); the runtime's metrics begin
    with ``actors``. `attach` and `detach` from any thread; `exposition` from any thread.
    """

    def __init__(self, prefix: str = "ollama_actor") -> None:
        self._id = f"prometheus-{id(self)}"
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, ...]] = {}
        self._families: dict[str, _Family] = {}
        self._in_flight: dict[Any, Labels] = {}
        """Each stream in flight (by ref) and the labels it is counted under as in flight: a
        pool's stream moves to its host's when its first chunk names the host."""
        p = prefix
        self._counter(f"{p}_streams_started", "Streams begun.", ("model", "host"))
        self._counter(
            f"{p}_streams_finished",
            "Streams ended, by outcome (done or error) and error type.",
            ("model", "host", "outcome", "error"),
        )
        self._gauge(f"{p}_streams_in_flight", "Streams begun and not ended.", ("model", "host"))
        self._counter(
            f"{p}_stream_restarts", "Attempts retried after a failure.", ("model", "host")
        )
        self._histogram(
            f"{p}_stream_duration_seconds",
            "Seconds from a stream's start to its end.",
            ("model", "host", "outcome"),
            DURATION_BUCKETS,
        )
        self._histogram(
            f"{p}_stream_time_to_first_chunk_seconds",
            "Seconds from an attempt's request to its first chunk.",
            ("model", "host"),
            FIRST_CHUNK_BUCKETS,
        )
        self._counter(
            f"{p}_prompt_tokens",
            "Prompt tokens Ollama evaluated (prompt_eval_count).",
            ("model", "host"),
        )
        self._counter(
            f"{p}_generated_tokens", "Tokens Ollama generated (eval_count).", ("model", "host")
        )
        self._gauge(
            f"{p}_host_up", "1 while a pool has a host in rotation, 0 while it is down.", ("host",)
        )
        self._counter(f"{p}_host_down", "Times a pool took a host out of rotation.", ("host",))
        self._counter("actors_supervisor_restarts", "Children restarted by a supervisor.", ())
        self._counter(
            "actors_supervisor_children_given_up", "Children that used up their own budget.", ()
        )
        self._counter("actors_supervisor_give_ups", "Supervisors that reached their intensity.", ())
        self._histogram(
            "actors_loop_lag_seconds", "How late the shared loop's heartbeat ran.", (), LAG_BUCKETS
        )
        self._counter("actors_loop_blocked", "Times the loop watchdog found the loop blocked.", ())
        self._gauge("actors_application_draining", "1 while an application drains.", ())
        self._names = {
            STREAM_START: self._on_start,
            STREAM_FIRST_CHUNK: self._on_first_chunk,
            STREAM_RESTART: self._on_restart,
            STREAM_STOP: self._on_stop,
            POOL_HOST_DOWN: self._on_host_down,
            POOL_HOST_UP: self._on_host_up,
            telemetry.SUPERVISOR_RESTART: self._count("actors_supervisor_restarts"),
            telemetry.SUPERVISOR_CHILD_GIVEN_UP: self._count("actors_supervisor_children_given_up"),
            telemetry.SUPERVISOR_GIVE_UP: self._count("actors_supervisor_give_ups"),
            telemetry.LOOP_LAG: self._on_lag,
            telemetry.LOOP_BLOCKED: self._count("actors_loop_blocked"),
            telemetry.APPLICATION_DRAIN: self._on_drain,
            telemetry.APPLICATION_STOP: self._on_app_stop,
        }
        self._prefix = p

    # -- attaching ----------------------------------------------------------------------------

    def attach(self) -> PrometheusMetrics:
        """Attach the handlers (to every event above); returns self."""
        telemetry.attach_many(self._id, self._names, self._handle)
        return self

    def detach(self) -> None:
        """Detach the handlers; the numbers so far are kept."""
        telemetry.detach(self._id)

    def _handle(
        self,
        event: telemetry.Event,
        measurements: Mapping[str, Any],
        metadata: Mapping[str, Any],
        _config: Any,
    ) -> None:
        with self._lock:
            self._names[event](measurements, metadata)

    # -- the handlers (under the lock) --------------------------------------------------------

    def _on_start(self, _m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        where = _where(md)
        self._add(f"{self._prefix}_streams_started", where)
        self._add(f"{self._prefix}_streams_in_flight", where)
        self._in_flight[md["ref"]] = where

    def _on_first_chunk(self, m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        where = _where(md)
        self._observe(
            f"{self._prefix}_stream_time_to_first_chunk_seconds", where, m["time_to_first_chunk"]
        )
        counted = self._in_flight.get(md["ref"])
        if counted is not None and counted != where:
            self._add(f"{self._prefix}_streams_in_flight", counted, -1)
            self._add(f"{self._prefix}_streams_in_flight", where)
            self._in_flight[md["ref"]] = where

    def _on_restart(self, _m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        self._add(f"{self._prefix}_stream_restarts", _where(md))

    def _on_stop(self, m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        p = self._prefix
        where = _where(md)
        error = md.get("error")
        outcome = str(md.get("outcome", ""))
        kind = "" if error is None else type(error).__name__
        self._add(f"{p}_streams_finished", (*where, outcome, kind))
        counted = self._in_flight.pop(md["ref"], None)
        if counted is not None:  # (not if it began before the handlers were attached)
            self._add(f"{p}_streams_in_flight", counted, -1)
        self._observe(f"{p}_stream_duration_seconds", (*where, outcome), m["duration"])
        if "prompt_eval_count" in m:
            self._add(f"{p}_prompt_tokens", where, m["prompt_eval_count"])
        if "eval_count" in m:
            self._add(f"{p}_generated_tokens", where, m["eval_count"])

    def _on_host_down(self, _m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        host = (str(md.get("host") or ""),)
        self._families[f"{self._prefix}_host_up"].values[host] = 0
        self._add(f"{self._prefix}_host_down", host)

    def _on_host_up(self, _m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        self._families[f"{self._prefix}_host_up"].values[(str(md.get("host") or ""),)] = 1

    def _on_lag(self, m: Mapping[str, Any], _md: Mapping[str, Any]) -> None:
        self._observe("actors_loop_lag_seconds", (), m["lag"])

    def _on_drain(self, _m: Mapping[str, Any], _md: Mapping[str, Any]) -> None:
        self._families["actors_application_draining"].values[()] = 1

    def _on_app_stop(self, _m: Mapping[str, Any], _md: Mapping[str, Any]) -> None:
        self._families["actors_application_draining"].values[()] = 0

    def _count(self, name: str) -> Any:
        return lambda _m, _md: self._add(name, ())

    # -- the numbers --------------------------------------------------------------------------

    def _counter(self, name: str, help: str, labels: Sequence[str]) -> None:
        self._families[name] = _Family(name, "counter", help, labels)

    def _gauge(self, name: str, help: str, labels: Sequence[str]) -> None:
        self._families[name] = _Family(name, "gauge", help, labels)

    def _histogram(
        self, name: str, help: str, labels: Sequence[str], buckets: tuple[float, ...]
    ) -> None:
        self._families[name] = _Family(name, "histogram", help, labels)
        self._buckets[name] = buckets

    def _add(self, name: str, labels: Labels, amount: float = 1) -> None:
        values = self._families[name].values
        values[labels] = values.get(labels, 0) + amount

    def _observe(self, name: str, labels: Labels, value: float) -> None:
        buckets = self._buckets[name]
        values = self._families[name].values
        histogram = values.get(labels)
        if histogram is None:
            histogram = values[labels] = _Histogram(len(buckets))
        index = bisect.bisect_left(buckets, value)
        if index < len(buckets):
            histogram.counts[index] += 1
        histogram.sum += value
        histogram.count += 1

    def exposition(self) -> str:
        """Every metric in the text exposition format (version 0.0.4). Any thread."""
        lines: list[str] = []
        with self._lock:
            for name, family in self._families.items():
                lines.extend(family.head())
                if family.kind == "histogram":
                    self._write_histogram(lines, family, self._buckets[name])
                    continue
                sample = name + ("_total" if family.kind == "counter" else "")
                values = family.values or ({(): 0} if not family.labels else {})
                for labels, value in sorted(values.items()):
                    lines.append(f"{sample}{family.selector(labels)} {_number(value)}")
        return "\n".join(lines) + "\n"

    @staticmethod
    def _write_histogram(lines: list[str], family: _Family, buckets: tuple[float, ...]) -> None:
        values = family.values or ({(): _Histogram(len(buckets))} if not family.labels else {})
        for labels, histogram in sorted(values.items(), key=lambda item: item[0]):
            total = 0
            for bound, count in zip(buckets, histogram.counts, strict=True):
                total += count
                le = f'le="{_number(bound)}"'
                lines.append(f"{family.name}_bucket{family.selector(labels, le)} {total}")
            inf = 'le="+Inf"'
            lines.append(f"{family.name}_bucket{family.selector(labels, inf)} {histogram.count}")
            lines.append(f"{family.name}_sum{family.selector(labels)} {_number(histogram.sum)}")
            lines.append(f"{family.name}_count{family.selector(labels)} {histogram.count}")


def _where(metadata: Mapping[str, Any]) -> Labels:
    return (str(metadata.get("model") or ""), str(metadata.get("host") or ""))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))
