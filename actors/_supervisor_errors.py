"""The errors that supervisors raise to callers, or end with.

Each OTP error reply of the supervisor API (``already_present``, ``running``, ...) is a class
here, all under `SupervisorError`.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from pykka import ActorRef

from actors._exit import Exit

__all__ = [
    "ChildAlreadyPresent",
    "ChildAlreadyStarted",
    "ChildNotFound",
    "ChildRestarting",
    "ChildRunning",
    "MaxChildrenReached",
    "ReachedMaxRestartIntensity",
    "ShutdownTimeout",
    "StartChildError",
    "SupervisorError",
]


class SupervisorError(Exception):
    """Base of the errors a supervisor raises or ends with."""


class StartChildError(SupervisorError):
    """A child failed to start: its ``start`` raised or returned no `ActorRef`, it ended
    before finishing ``on_start``, or its name is taken. ``cause`` says which."""

    def __init__(self, child_id: Hashable, cause: BaseException) -> None:
        super().__init__(f"child {child_id!r} failed to start: {cause!r}")
        self.child_id = child_id
        self.cause = cause


class ChildNotFound(SupervisorError, LookupError):
    """No child with this id (or ref) is supervised here (OTP's ``not_found``)."""


class ChildAlreadyPresent(SupervisorError):
    """``start_child`` with an id whose spec is present but not running (``already_present``);
    use ``restart_child`` or ``delete_child``."""


class ChildAlreadyStarted(SupervisorError):
    """``start_child`` with the id of a running child (``already_started``); ``ref`` is it."""

    def __init__(self, message: str, ref: ActorRef[Any]) -> None:
        super().__init__(message)
        self.ref = ref


class ChildRunning(SupervisorError):
    """``restart_child``/``delete_child`` on a running child (OTP's ``running``); terminate
    it first."""


class ChildRestarting(SupervisorError):
    """``restart_child``/``delete_child`` on a child waiting for its restart (OTP's
    ``restarting``); terminate it first."""


class MaxChildrenReached(SupervisorError):
    """``DynamicSupervisor.start_child`` while it already has ``max_children`` children."""


class ReachedMaxRestartIntensity(SupervisorError):
    """A supervisor needed more than ``max_restarts`` restarts within ``max_seconds`` and
    gave up (OTP's ``reached_max_restart_intensity``): it stopped its children and ended
    with ``Exit.shutdown(this)``, as OTP's end with ``shutdown``. ``child_id`` and ``exit``
    are the last failure."""

    def __init__(
        self, max_restarts: int, max_seconds: float, child_id: Hashable, exit: Exit
    ) -> None:
        super().__init__(
            f"more than {max_restarts} restart(s) within {max_seconds} s; the last: child "
            f"{child_id!r} ended with {exit!r}"
        )
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self.child_id = child_id
        self.exit = exit


class ShutdownTimeout(SupervisorError, TimeoutError):
    """A child did not end within its ``shutdown`` seconds; its supervisor stopped waiting
    and treats it as terminated (it ends in the background). Reported as the child's exit,
    ``Exit.error(ShutdownTimeout(...))``, to its ``on_exit`` hook."""

    def __init__(self, child_id: Hashable, timeout: float) -> None:
        super().__init__(f"child {child_id!r} did not stop within {timeout} s")
        self.child_id = child_id
        self.timeout = timeout
