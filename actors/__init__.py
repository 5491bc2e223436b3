"""A small actor runtime on Pykka: refs, monitors, inboxes and supervision.

Users import from here (``actors.Actor``), never from the private modules.
"""

from actors._actor import Actor, shutdown
from actors._deferred import Deferred
from actors._exit import Exit, ExitKind
from actors._inbox import Inbox
from actors._loop_actor import LoopActor
from actors._monitor import Down, Recipient, demonitor, exit_reason, monitor, wait_exit
from actors._ref import Ref

__all__ = [
    "Actor",
    "Deferred",
    "Down",
    "Exit",
    "ExitKind",
    "Inbox",
    "LoopActor",
    "Recipient",
    "Ref",
    "demonitor",
    "exit_reason",
    "monitor",
    "shutdown",
    "wait_exit",
]
