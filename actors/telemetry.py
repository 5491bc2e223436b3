"""Telemetry events, as Elixir's ``:telemetry`` has them: named events, handlers attached live.

An event is a name (a tuple of strings, such as ``("ollama_actor", "stream", "stop")``), a dict
of measurements (numbers: durations in seconds, counts) and a dict of metadata (what the
numbers are about: a ref, a model, an error). Code that has something to report calls
`execute`; code that wants to hear it calls `attach` with a handler::

    from actors import telemetry

    def on_stop(event, measurements, metadata, config):
        config["histogram"].observe(measurements["duration"])

    telemetry.attach("my-stream-metrics", ("ollama_actor", "stream", "stop"), on_stop, {...})
    ...
    telemetry.detach("my-stream-metrics")

Handlers run synchronously, in the thread that emits the event: often the shared loop thread,
so a handler must be quick and must never block (hand slow work to an actor). A handler that
raises is logged and detached, as ``:telemetry`` does, so that a broken handler cannot break
what emits the event (nor, by raising ``SystemExit``, the shared loop). Attaching and
detaching are safe from any thread at any time.

An event nobody listens to costs a dictionary lookup: emitters that build measurements first
ask `attached`, and nothing is emitted per stream chunk (docs/daemons.md lists the events).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "APPLICATION_DRAIN",
    "APPLICATION_READY",
    "APPLICATION_STOP",
    "LOOP_BLOCKED",
    "LOOP_LAG",
    "LOOP_RECOVERED",
    "SUPERVISOR_CHILD_GIVEN_UP",
    "SUPERVISOR_GIVE_UP",
    "SUPERVISOR_RESTART",
    "Event",
    "Handler",
    "HandlerFunction",
    "attach",
    "attach_many",
    "attached",
    "detach",
    "execute",
    "list_handlers",
]

logger = logging.getLogger(__name__)

Event = tuple[str, ...]
"""An event's name: ``("ollama_actor", "stream", "start")``."""

# -- the runtime's own events ---------------------------------------------------------------

SUPERVISOR_RESTART: Event = ("actors", "supervisor", "restart")
"""A child is restarted. Measurements ``delay`` (its backoff, s) and ``restarts`` (its restarts
within its window); metadata ``supervisor`` (its `ActorRef`), ``child`` (the child's id),
``reason`` (the `actors.Exit` that ended it). The supervisor's thread."""
SUPERVISOR_CHILD_GIVEN_UP: Event = ("actors", "supervisor", "child_given_up")
"""A child used up its own restart budget and is removed. Measurement ``restarts``; metadata
``supervisor``, ``child``, ``reason``."""
SUPERVISOR_GIVE_UP: Event = ("actors", "supervisor", "give_up")
"""A supervisor reached its restart intensity and ends. Measurements ``max_restarts``,
``max_seconds``; metadata ``supervisor``, ``child`` (the last to fail), ``reason``."""
LOOP_LAG: Event = ("actors", "loop", "lag")
"""About 4 times a second: measurement ``lag``, the seconds by which the loop's heartbeat ran
late (what any callback on the shared loop waits beyond its time). The loop thread."""
LOOP_BLOCKED: Event = ("actors", "loop", "blocked")
"""The loop watchdog found the loop blocked. Measurement ``blocked`` (s so far); metadata
``running`` (what the loop thread runs). The watchdog's thread."""
LOOP_RECOVERED: Event = ("actors", "loop", "recovered")
"""A loop reported blocked runs again. Measurement ``blocked`` (s in all)."""
APPLICATION_READY: Event = ("actors", "application", "ready")
"""An `actors.Application`'s tree has started. Measurement ``duration`` (s the start took);
metadata ``application`` (its name) and ``root`` (its root supervisor's `ActorRef`)."""
APPLICATION_DRAIN: Event = ("actors", "application", "drain")
"""An application begins to drain. Measurement ``deadline`` (s); metadata ``application``,
``signal`` (its name, or None for `actors.Application.stop`)."""
APPLICATION_STOP: Event = ("actors", "application", "stop")
"""An application has stopped. Measurements ``drain`` and ``stop`` (s each took) and
``exit_code``; metadata ``application``."""

HandlerFunction = Callable[[Event, Mapping[str, Any], Mapping[str, Any], Any], None]
"""``handler(event, measurements, metadata, config)``."""


