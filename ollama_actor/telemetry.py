"""The telemetry events `ollama_actor` emits, through `actors.telemetry` (docs/daemons.md).

Attach handlers to them with ``actors.telemetry.attach``; `ollama_actor.prometheus` and
`ollama_actor.otel` are ready-made ones. The runtime's own events (supervisors, the loop, the
application) are in `actors.telemetry`.
"""

from __future__ import annotations

from actors.telemetry import Event

__all__ = [
    "POOL_EVENTS",
    "POOL_HOST_DOWN",
    "POOL_HOST_UP",
    "STREAM_EVENTS",
    "STREAM_FIRST_CHUNK",
    "STREAM_RESTART",
    "STREAM_START",
    "STREAM_STOP",
]

STREAM_START: Event = ("ollama_actor", "stream", "start")
"""A stream begins: the supervised call is made, or an unsupervised stream sends its request.
Measurement ``system_time`` (``time.time()``); metadata ``ref``, ``model``, ``host`` (the
server's URL), ``endpoint`` (the API path), ``supervised``."""
STREAM_FIRST_CHUNK: Event = ("ollama_actor", "stream", "first_chunk")
"""An attempt's first chunk has arrived (and been handed on). Measurements
``time_to_first_chunk`` (s since this attempt sent its request: what the server took) and
``since_start`` (s since the stream began: what the caller waited); metadata ``ref``,
``model``, ``host``, ``attempt`` (0 for the first). The shared loop thread."""
STREAM_RESTART: Event = ("ollama_actor", "stream", "restart")
"""A supervised stream tries again. Measurements ``attempt`` (1 for the first retry) and
``since_start``; metadata ``ref``, ``model``, ``host``, ``error`` (what ended the previous
attempt). The shared loop thread."""
STREAM_STOP: Event = ("ollama_actor", "stream", "stop")
"""A stream has ended (its recipient was told its terminal message). Measurements
``duration`` (s since it began), ``attempts`` (restarts), ``time_to_first_chunk`` (of its
last attempt, if it had a chunk) and, from Ollama's final chunk when there is one,
``prompt_eval_count``, ``eval_count``, and ``total_duration``, ``load_duration``,
``prompt_eval_duration``, ``eval_duration`` in seconds; metadata ``ref``, ``model``, ``host``,
``endpoint``, ``outcome`` (``"done"`` or ``"error"``), ``error`` (the exception, or None)."""

STREAM_EVENTS = (STREAM_START, STREAM_FIRST_CHUNK, STREAM_RESTART, STREAM_STOP)
"""A stream's four events, to attach one handler to all of them."""

POOL_HOST_DOWN: Event = ("ollama_actor", "pool", "host_down")
"""A pool took a host out of rotation (it failed to connect, was cut, or its probe failed while
it was up); the pool probes it until it answers. Measurement ``system_time``; metadata
``host`` (its URL, as streams name it), ``error`` (the exception). The shared loop thread."""
POOL_HOST_UP: Event = ("ollama_actor", "pool", "host_up")
"""A host that was down answered a probe (or a request) and is back in rotation. Measurement
``down_for`` (seconds it was down); metadata ``host``. The shared loop thread."""

POOL_EVENTS = (POOL_HOST_DOWN, POOL_HOST_UP)
"""A pool's two events."""
