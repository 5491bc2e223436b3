"""A small actor runtime on Pykka: refs, monitors, inboxes and supervision.

Users import from here (``actors.Actor``), never from the private modules. As a library it logs
to the ``actors`` loggers and prints nothing unless the application configures logging.

``actors.__version__`` (and ``ollama_actor.__version__``) is the installed distribution's
(``ollama-actor``), read from its metadata when first asked for.
"""

import logging as _logging
from typing import TYPE_CHECKING

from actors import telemetry
from actors._actor import Actor, shutdown, start_instance
from actors._application import Application, State, run
from actors._child import Backoff, ChildSpec
from actors._deferred import Deferred
from actors._dynamic_supervisor import DynamicSupervisor
from actors._exit import Exit, ExitKind
from actors._inbox import Inbox
from actors._link import LinkExit, link, unlink
from actors._loop import (
    WouldBlockLoop,
    call_on_loop,
    event_loop,
    in_loop_thread,
    set_loop_watchdog,
)
from actors._loop_actor import LoopActor
from actors._monitor import Down, Recipient, demonitor, exit_reason, monitor, wait_exit
from actors._names import (
    Address,
    AddressBufferFull,
    AddressProxy,
    NameTaken,
    NoSuchName,
    whereis,
)
from actors._notify import sd_notify
from actors._observe import supervision_tree
from actors._ref import Ref
from actors._request import send_request
from actors._stream import Delivery, StreamSink, StreamSource
from actors._stream_worker import StreamRun, StreamWorker
from actors._supervisor import Supervisor
from actors._supervisor_errors import (
    ChildAlreadyPresent,
    ChildAlreadyStarted,
    ChildNotFound,
    ChildRestarting,
    ChildRunning,
    Draining,
    MaxChildrenReached,
    ReachedMaxRestartIntensity,
    ShutdownTimeout,
    StartChildError,
    SupervisorError,
)
from actors._timer import Timer, send_after

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

UNKNOWN_VERSION = "0+unknown"
"""The version of a source tree that was never installed (it has no metadata)."""


def _load(name: str) -> str:
    """``__version__`` on first use (module ``__getattr__``): importlib.metadata costs ~15 ms."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("ollama-actor")
    except PackageNotFoundError:
        value = UNKNOWN_VERSION
    globals()[name] = value
    return value


if TYPE_CHECKING:
    __version__: str
else:  # mypy sees __version__ above, and refuses a name that does not exist
    __getattr__ = _load

__all__ = [
    "Actor",
    "Address",
    "AddressBufferFull",
    "AddressProxy",
    "Application",
    "Backoff",
    "ChildAlreadyPresent",
    "ChildAlreadyStarted",
    "ChildNotFound",
    "ChildRestarting",
    "ChildRunning",
    "ChildSpec",
    "Deferred",
    "Delivery",
    "Down",
    "Draining",
    "DynamicSupervisor",
    "Exit",
    "ExitKind",
    "Inbox",
    "LinkExit",
    "LoopActor",
    "MaxChildrenReached",
    "NameTaken",
    "NoSuchName",
    "ReachedMaxRestartIntensity",
    "Recipient",
    "Ref",
    "ShutdownTimeout",
    "StartChildError",
    "State",
    "StreamRun",
    "StreamSink",
    "StreamSource",
    "StreamWorker",
    "Supervisor",
    "SupervisorError",
    "Timer",
    "WouldBlockLoop",
    "call_on_loop",
    "demonitor",
    "event_loop",
    "exit_reason",
    "in_loop_thread",
    "link",
    "monitor",
    "run",
    "sd_notify",
    "send_after",
    "send_request",
    "set_loop_watchdog",
    "shutdown",
    "start_instance",
    "supervision_tree",
    "telemetry",
    "unlink",
    "wait_exit",
    "whereis",
]