@dataclass(frozen=True, slots=True)
class Handler:
    """An attached handler, as `list_handlers` reports it."""

    id: str
    events: tuple[Event, ...]
    function: HandlerFunction
    config: Any


class _Table:
    lock = threading.Lock()
    by_id: dict[str, Handler] = {}  # noqa: RUF012 - replaced whole, under the lock
    by_event: dict[Event, tuple[Handler, ...]] = {}  # noqa: RUF012 - replaced whole


def attach(handler_id: str, event: Event, function: HandlerFunction, config: Any = None) -> None:
    """Call ``function(event, measurements, metadata, config)`` for every ``event`` emitted.

    ``handler_id`` names the attachment (for `detach`); it must be unique: `ValueError` if a
    handler with that id is attached already. Any thread.
    """
    attach_many(handler_id, [event], function, config)


def attach_many(
    handler_id: str, events: Iterable[Event], function: HandlerFunction, config: Any = None
) -> None:
    """`attach` one handler to several events under one id."""
    if not isinstance(handler_id, str) or not handler_id:
        raise TypeError(f"a telemetry handler id must be a non-empty str, not {handler_id!r}")
    if not callable(function):
        raise TypeError(f"a telemetry handler must be callable, not {function!r}")
    names = tuple(events)
    for name in names:
        _check_event(name)
    if not names:
        raise ValueError(f"telemetry handler {handler_id!r} names no event")
    handler = Handler(handler_id, names, function, config)
    with _Table.lock:
        if handler_id in _Table.by_id:
            raise ValueError(f"a telemetry handler {handler_id!r} is attached already")
        by_event = dict(_Table.by_event)
        for name in dict.fromkeys(names):
            by_event[name] = (*by_event.get(name, ()), handler)
        _Table.by_id = {**_Table.by_id, handler_id: handler}
        _Table.by_event = by_event


def detach(handler_id: str) -> bool:
    """Detach the handler attached as ``handler_id``; False if there was none. Any thread.

    An event being emitted on another thread at that moment may still reach it once.
    """
    return _detach(handler_id, None)


def _detach(handler_id: str, only: Handler | None) -> bool:
    """`detach`; with ``only``, only if that very attachment still has the id."""
    with _Table.lock:
        handler = _Table.by_id.get(handler_id)
        if handler is None or (only is not None and handler is not only):
            return False
        by_id = dict(_Table.by_id)
        del by_id[handler_id]
        by_event = dict(_Table.by_event)
        for name in handler.events:
            rest = tuple(h for h in by_event.get(name, ()) if h.id != handler_id)
            if rest:
                by_event[name] = rest
            else:
                by_event.pop(name, None)
        _Table.by_id, _Table.by_event = by_id, by_event
    return True


def attached(event: Event) -> bool:
    """Whether any handler listens to ``event``: the cheap check before building an event."""
    return event in _Table.by_event


def execute(
    event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any] | None = None
) -> None:
    """Emit ``event``: call each handler attached to it, in the order they were attached.

    Runs the handlers in the calling thread and returns when they have. A handler that
    raises is logged (logger ``actors.telemetry``) and detached; the others still run. That
    holds for any exception, ``SystemExit`` too (on the shared loop thread it would end the
    loop, and every stream with it), except a ``KeyboardInterrupt`` in the main thread: a
    Ctrl-C, which goes on to the caller.
    """
    handlers = _Table.by_event.get(event)
    if not handlers:
        return
    meta = metadata if metadata is not None else {}
    for handler in handlers:
        try:
            handler.function(event, measurements, meta, handler.config)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt) and _in_main_thread():
                raise  # Ctrl-C landed in the handler: not the handler's fault, nor ours to eat
            logger.exception("telemetry handler %r raised on %s; it is detached", handler.id, event)
            _detach(handler.id, handler)  # not another attached since under the same id


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()  # after a fork too


def list_handlers(prefix: Event = ()) -> list[Handler]:
    """The handlers attached to events whose names begin with ``prefix`` (all for ``()``)."""
    found = []
    for handler in _Table.by_id.values():
        if any(name[: len(prefix)] == prefix for name in handler.events):
            found.append(handler)
    return found


def _check_event(name: object) -> None:
    if not (isinstance(name, tuple) and name and all(isinstance(p, str) and p for p in name)):
        raise TypeError(f"a telemetry event is a tuple of non-empty strs, not {name!r}")
