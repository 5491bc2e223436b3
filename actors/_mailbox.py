"""Mailboxes that carry an actor's runtime state: its exit reason, end event and monitors.

Pykka's `ActorRef` keeps the actor's inbox (``ref.actor_inbox``) but only a weak reference to
the actor, so the inbox is the one object that lives exactly as long as anyone can name the
actor. Our actors' inboxes therefore subclass `Mailbox`, which records how the actor ended and
who watches it. Nothing is kept in a global table.
"""

from __future__ import annotations

import abc
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pykka import ActorDeadError, ActorRef

from actors._pykka import ActorStop

if TYPE_CHECKING:
    from actors._exit import Exit
    from actors._monitor import Monitor
    from actors._pykka import Envelope

__all__ = ["Mailbox", "ThreadMailbox", "answer_unhandled", "refuse", "run_here", "running_here"]


class Mailbox(abc.ABC):
    """Base of our actors' inboxes: the queue plus the actor's end state.

    Life cycle: open (messages queue) -> closed by `close` when the actor's teardown begins
    (later ``put`` calls are refused, see `refuse`) -> ended by `end` once teardown finished
    (exit reason recorded, monitors told, waiters woken).
    """

    __slots__ = (
        "_done",
        "_ended",
        "_label",
        "_links",
        "_monitors",
        "_reason",
        "_state_lock",
        "actor",
        "killed",
        "loop_waits",
        "parent",
        "started",
    )

    on_loop: ClassVar[bool] = False
    """Whether the actor runs on the shared loop thread (and so ends only there)."""

    def __init__(self) -> None:
        self._state_lock = threading.Lock()
        self._label: str | None = None  # the actor's name once closed; None while open
        self._reason: Exit | None = None
        self._done = False
        # Made by the first monitor or link (most actors have none); dropped at the end.
        self._monitors: dict[Monitor, None] | None = None
        self._ended: threading.Event | None = None  # created by the first waiter
        self.started = False
        """Set by the actor's runtime once ``on_start`` has returned (not raised)."""
        self.killed: Exit | None = None
        """Set by `kill`: the actor handles no more messages and ends with this reason."""
        self.actor: Callable[[], Any] = _nobody
        """A weak reference to the actor (set by its runtime), for its ``trap_exits``."""
        self._links: set[ActorRef[Any]] | None = None
        self.parent: ActorRef[Any] | None = None
        """The supervisor of this incarnation, if a supervisor started it."""
        self.loop_waits = False
        """Set while the shared loop thread waits for this supervisor's ``on_start`` (it
        was started there): nothing it starts may wait for the loop meanwhile."""

    @abc.abstractmethod
    def put(self, envelope: Envelope[Any], /) -> None:
        """Queue ``envelope``; once closed, `refuse` it instead. Never blocks."""

    @abc.abstractmethod
    def close(self, label: str) -> list[Envelope[Any]]:
        """Refuse all later messages and return those still queued, oldest first.

        Called once, by the actor's own runtime at the start of its teardown. ``label`` names
        the actor in the `ActorDeadError` that refused messages carry.
        """

    def kill(self, label: str, wake: Envelope[Any], reason: Exit) -> list[Envelope[Any]] | None:
        """Close now and queue ``wake`` alone, so that the runtime, idle or busy, comes back
        to find the actor killed; the messages that were queued, or None if already closed.

        Any thread; never blocks.
        """
        with self._queue_lock():
            if self._label is not None:
                return None
            self._label = label
            self.killed = reason
            items = self._take_all()
            self._append(wake)
        self._woken()
        return items

    @abc.abstractmethod
    def _queue_lock(self) -> Any:
        """The lock that guards the queue and ``_label``."""

    @abc.abstractmethod
    def _take_all(self) -> list[Envelope[Any]]:
        """Remove and return every queued message (the queue lock is held)."""

    @abc.abstractmethod
    def _append(self, envelope: Envelope[Any]) -> None:
        """Queue ``envelope`` even though the mailbox is closed (the queue lock is held)."""

    def _woken(self) -> None:  # noqa: B027  (a thread's queue wakes its reader itself)
        """After `_append`, outside the lock: make the runtime come back for it."""

    def loop_waits_above(self) -> bool:
        """Whether the loop thread waits for the ``on_start`` of this actor or of a
        supervisor above it: then anything this actor waits for on the loop deadlocks."""
        mailbox: Any = self
        while isinstance(mailbox, Mailbox):
            if mailbox.loop_waits:
                return True
            mailbox = None if mailbox.parent is None else mailbox.parent.actor_inbox
        return False

    @property
    def exit(self) -> Exit | None:
        """The exit reason once the actor has fully ended (recorded before any monitor is
        told, so a watcher that got the DOWN finds it here)."""
        return self._reason

    @property
    def ended(self) -> bool:
        """Whether the end is announced: the reason recorded and every monitor told."""
        return self._done

    def add_monitor(self, monitor: Monitor) -> Exit | None:
        """Register ``monitor``; if the actor has already ended, return its reason instead."""
        with self._state_lock:
            if self._reason is None:  # the end is not announced yet
                if self._monitors is None:
                    self._monitors = {}
                self._monitors[monitor] = None
            return self._reason

    def link(self, ref: ActorRef[Any], other: Mailbox, other_ref: ActorRef[Any]) -> bool:
        """Link this actor (``ref``) and ``other`` (``other_ref``) both ways, atomically;
        False, linking nothing, if either has already begun to announce its end."""
        first, second = (self, other) if id(self) < id(other) else (other, self)
        with first._state_lock, second._state_lock:
            if self._reason is not None or other._reason is not None:
                return False
            if self._links is None:
                self._links = set()
            if other._links is None:
                other._links = set()
            self._links.add(other_ref)
            other._links.add(ref)
            return True

    def unlink(self, ref: ActorRef[Any], other: Mailbox, other_ref: ActorRef[Any]) -> None:
        """Remove the link between this actor (``ref``) and ``other``, both ways at once."""
        first, second = (self, other) if id(self) < id(other) else (other, self)
        with first._state_lock, second._state_lock:
            if self._links is not None:
                self._links.discard(other_ref)
            if other._links is not None:
                other._links.discard(ref)

    def take_link(self, other: ActorRef[Any]) -> bool:
        """Remove the link to ``other``; whether there was one (its exit signal then
        applies: an `unlink` that returned first means it does not)."""
        with self._state_lock:
            if self._links is None or other not in self._links:
                return False
            self._links.remove(other)
            return True

    def remove_monitor(self, monitor: Monitor) -> None:
        """Forget ``monitor`` (after it was cancelled); no-op when unknown."""
        with self._state_lock:
            if self._monitors is not None:
                self._monitors.pop(monitor, None)

    def end(self, reason: Exit, ref: ActorRef[Any]) -> None:
        """Record ``reason``, then tell every monitor and linked actor, then wake `wait`
        callers. ``ref`` is the actor's own, for the messages that name it.

        Called once, by the actor's runtime, after ``on_stop``/``on_failure`` and the teardown
        have finished. Runs the monitors' ``tell`` in the calling thread.
        """
        with self._state_lock:
            self._reason = reason
            monitors = self._monitors or {}
            self._monitors = None
            links = self._links or set()
            self._links = None
        for monitor in monitors:
            monitor.fire(reason)
        if links:
            from actors._link import signal

            for other in links:
                signal(other, ref, reason)
        with self._state_lock:
            self._done = True
            ended = self._ended
        if ended is not None:
            ended.set()

    def wait(self, timeout: float | None) -> Exit | None:
        """Block until `end` has finished; return the reason, or None on timeout."""
        with self._state_lock:
            if self._done:
                assert self._reason is not None
                return self._reason
            if self._ended is None:
                self._ended = threading.Event()
            ended = self._ended
        return self._reason if ended.wait(timeout) else None


