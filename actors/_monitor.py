"""Monitors: be told, once, when an actor has fully ended, and why."""

from __future__ import annotations

import logging
import threading
from typing import Any, NamedTuple, Protocol, runtime_checkable

from pykka import ActorRef

from actors._exit import Exit
from actors._loop import call_on_loop, event_loop, refuse_blocking
from actors._mailbox import Mailbox, running_here
from actors._names import Address, Registration, registered
from actors._ref import Ref

__all__ = [
    "Down",
    "Monitor",
    "Recipient",
    "demonitor",
    "exit_reason",
    "monitor",
    "refuse_waiting_for_itself",
    "wait_exit",
]

logger = logging.getLogger(__name__)

SWEEP_INTERVAL = 0.05
"""Seconds between two checks of the plain Pykka actors that are monitored."""


@runtime_checkable
class Recipient(Protocol):
    """Anything that takes messages: a Pykka `ActorRef`, an `actors.Inbox`, ...

    ``tell`` must not block; it may raise (for example `pykka.ActorDeadError`) when the
    recipient is gone.
    """

    def tell(self, message: Any, /) -> None: ...


class Down(NamedTuple):
    """The message a watcher receives when a monitored actor has fully ended.

    Match it with ``case Down(ref=ref, reason=Exit(kind="error", exception=exc)): ...``.
    """

    ref: Ref
    """The monitor, as returned by `monitor`."""
    actor: ActorRef[Any] | Address
    """What was monitored: the actor that ended (the `ActorRef` passed to `monitor`), or the
    `actors.Address` of a name that no incarnation will answer to any more."""
    reason: Exit
    """How it ended."""


class Monitor(Ref):
    """One monitor: a `Ref` that also knows its watcher until it fires or is cancelled.

    The watcher is told under the monitor's own lock, so `cancel` returns only once a
    concurrent `fire` has finished its ``tell``.
    """

    __slots__ = ("_lock", "_owner", "_target", "_watcher")

    def __init__(self, target: ActorRef[Any] | Address, watcher: Recipient) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._target = target
        self._watcher: Recipient | None = watcher
        self._owner: Mailbox | _ForeignWatch | Registration | None = None

    def fire(self, reason: Exit) -> None:
        """Tell the watcher ``Down(self, target, reason)``, unless done or cancelled before.

        A watcher whose ``tell`` raises is dropped silently (logged at DEBUG).
        """
        with self._lock:
            watcher = self._watcher
            if watcher is None:
                return
            self._watcher = None
            try:
                watcher.tell(Down(self, self._target, reason))
            except Exception:
                logger.debug("Dropped %r: its watcher %r refused the DOWN", self, watcher)

    def cancel(self) -> bool:
        """Make the monitor inert; True if it was still active (no DOWN was told)."""
        with self._lock:
            active = self._watcher is not None
            self._watcher = None
        if active and self._owner is not None:
            self._owner.remove_monitor(self)
        return active


