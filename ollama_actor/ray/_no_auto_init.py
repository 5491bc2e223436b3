"""The project's own threads never start a local Ray.

Ray starts a local instance on a process's first Ray call when none is connected (its
``auto_init`` hook, in every public call and every ``.remote()``). After the application's
``ray.shutdown()``, a call already on its way on one of this package's background threads (the
recipients' sender, a cluster's event thread) would start a new local Ray behind the
application's back, and the streams it carried would hang with it. Those threads mark
themselves with `mark_thread`; on them the hook raises `RayShutDown` instead. Other threads
keep Ray's behaviour.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ray
from ray._private import auto_init_hook  # the one place Ray starts itself (ray 2.x)

__all__ = ["RayShutDown", "mark_thread"]


class RayShutDown(RuntimeError):
    """Ray was shut down in this process: no actor can be reached from it any more."""


_marked = threading.local()


def mark_thread() -> None:
    """On this thread, a Ray call while Ray is not connected raises `RayShutDown`."""
    _marked.on = True


def _refusing(original: Callable[[], None]) -> Callable[[], None]:
    def auto_init_unless_ours() -> None:
        if getattr(_marked, "on", False):
            if not ray.is_initialized():
                raise RayShutDown("Ray was shut down in this process: not starting a new one")
            return
        original()

    auto_init_unless_ours.ours = True  # type: ignore[attr-defined]
    return auto_init_unless_ours


def _install() -> None:
    hook: Any = auto_init_hook.auto_init_ray
    if not getattr(hook, "ours", False):  # the wrappers look the hook up at each call
        auto_init_hook.auto_init_ray = _refusing(hook)


_install()
