"""`Actor`: a Pykka ``ThreadingActor`` that records how it ended and tells its monitors."""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any, cast

import pykka
from pykka import ActorDeadError, ActorRef

from actors._deferred import Deferred
from actors._exit import Exit
from actors._future import ReplyFuture
from actors._loop import refuse_blocking
from actors._mailbox import Mailbox, ThreadMailbox, answer_unhandled, run_here
from actors._monitor import refuse_waiting_for_itself, wait_exit
from actors._pykka import ActorStop, Envelope, install_ref_table

if TYPE_CHECKING:
    from types import TracebackType

    from pykka import Future

    from actors._pykka import ActorInbox, OptExcInfo

__all__ = ["Actor", "ActorBase", "StopFlag", "child_start", "kill", "shutdown", "start_instance"]

logger = logging.getLogger(__name__)


class _Shutdown(ActorStop):
    """Pykka's stop message, sent by `shutdown`: the actor ends with `Exit.SHUTDOWN`."""

    __slots__ = ()


class _Killed(ActorStop):
    """Queued alone by `kill`: wakes an idle actor so that it finds itself killed."""

    __slots__ = ()


class _ExitAbnormally(ActorStop):
    """Pykka's stop message, sent by `ActorBase.exit_abnormally` to the actor itself: the
    actor ends with ``Exit.error(exception)``."""

    exception: BaseException

    def __new__(cls, exception: BaseException) -> _ExitAbnormally:
        self = super().__new__(cls)
        self.exception = exception
        return self


class _ChildStart(threading.local):
    """What a supervisor's thread is doing while it runs a child's ``start``."""

    parent: ActorRef[Any] | None = None
    """The supervisor (a supervisor started meanwhile is its child: it knows its parent)."""
    started: list[ActorRef[Any]] | None = None
    """Our actors started meanwhile, taken out of Pykka's registry as they start."""


child_start = _ChildStart()
"""Set by a supervisor on its own thread while it runs a child's ``start``."""


_flags = threading.Lock()
"""Guards every `StopFlag`'s state (held for a few bytecodes only)."""


class StopFlag(threading.Event):
    """Our actors' ``actor_stopped``: a ``threading.Event`` that makes its condition only when
    a thread first waits on it.

    Pykka gives every actor an Event, six objects for the collector to track for the actor's
    life (the event, its condition, lock, waiter deque and two bound methods), though nearly
    no one ever waits on it: ``is_alive()`` only reads the flag. With tens of thousands of
    actors alive, those objects made full collections several times slower.
    """

    def __init__(self) -> None:  # no Condition until the first wait
        self._flag = False
        self._cond: threading.Condition | None = None

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        with _flags:
            self._flag = True
            cond = self._cond
        if cond is not None:
            with cond:
                cond.notify_all()

    def clear(self) -> None:
        with _flags:
            self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        with _flags:
            if self._flag:
                return True
            if self._cond is None:
                self._cond = threading.Condition(threading.Lock())
            cond = self._cond
        with cond:
            return cond.wait_for(self.is_set, timeout)