class _ForeignWatch:
    """Watches monitored plain Pykka actors, which record no exit reason and tell no one.

    One periodic check on the shared loop (every `SWEEP_INTERVAL` seconds, only while there
    is something to watch) looks at each target's ``actor_stopped`` flag: no thread per
    monitored actor.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._monitors: dict[Monitor, None] = {}
        self._armed = False

    def add_monitor(self, monitor: Monitor) -> None:
        with self._lock:
            self._monitors[monitor] = None
            arm = not self._armed
            self._armed = True
        if arm:
            call_on_loop(self._arm)

    def remove_monitor(self, monitor: Monitor) -> None:
        with self._lock:
            self._monitors.pop(monitor, None)

    def _arm(self) -> None:
        event_loop().call_later(SWEEP_INTERVAL, self._sweep)

    def _sweep(self) -> None:
        with self._lock:
            ended = [m for m in self._monitors if _stopped(m._target)]
            for m in ended:
                del self._monitors[m]
            self._armed = bool(self._monitors)
            if self._armed:
                self._arm()
        for m in ended:
            m.fire(Exit.NOPROC)


def _stopped(target: ActorRef[Any] | Address) -> bool:
    return isinstance(target, ActorRef) and target.actor_stopped.is_set()


_foreign = _ForeignWatch()


def monitor(target: ActorRef[Any] | Address | str, watcher: Recipient) -> Ref:
    """Watch ``target``; ``watcher`` is told ``Down(ref, target, reason)`` once it has ended.

    ``target`` may also be a name or its `actors.Address`: then the DOWN (with that
    `actors.Address` and `Exit.NOPROC`) comes when no incarnation will answer to the name any
    more: its child was terminated, deleted or given up, or its supervision tree ended; not
    while the child restarts. At once if no child is registered under the name.

    Returns the monitor's `Ref`, which the DOWN carries. Safe from any thread; never blocks.

    - For `actors.Actor` and `actors.LoopActor`, the DOWN is told after the actor has fully
      ended: ``on_stop``/``on_failure`` have returned, its queued asks were answered with
      `ActorDeadError`, and the thread (if any) runs no more user code. It is told from the
      ending actor's own thread (the loop thread for a `LoopActor`). ``reason`` is its `Exit`.
    - For a plain Pykka actor the end is noticed within about `SWEEP_INTERVAL` seconds of
      its ``actor_stopped`` flag being set (which Pykka sets before ``on_failure`` has run),
      the DOWN comes from the shared loop thread, and ``reason`` is `Exit.NOPROC`.
    - If ``target`` has already ended, the DOWN is told at once, before this returns, with
      its recorded reason (`Exit.NOPROC` for a plain Pykka actor).

    Each call makes an independent monitor; a target may have any number. If the watcher's
    ``tell`` raises (a dead actor), that DOWN is dropped (logged at DEBUG).
    """
    if isinstance(target, str):
        target = Address(target)
    if isinstance(target, Address):
        return _monitor_name(target, watcher)
    mon = Monitor(target, watcher)
    inbox = target.actor_inbox
    reason: Exit | None
    if isinstance(inbox, Mailbox):
        mon._owner = inbox
        reason = inbox.add_monitor(mon)
    elif target.actor_stopped.is_set():
        reason = Exit.NOPROC
    else:
        mon._owner = _foreign
        _foreign.add_monitor(mon)
        reason = None
    if reason is not None:
        mon.fire(reason)
    return mon


def _monitor_name(address: Address, watcher: Recipient) -> Ref:
    mon = Monitor(address, watcher)
    registration = registered(address.name)
    if registration is not None and registration.add_monitor(mon):
        mon._owner = registration
    else:
        mon.fire(Exit.NOPROC)
    return mon


def demonitor(ref: Ref) -> bool:
    """Cancel the monitor ``ref``; safe from any thread.

    Returns True if the monitor was active: then no DOWN for it is ever told. Returns False
    if its DOWN was already told (it may be waiting in the watcher's mailbox; discard it by
    its ``ref``), if it was already cancelled, or if ``ref`` is not a monitor. Either way, no
    DOWN for ``ref`` is told after this returns: a ``tell`` in progress in another thread is
    waited for (it does not block, so neither does this, for long).
    """
    if not isinstance(ref, Monitor):
        return False
    return ref.cancel()


def exit_reason(ref: ActorRef[Any]) -> Exit | None:
    """How the actor ended, or None while it has not fully ended.

    For `actors.Actor`/`actors.LoopActor`, the reason is there once the actor has fully
    ended, before its monitors are told: a watcher handling the `Down` always finds it. A
    plain Pykka actor counts as ended (`Exit.NOPROC`) as soon as its ``actor_stopped`` flag
    is set. Never blocks.
    """
    inbox = ref.actor_inbox
    if isinstance(inbox, Mailbox):
        return inbox.exit
    return Exit.NOPROC if ref.actor_stopped.is_set() else None


def wait_exit(ref: ActorRef[Any], timeout: float | None) -> Exit:
    """Block until the actor has fully ended (see `exit_reason`) and return how.

    ``timeout`` is in seconds; None waits forever. Raises the builtin `TimeoutError` if the
    actor has not ended in time; the actor is not affected. On the actor's own thread it
    raises `RuntimeError` at once (it would wait for itself). On the shared loop thread,
    waiting for an actor that has not ended raises `actors.WouldBlockLoop` at once (its end
    may need the loop).
    """
    inbox = ref.actor_inbox
    if isinstance(inbox, Mailbox):
        if not inbox.ended:
            refuse_blocking(f"waiting for {ref} to end")
            refuse_waiting_for_itself(ref)
        reason = inbox.wait(timeout)
    else:
        if not ref.actor_stopped.is_set():
            refuse_blocking(f"waiting for {ref} to end")
        reason = Exit.NOPROC if ref.actor_stopped.wait(timeout) else None
    if reason is None:
        msg = f"{ref} did not end within {timeout} s"
        raise TimeoutError(msg)
    return reason


def refuse_waiting_for_itself(ref: ActorRef[Any]) -> None:
    """Raise `RuntimeError` if called on the thread of the actor ``ref``: its end comes
    only after the handler that would wait for it has returned."""
    mailbox: object = ref.actor_inbox
    if running_here() is mailbox:
        msg = (
            f"{ref} cannot wait for its own end from its own thread (it would wait forever): "
            "call self.stop() and return from the handler"
        )
        raise RuntimeError(msg)
