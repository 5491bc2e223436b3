"""A small actor runtime on Pykka: refs, monitors, inboxes and supervision.

Users import from here (``actors.Actor``), never from the private modules. As a library it logs
to the ``actors`` loggers and prints nothing unless the application configures logging.
"""

import logging as _logging

from actors._actor import Actor, shutdown, start_instance
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
    MaxChildrenReached,
    ReachedMaxRestartIntensity,
    ShutdownTimeout,
    StartChildError,
    SupervisorError,
)
from actors._timer import Timer, send_after

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "Actor",
    "Address",
    "AddressBufferFull",
    "AddressProxy",
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
    "send_after",
    "send_request",
    "set_loop_watchdog",
    "shutdown",
    "start_instance",
    "unlink",
    "wait_exit",
    "whereis",
]