class ActorBase(pykka.Actor):
    """What `Actor` and `actors.LoopActor` share: failure handling, teardown, the end.

    Internal: subclass `Actor` or `actors.LoopActor`, not this.
    """

    trap_exits: bool = False
    """Whether the exit of a linked actor (see `actors.link`) comes to this one as a message,
    ``("EXIT", ref, reason)``, rather than ending it when abnormal. Set it on the class, or on
    the instance at any time; read when a linked actor ends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor_stopped = self.actor_ref.actor_stopped = StopFlag()
        mailbox = cast("Mailbox", self.actor_inbox)
        mailbox.actor = weakref.ref(self)
        mailbox.parent = child_start.parent  # known before the actor runs

    @staticmethod
    def _create_future() -> Future[Any]:
        return ReplyFuture()

    _actor_crash: BaseException | None = None
    """The first exception that killed the actor (set on the actor's own thread)."""

    _actor_end: Exit | None = None
    """The reason to end with when the actor stops, if not the usual one (a subclass's)."""

    _actor_pending: set[Deferred[Any]] | None = None
    """Deferred replies not yet settled; failed with `ActorDeadError` when the actor ends."""

    def _handle_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._actor_crash is None and exception_value is not None:
            self._actor_crash = exception_value
        super()._handle_failure(exception_type, exception_value, traceback)

    def _stop(self) -> None:
        if self.actor_inbox.killed is not None:  # type: ignore[attr-defined]
            # `kill` stopped it: no on_stop. Its wake-up can come before `kill` has set
            # the flag that ends the actor's loop, so set it here too.
            self.actor_stopped.set()
            return
        super()._stop()

    def _leave_registry_if_supervised(self) -> None:
        """Call first thing in ``_start_actor_loop``: an actor started by a supervisor's
        child ``start`` leaves Pykka's registry before it runs, so that
        ``ActorRegistry.stop_all()`` never stops it behind its supervisor's back (the
        supervisor puts back any other actor that ``start`` started)."""
        started = child_start.started
        if started is not None:
            pykka.ActorRegistry.unregister(self.actor_ref)
            started.append(self.actor_ref)

    def _on_killed(self) -> None:
        """Hook: runs on the actor's own thread when it finds itself killed, before its end
        is announced (supervisors stop their children here)."""

    def exit_abnormally(self, exception: BaseException) -> None:
        """End this actor with `Exit.error(exception)`, on purpose and quietly.

        For an actor that should be restarted by its supervisor (a ``transient`` child) without
        a crash report: no traceback is logged and ``on_stop`` runs (not ``on_failure``). It
        works as ``self.stop()`` does: the stop is queued, so the handler that calls it returns
        first and the messages already queued are handled; then ``on_stop`` runs and the actor
        ends with that reason. Messages sent after it are refused. Never blocks.
        """
        self.actor_ref.tell(_ExitAbnormally(exception))

    def _run_on_start(self) -> None:
        # Pykka catches only Exception here; a BaseException would escape the runtime and
        # leave the actor "alive" forever. Neither runs on_failure nor on_stop, as in Pykka.
        if self.actor_inbox.killed is not None:  # type: ignore[attr-defined]
            return  # killed before it ran: no hook at all (on_stop would not close it)
        try:
            self.on_start()
        except BaseException:
            self._handle_failure(*sys.exc_info())
        else:
            mailbox = self.actor_inbox
            assert isinstance(mailbox, Mailbox)
            mailbox.started = True

    def _run_on_failure(self, exc_info: OptExcInfo) -> None:
        try:
            self.on_failure(*exc_info)
        except BaseException:
            self._handle_failure(*sys.exc_info())

    def _handle_error(self, envelope: Envelope[Any]) -> None:
        """Handle the exception the handler of ``envelope`` raised (call from ``except``)."""
        exc_info = sys.exc_info()
        exception = exc_info[1]
        reply_to = envelope.reply_to
        killed = self.actor_inbox.killed is not None  # type: ignore[attr-defined]
        if isinstance(exception, Exception):
            if reply_to is not None:
                logger.info("Exception returned from %s to caller:", self, exc_info=exc_info)
                reply_to.set_exception(exc_info)
                return
            self._handle_failure(*exc_info)
            if not killed:
                self._run_on_failure(exc_info)
            return
        # A BaseException (SystemExit, KeyboardInterrupt, ...): Pykka would stop every actor
        # in the process and never answer the ask. Here it kills this actor only.
        stopping = isinstance(envelope.message, ActorStop)  # raised by on_stop
        if reply_to is not None:
            if stopping:
                reply_to.set(None)  # the stop did stop it: ``stop()`` returns True
            else:
                dead = ActorDeadError(f"{self} crashed with {exception!r} handling the message")
                dead.__cause__ = exception
                reply_to.set_exception(exc_info=(ActorDeadError, dead, None))
        self._handle_failure(*exc_info)
        if not (stopping or killed):
            self._run_on_failure(exc_info)

    def _reply_later(self, deferred: Deferred[Any], future: Future[Any]) -> None:
        """Complete ``future`` when ``deferred`` settles, or when this actor ends first."""
        pending = self._actor_pending
        if pending is None:
            pending = self._actor_pending = set()
        pending.add(deferred)

        def settled(value: Any, error: BaseException | None) -> None:
            pending.discard(deferred)
            if error is None:
                future.set(value)
            else:
                future.set_exception(exc_info=(type(error), error, error.__traceback__))

        deferred._subscribe(settled)

    def _finish(self, last: Envelope[Any] | None) -> None:
        """Tear down and announce the end; ``last`` is the last message handled, if any.

        Runs on the actor's own thread (the loop thread for a `LoopActor`) after the actor
        stopped: refuses new messages, answers queued asks with `ActorDeadError` (a queued
        stop with None), drops queued tells, fails unsettled deferred replies, then records
        the exit reason and tells the monitors.
        """
        mailbox = self.actor_inbox
        assert isinstance(mailbox, Mailbox)
        if mailbox.killed is not None:
            self._on_killed()
        label = str(self.actor_ref)
        queued = [e for e in mailbox.close(label) if not isinstance(e.message, _Killed)]
        dropped = answer_unhandled(queued, f"{label} stopped before handling the message")
        if dropped:
            logger.debug("%s ended with %d unhandled told messages; dropped", label, dropped)
        if self._actor_pending:
            for deferred in self._actor_pending.copy():
                deferred.fail(ActorDeadError(f"{label} ended before its reply was settled"))
        if mailbox.killed is not None:
            reason = mailbox.killed
        elif self._actor_crash is not None:
            reason = Exit.error(self._actor_crash)
        elif self._actor_end is not None:
            reason = self._actor_end
        elif last is not None and isinstance(last.message, _ExitAbnormally):
            reason = Exit.error(last.message.exception)
        elif last is not None and isinstance(last.message, _Shutdown):
            reason = Exit.SHUTDOWN
        else:
            reason = Exit.NORMAL
        mailbox.end(reason, self.actor_ref)


class Actor(ActorBase, pykka.ThreadingActor):
    """A Pykka ``ThreadingActor`` that records how it ended and tells its monitors.

    Use it as a ``pykka.ThreadingActor`` (one thread per actor; ``tell``, ``ask``, ``proxy()``,
    ``stop()`` and the ``on_*`` hooks behave as in Pykka), with these differences:

    - **Exit reason.** When the actor has fully ended, `actors.exit_reason` returns how:
      `Exit.NORMAL` (``stop()``), `Exit.SHUTDOWN` (`actors.shutdown`), or `Exit.error(exc)`
      for the exception that killed it: raised by ``on_start``, by ``on_stop``, or while
      handling a ``tell``. As in Pykka, an exception while handling an ``ask`` (or a proxy
      call) goes back to the caller and the actor lives on.
    - **Fully ended.** Monitors (`actors.monitor`) are told, and `actors.wait_exit` returns,
      only after ``on_stop``/``on_failure`` have returned and the teardown finished (queued
      asks answered with `pykka.ActorDeadError`, queued tells dropped). Pykka's own
      ``actor_stopped`` flag is set earlier, before ``on_failure`` runs.
    - **BaseException.** ``SystemExit``, ``KeyboardInterrupt`` and other ``BaseException``
      raised by a handler or hook kill this actor only (``on_failure`` runs, unless it was
      ``on_stop`` that raised; an asking caller gets `pykka.ActorDeadError` caused by it).
      Pykka would stop every actor in the process and leave the ask unanswered.
    - **on_start.** If ``on_start`` raises, neither ``on_failure`` nor ``on_stop`` runs (as in
      Pykka), but the reason is recorded and monitors are told.
    - **Deferred replies.** A handler may return an `actors.Deferred`; the ``ask`` is then
      answered when it settles (see there).
    - **No lost messages.** A message that reaches the inbox after the teardown began is
      refused: an ``ask`` gets `pykka.ActorDeadError`, a ``tell`` raises it (Pykka can lose
      both in its check-then-put race).

    Handling one message costs what it costs in Pykka: no work is added per message.
    """

    @staticmethod
    def _create_actor_inbox() -> ActorInbox:
        return ThreadMailbox()

    def _start_actor_loop(self) -> None:
        self._leave_registry_if_supervised()
        # A daemon thread always, so that a killed actor stuck in a handler cannot hold up
        # the interpreter's exit; `_keep_alive` keeps the others' non-daemon semantics.
        thread = threading.Thread(
            target=self._actor_loop, name=f"{type(self).__name__}-{next(_thread_numbers)}"
        )
        thread.daemon = True
        if not self.use_daemon_thread:
            _keep_alive.hold(self.actor_inbox, thread)
        try:
            thread.start()
        except BaseException as exc:  # "can't start new thread": the actor never runs
            _keep_alive.release(self.actor_inbox)
            pykka.ActorRegistry.unregister(self.actor_ref)
            self.actor_stopped.set()
            self._actor_crash = exc
            self._finish(None)  # refuses messages, answers asks, tells monitors
            raise

    def _actor_loop(self) -> None:
        try:
            self._run_actor_loop()
        finally:
            _keep_alive.release(self.actor_inbox)

    def _run_actor_loop(self) -> None:
        run_here(cast("Mailbox", self.actor_inbox))
        self._run_on_start()
        inbox = self.actor_inbox
        stopped = self.actor_stopped
        handle = self._handle_receive
        envelope = None
        while not stopped.is_set():
            envelope = inbox.get()
            try:
                response = handle(envelope.message)
            except BaseException:
                self._handle_error(envelope)
                continue
            if envelope.reply_to is not None:
                if isinstance(response, Deferred):
                    self._reply_later(response, envelope.reply_to)
                else:
                    envelope.reply_to.set(response)
        self._finish(envelope)


class _KeepAlive:
    """Keeps the interpreter alive for running actors, as non-daemon threads would.

    `Actor` threads are all daemon threads, so that one that was killed (and may be stuck in
    a handler: Python cannot stop it) never delays the interpreter's exit. The others must:
    Pykka's actors run on non-daemon threads unless ``use_daemon_thread`` is set. So at exit
    (``atexit``, once non-daemon threads have been joined) this waits until every actor that
    would have had a non-daemon thread has ended, or was killed.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held: dict[Any, threading.Thread] = {}
        self._registered = False

    def hold(self, inbox: Any, thread: threading.Thread) -> None:
        with self._changed:
            self._held[inbox] = thread
            if not self._registered:
                self._registered = True
                atexit.register(self._wait)

    def release(self, inbox: Any) -> None:
        with self._changed:
            if self._held.pop(inbox, None) is not None:
                self._changed.notify_all()

    def _wait(self) -> None:
        with self._changed:
            while self._held:
                self._changed.wait()

    def forget_all(self) -> None:
        """After ``fork``: the parent's actor threads do not exist in the child."""
        self._changed = threading.Condition()
        self._held.clear()


install_ref_table()  # stopping an actor costs O(1) however many are registered

_keep_alive = _KeepAlive()
os.register_at_fork(after_in_child=_keep_alive.forget_all)
_thread_numbers = itertools.count()


def shutdown(ref: ActorRef[Any], timeout: float | None) -> Exit:
    """Stop the actor with reason `Exit.SHUTDOWN` and wait until it has fully ended.

    The stop is queued behind the messages already in its inbox, as with ``ref.stop()``.
    Blocks the calling thread (never call it from the actor itself or, for a `LoopActor`,
    from the loop thread) until the actor has fully ended (see `actors.wait_exit`), and
    returns how it ended: `Exit.SHUTDOWN` if this call stopped it, otherwise the reason it
    had already ended, or was ending, with. A plain Pykka actor ends as `Exit.NOPROC`.

    Raises the builtin `TimeoutError` if it has not ended within ``timeout`` seconds (None
    waits forever); the stop stays queued and the actor still stops later. On the shared loop
    thread it raises `actors.WouldBlockLoop` at once and sends nothing; so does the actor's
    own thread, with `RuntimeError`.
    """
    refuse_blocking(f"shutdown({ref})")
    refuse_waiting_for_itself(ref)
    with contextlib.suppress(ActorDeadError):
        ref.tell(_Shutdown())
    return wait_exit(ref, timeout)


def kill(ref: ActorRef[Any], reason: Exit = Exit.KILLED) -> bool:
    """End the actor as OTP's ``exit(Pid, kill)`` would, as far as Python allows.

    At once, from any thread and without blocking: its queued messages are refused (asks get
    `ActorDeadError`, a queued ``stop()`` returns True, tells are dropped) and so are all
    later ones; ``is_alive()`` turns False; it no longer keeps the interpreter from exiting.
    Python cannot stop a thread in the middle of a handler, so an actor that is handling a
    message ends once that handler returns: then it runs no hook (not ``on_stop``, not
    ``on_failure``; a supervisor still stops its children), handles nothing else, and ends
    with ``reason``: `Exit.KILLED` unless a linked actor's end killed it (`actors.link`).

    Returns False if it had already ended or begun its teardown. A plain Pykka actor cannot
    be killed: it is sent a stop, which waits behind its queue, and this returns False.
    """
    inbox = ref.actor_inbox
    if not isinstance(inbox, Mailbox):
        with contextlib.suppress(ActorDeadError):
            ref.tell(ActorStop())
        return False
    label = str(ref)
    queued = inbox.kill(label, Envelope(_Killed()), reason)
    if queued is None:
        return False
    ref.actor_stopped.set()
    pykka.ActorRegistry.unregister(ref)
    _keep_alive.release(inbox)
    dropped = answer_unhandled(queued, f"{label} was killed before handling the message")
    if dropped:
        logger.debug("%s was killed with %d unhandled told messages; dropped", label, dropped)
    return True


def start_instance(actor: pykka.Actor) -> ActorRef[Any]:
    """Start ``actor``, built with its class's constructor rather than ``start()``; its ref.

    Does what ``Cls.start(...)`` does once it has built the actor: registers it in Pykka's
    registry and starts it (its thread, or its first turn on the loop). Its `ActorRef`
    exists from construction; messages told to it before this wait in its mailbox. For code
    that must hand out a ref before the actor may run. Call it once; never blocks.
    """
    pykka.ActorRegistry.register(actor.actor_ref)
    actor._start_actor_loop()
    return actor.actor_ref
