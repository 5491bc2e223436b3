"""Child specifications: what a supervisor starts, and how it restarts and stops it."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from types import EllipsisType
from typing import Any, Literal, get_args

from pykka import ActorRef

from actors._exit import Exit

__all__ = ["Backoff", "ChildSpec", "ChildType", "OnExit", "Restart", "Shutdown"]

Restart = Literal["permanent", "transient", "temporary"]
"""When a child is restarted: ``permanent`` always, ``transient`` only after an abnormal
exit (`Exit.abnormal`), ``temporary`` never."""

ChildType = Literal["worker", "supervisor"]

Shutdown = float | Literal["brutal_kill"] | None
"""How long a supervisor waits for a child it stops before it kills it: seconds, ``None``
(forever), or ``"brutal_kill"`` (not at all)."""

OnExit = Callable[[Exit, bool], None]
"""``on_exit(exit, restarting)``: see `ChildSpec`."""

WORKER_SHUTDOWN = 5.0
"""The default ``shutdown`` of a ``worker`` child, in seconds (OTP's 5000 ms)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter between a child's consecutive restarts.

    The delay before the n-th restart of a child (n counted within its restart window, so
    a child that stayed up longer than the window starts again at n = 1) is::

        min(max, min * multiplier ** (n - 1)) * (1 + jitter * random())

    so it lies in ``[min, max * (1 + jitter)]``, grows by ``multiplier`` per restart and
    never exceeds ``max`` by more than the jitter. ``min=0`` means no delay at all (OTP's
    behaviour, the supervisors' default). The jitter spreads restarts of many children that
    failed together, so that they do not all hit a shared resource at the same instant.
    """

    min: float
    """Seconds before the first restart (``>= 0``)."""
    max: float
    """Upper bound of the delay before jitter (``>= min``)."""
    multiplier: float = 2.0
    """Growth per consecutive restart (``>= 1``)."""
    jitter: float = 0.2
    """Random extra, as a fraction of the delay (``>= 0``)."""

    def __post_init__(self) -> None:
        if not 0 <= self.min <= self.max or math.isinf(self.max):
            msg = f"Backoff needs 0 <= min <= max < inf, not min={self.min!r}, max={self.max!r}"
            raise ValueError(msg)
        if not self.multiplier >= 1:
            msg = f"Backoff multiplier must be >= 1, not {self.multiplier!r}"
            raise ValueError(msg)
        if not self.jitter >= 0:
            msg = f"Backoff jitter must be >= 0, not {self.jitter!r}"
            raise ValueError(msg)

    def delay(self, n: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before the ``n``-th consecutive restart (``n >= 1``).

        ``rand`` returns a float in ``[0, 1)``; the default is `random.random`.
        """
        if n < 1:
            msg = f"restarts are counted from 1, not {n!r}"
            raise ValueError(msg)
        if self.min == 0:
            return 0.0
        # Compare exponents rather than computing multiplier ** (n - 1), which overflows.
        if (n - 1) * math.log(self.multiplier) >= math.log(self.max / self.min):
            base = self.max
        else:
            base = self.min * self.multiplier ** (n - 1)
        return base * (1 + self.jitter * rand())


class ChildSpec:
    """How a supervisor starts, restarts and stops one child (OTP's ``child_spec()``).

    - ``id``: names the child within its supervisor (any hashable; unique per `Supervisor`).
    - ``start``: a zero-argument callable that starts one incarnation and returns its Pykka
      `ActorRef`, usually ``lambda: Worker.start(...)``. Called on the supervisor's thread.
      Children should subclass `actors.Actor` or `actors.LoopActor`, whose exit reasons the
      supervisor reads; a plain Pykka actor always ends as `Exit.NOPROC`, which is never
      abnormal, so as a ``transient`` child it is never restarted.
    - ``restart``: ``"permanent"`` (default), ``"transient"`` or ``"temporary"``.
    - ``shutdown``: how the supervisor stops the child: seconds (default 5.0 for a worker)
      to wait for it to handle the stop (queued behind its messages) before it is killed;
      ``None`` = wait forever (the default for a supervisor); ``"brutal_kill"`` = kill it at
      once, without waiting. Killing (`actors.Exit.KILLED`) refuses its queued messages at
      once and ends it, without ``on_stop``, right after its current handler: Python
      cannot stop a thread in the middle of a handler, so a child stuck in one runs on in
      the background until it returns, but no longer delays the interpreter's exit.
    - ``type``: ``"worker"`` (default) or ``"supervisor"``.
    - ``name``: registers each incarnation under this process-wide name, for
      `actors.whereis` and `actors.Address` (see there).
    - ``backoff``: a `Backoff` for this child's restarts, instead of its supervisor's.
    - ``max_restarts``/``max_seconds``: this child's own restart budget. A child that needs
      more than ``max_restarts`` restarts within ``max_seconds`` (default 5.0) is given up
      (removed, not restarted) while the supervisor carries on. ``None`` (default): no own
      budget; only the supervisor's intensity applies.
    - ``on_exit``: ``on_exit(exit, restarting)`` is called on the supervisor's thread each
      time an incarnation of the child ends (or a restart attempt fails to start), with how
      it ended and whether a restart will follow. Whenever it was called with
      ``restarting=True``, it is called again with ``restarting=False`` if that restart is
      then cancelled (`terminate_child`, the supervisor stopping or giving up). So a child
      that is not restarted again always gets a last call with ``restarting=False``.
      Exceptions it raises are logged and ignored. It must not block for long (the
      supervisor waits for it), nor wait for the supervisor (a deadlock). Since the hook
      hears of the child's ends, the supervisor logs them (restarts, a spent budget) at
      DEBUG rather than INFO or WARNING.

    Raises `ValueError` or `TypeError` at once for invalid values.
    """

    __slots__ = (
        "backoff",
        "id",
        "max_restarts",
        "max_seconds",
        "name",
        "on_exit",
        "restart",
        "shutdown",
        "start",
        "type",
    )

    id: Hashable
    start: Callable[[], ActorRef[Any]]
    restart: Restart
    shutdown: Shutdown
    type: ChildType
    name: str | None
    backoff: Backoff | None
    max_restarts: int | None
    max_seconds: float | None
    on_exit: OnExit | None

    def __init__(
        self,
        id: Hashable,
        start: Callable[[], ActorRef[Any]],
        *,
        restart: Restart = "permanent",
        shutdown: Shutdown | EllipsisType = ...,
        type: ChildType = "worker",
        name: str | None = None,
        backoff: Backoff | None = None,
        max_restarts: int | None = None,
        max_seconds: float | None = None,
        on_exit: OnExit | None = None,
    ) -> None:
        hash(id)
        if not callable(start):
            raise TypeError(f"ChildSpec start must be callable, not {start!r}")
        if restart not in get_args(Restart):
            raise ValueError(
                f"ChildSpec restart must be one of {get_args(Restart)}, not {restart!r}"
            )
        if type not in get_args(ChildType):
            raise ValueError(f"ChildSpec type must be one of {get_args(ChildType)}, not {type!r}")
        if shutdown is ...:
            shutdown = WORKER_SHUTDOWN if type == "worker" else None
        elif not (shutdown is None or shutdown == "brutal_kill" or _seconds(shutdown)):
            raise ValueError(
                f"ChildSpec shutdown must be seconds >= 0, None or 'brutal_kill', not {shutdown!r}"
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"ChildSpec name must be a str or None, not {name!r}")
        if backoff is not None and not isinstance(backoff, Backoff):
            raise TypeError(f"ChildSpec backoff must be a Backoff or None, not {backoff!r}")
        if max_restarts is None:
            if max_seconds is not None:
                raise ValueError("ChildSpec max_seconds needs max_restarts")
        elif not (isinstance(max_restarts, int) and max_restarts >= 0):
            raise ValueError(f"ChildSpec max_restarts must be an int >= 0, not {max_restarts!r}")
        elif max_seconds is None:
            max_seconds = 5.0
        elif not (_seconds(max_seconds) and max_seconds > 0):
            raise ValueError(f"ChildSpec max_seconds must be > 0, not {max_seconds!r}")
        if on_exit is not None and not callable(on_exit):
            raise TypeError(f"ChildSpec on_exit must be callable or None, not {on_exit!r}")
        self.id = id
        self.start = start
        self.restart = restart
        self.shutdown = shutdown
        self.type = type
        self.name = name
        self.backoff = backoff
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self.on_exit = on_exit

    def __repr__(self) -> str:
        extra = "".join(
            f", {field}={getattr(self, field)!r}"
            for field in ("name", "backoff", "max_restarts", "max_seconds")
            if getattr(self, field) is not None
        )
        return (
            f"ChildSpec({self.id!r}, restart={self.restart!r}, shutdown={self.shutdown!r}, "
            f"type={self.type!r}{extra})"
        )


def _seconds(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < math.inf