def _nobody() -> None:
    return None


_running = threading.local()


def run_here(mailbox: Mailbox) -> None:
    """Note that the calling thread is the thread of ``mailbox``'s actor (called once, as
    that thread begins), for `running_here`."""
    _running.mailbox = mailbox


def running_here() -> Mailbox | None:
    """The mailbox of the thread actor whose thread calls this, or None."""
    mailbox: Mailbox | None = getattr(_running, "mailbox", None)
    return mailbox


def answer_unhandled(envelopes: list[Envelope[Any]], why: str) -> int:
    """Answer messages the actor will never handle: an ``ask`` gets `ActorDeadError` saying
    ``why``, a queued ``stop()`` gets None (it did stop); the number of tells, dropped."""
    dropped = 0
    for envelope in envelopes:
        if envelope.reply_to is None:
            dropped += 1
        elif isinstance(envelope.message, ActorStop):
            envelope.reply_to.set(None)
        else:
            error = ActorDeadError(why)
            envelope.reply_to.set_exception(exc_info=(ActorDeadError, error, None))
    return dropped


def refuse(envelope: Envelope[Any], label: str) -> None:
    """Handle a message put into a closed mailbox (the actor ended in between).

    Pykka's ``tell``/``ask`` check ``is_alive()`` and then ``put``; an actor can end between
    the two. Rather than losing the message without a trace, an ``ask`` gets
    `ActorDeadError` in its future, and a ``tell`` raises `ActorDeadError` to its sender,
    exactly as if the sender had seen the actor dead.
    """
    error = ActorDeadError(f"{label} has ended; the message was not delivered")
    if envelope.reply_to is not None:
        envelope.reply_to.set_exception(exc_info=(ActorDeadError, error, None))
        return
    raise error


class ThreadMailbox(queue.Queue[Any], Mailbox):
    """The inbox of a thread-based `actors.Actor`: Pykka's own unbounded ``queue.Queue``.

    ``put`` costs what ``queue.Queue.put`` costs (one lock, one notify) plus one check that
    the mailbox is still open.
    """

    def __init__(self) -> None:
        queue.Queue.__init__(self)
        Mailbox.__init__(self)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Queue ``item`` (never blocks: the queue is unbounded); refuse it once closed."""
        with self.mutex:
            label = self._label
            if label is None:
                self.queue.append(item)
                self.unfinished_tasks += 1
                self.not_empty.notify()
                return
        refuse(item, label)

    def close(self, label: str) -> list[Envelope[Any]]:
        with self.mutex:
            if self._label is None:
                self._label = label
            return self._take_all()

    def _queue_lock(self) -> Any:
        return self.mutex

    def _take_all(self) -> list[Envelope[Any]]:
        items = list(self.queue)
        self.queue.clear()
        return items

    def _append(self, envelope: Envelope[Any]) -> None:
        self.queue.append(envelope)
        self.unfinished_tasks += 1
        self.not_empty.notify()
