"""`SupervisorBase`: what `Supervisor` and `DynamicSupervisor` share.

Starting an incarnation, watching it, deciding on its restart (restart type, the child's own
budget, the supervisor's intensity, backoff), stopping children, names and ``on_exit`` hooks.
The subclasses add how children are kept and which siblings a restart involves.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from types import TracebackType
from typing import Any, Literal, NamedTuple, Self, cast

from pykka import ActorDeadError, ActorRef, ActorRegistry, Timeout
from pykka.messages import ProxyGetAttr

from actors import telemetry
from actors._actor import Actor, _Shutdown, child_start, kill
from actors._child import Backoff, ChildSpec
from actors._deferred import Deferred
from actors._exit import Exit
from actors._intensity import RestartWindow
from actors._loop import WouldBlockLoop, in_loop_thread, permit_blocking
from actors._mailbox import Mailbox
from actors._monitor import Down, demonitor, exit_reason, monitor, wait_exit
from actors._names import NameTaken, Registration, register, release_subtree
from actors._ref import Ref
from actors._request import send_request
from actors._supervisor_errors import (
    Draining,
    ReachedMaxRestartIntensity,
    ShutdownTimeout,
    StartChildError,
)
from actors._timer import send_after

__all__ = ["Child", "SupervisorBase", "begin_drain", "end_drain", "live_supervisors", "when_ready"]

logger = logging.getLogger("actors.supervisor")

_live: weakref.WeakSet[SupervisorBase] = weakref.WeakSet()
_live_lock = threading.Lock()


class _Drains:
    """How many applications drain now (under ``_live_lock``): a supervisor born meanwhile
    (the package's default stream supervisor started on first use, say) drains from birth."""

    count = 0


def begin_drain() -> list[ActorRef[Any]]:
    """From now on every new supervisor refuses new children; the ones already running, to
    be told `SupervisorBase.drain` (oldest first). Atomic with births: no supervisor is in
    neither. Pair with `end_drain`. Any thread."""
    with _live_lock:
        _Drains.count += 1
    return live_supervisors()


def end_drain() -> None:
    """Undo a `begin_drain`: supervisors born from now on take children again."""
    with _live_lock:
        _Drains.count -= 1


def live_supervisors(*, roots: bool = False) -> list[ActorRef[Any]]:
    """Every supervisor of this process that has not ended, oldest first; with ``roots``,
    only those that no running supervisor supervises. Any thread."""
    with _live_lock:
        found = [s for s in _live if not s.actor_stopped.is_set()]
    if roots:
        found = [s for s in found if not _supervised(s)]
    return [s.actor_ref for s in sorted(found, key=lambda s: s._born)]


def _supervised(supervisor: SupervisorBase) -> bool:
    parent = cast("Mailbox", supervisor.actor_inbox).parent
    return parent is not None and parent.is_alive()


READY_POLL = 0.05
"""Seconds between two looks at a starting plain Pykka child that has not answered yet."""


def _level(spec: ChildSpec, level: int) -> int:
    """How loudly to log an end of ``spec``'s child: a child with an ``on_exit`` hook has
    someone who hears of it already (a stream's recipient is told), so the log says it at
    DEBUG only."""
    return logging.DEBUG if spec.on_exit is not None else level


_READY = ProxyGetAttr(attr_path=("actor_urn",))
"""Asked of a new incarnation: answered once its ``on_start`` has returned. A Pykka-level
message, so any actor answers it without its ``on_receive`` seeing it."""

ChildState = Literal["running", "restarting", "stopped"]

_births = itertools.count()
"""Orders `live_supervisors` by start."""


class _Wake(NamedTuple):
    """Told to a supervisor by itself: restarts marked with ``token`` are due."""

    token: int


class Child:
    """A supervisor's record of one child across its incarnations (its thread only).

    ``state`` is ``running`` (``ref`` is the incarnation), ``restarting`` (a restart is
    pending; ``wake`` is the token of its timer, None once due) or ``stopped`` (the spec is
    kept without an incarnation: `Supervisor` only).
    """

    __slots__ = (
        "key",
        "last",
        "monitor",
        "promised",
        "ref",
        "registration",
        "restarts",
        "spec",
        "starting",
        "state",
        "urn",
        "wake",
    )

    def __init__(self, key: Hashable, spec: ChildSpec, window: float) -> None:
        self.key = key
        self.spec = spec
        self.state: ChildState = "stopped"
        self.ref: ActorRef[Any] | None = None
        self.last: ActorRef[Any] | None = None
        """The latest incarnation, running or not."""
        self.urn: str | None = None
        """The URN of the latest incarnation."""
        self.monitor: Ref | None = None
        self.registration: Registration | None = None
        self.promised: Exit | None = None
        """The exit for which ``on_exit(exit, True)`` was called and no restart followed yet."""
        self.wake: int | None = None
        self.starting: Deferred[ActorRef[Any]] | None = None
        """The reply to the ``start_child`` that started it, while its ``on_start`` may not
        have returned (`DynamicSupervisor`); settled once it has, or once it failed."""
        self.restarts = RestartWindow(spec.max_restarts, spec.max_seconds or window)
        """This child's restarts: its own budget, and ``n`` for its backoff."""

    @property
    def status(self) -> ActorRef[Any] | Literal["restarting"] | None:
        """What ``which_children`` shows: the incarnation, ``"restarting"`` or None."""
        if self.state == "restarting":
            return "restarting"
        return self.ref


class SupervisorBase(Actor):
    """The machinery of `actors.Supervisor` and `actors.DynamicSupervisor`.

    Internal: use one of those. All methods run on the supervisor's own thread.
    """

    def __init__(
        self,
        *,
        max_restarts: int | None,
        max_seconds: float,
        backoff: Backoff | None,
    ) -> None:
        super().__init__()
        if backoff is not None and not isinstance(backoff, Backoff):
            raise TypeError(f"backoff must be a Backoff or None, not {backoff!r}")
        self._intensity = RestartWindow(max_restarts, max_seconds)
        self._backoff = backoff
        self._watched: dict[Ref, Child] = {}
        self._tokens = itertools.count(1)
        self._giving_up = False
        self._draining: list[Deferred[None]] | None = None  # the replies `drain` owes
        self._children: dict[Hashable, Child] = {}
        cast("Mailbox", self.actor_inbox).loop_waits = in_loop_thread()  # see `start`
        self._born = next(_births)
        with _live_lock:
            _live.add(self)
            if _Drains.count:  # an application drains: no new children (see `begin_drain`)
                self._draining = []

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> ActorRef[Self]:
        """Start the supervisor and its initial children; return its `ActorRef`.

        Blocks the calling thread until every initial child has started (OTP's
        ``start_link``). If one fails to start, the ones already started are stopped in
        reverse order and its `actors.StartChildError` (naming the child and the cause) is
        raised here. Arguments go to the constructor. Called on the shared loop thread, a
        `LoopActor` child cannot start (its ``on_start`` needs that thread): it fails to
        start with `actors.WouldBlockLoop` as the cause, rather than deadlock.
        """
        with permit_blocking():  # its children may be loop actors: see `_start`
            ref = super().start(*args, **kwargs)
            ended = _ready(ref)
        if ended is not None:
            if ended.exception is not None:
                raise ended.exception
            msg = f"{ref} ended with {ended!r} while starting"
            raise RuntimeError(msg)
        return ref

    def _run_on_start(self) -> None:
        try:
            super()._run_on_start()
        finally:  # the loop thread, if it waits in `start`, waits no more
            cast("Mailbox", self.actor_inbox).loop_waits = False

    # -- messages -------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        try:
            match message:
                case Down():
                    self._on_down(message)
                case _Wake(token=token):
                    self._on_wake(token)
                case _:
                    return super().on_receive(message)
        except ReachedMaxRestartIntensity as error:
            self._give_up(error)
        if self._draining:
            self._check_drained()
        return None

    # -- draining and describing (the API, through the proxy) ---------------------------------

    def drain(self) -> Deferred[None]:
        """Start no new children from now on; the reply comes once those that end by
        themselves (``transient`` and ``temporary`` children, running or waiting for a
        restart) have ended.

        ``start_child`` then raises `actors.Draining`; restarts still happen (a child that
        fails while draining is not new). ``permanent`` children are not waited for: they
        run until the supervisor is stopped. Stop the supervisor to end the rest (the
        application runner does, once its drain deadline has passed). Idempotent.
        """
        reply: Deferred[None] = Deferred()
        if self._draining is None:
            self._draining = []
            logger.info("%s: draining: no new children", self)
        self._draining.append(reply)
        self._check_drained()
        return reply

    @property
    def draining(self) -> bool:
        """Whether `drain` was called: ``start_child`` is refused."""
        return self._draining is not None

    def describe(self, limit: int = 100) -> dict[str, Any]:
        """A snapshot for a status view: this supervisor and up to ``limit`` of its children.

        ``{"kind", "strategy", "draining", "restarts", "max_restarts", "max_seconds",
        "counts": {state: n}, "children": [{"id", "state", "type", "restarts", "ref"}, ...],
        "more": n}``, where ``restarts`` count those within the window, ``ref`` is the
        incarnation (an `ActorRef`, or None) and ``more`` is the number of children left out.
        """
        counts: dict[str, int] = {"running": 0, "restarting": 0, "stopped": 0}
        shown: list[dict[str, Any]] = []
        for child in self._children.values():
            counts[child.state] += 1
            if len(shown) < limit:
                shown.append(
                    {
                        "id": child.spec.id,
                        "state": child.state,
                        "type": child.spec.type,
                        "restarts": len(child.restarts),
                        "ref": child.ref,
                    }
                )
        return {
            "kind": type(self).__name__,
            "strategy": getattr(self, "_strategy", "one_for_one"),
            "draining": self._draining is not None,
            "restarts": len(self._intensity),
            "max_restarts": self._intensity.max_restarts,
            "max_seconds": self._intensity.max_seconds,
            "counts": counts,
            "children": shown,
            "more": len(self._children) - len(shown),
        }

    def _refuse_new_child(self) -> None:
        """Raise `actors.Draining` if `drain` was called (for ``start_child``)."""
        if self._draining is not None:
            raise Draining(f"{self} is draining (its application is stopping): no new children")

    def _check_drained(self) -> None:
        """Answer the pending `drain` replies once no child that ends by itself is left."""
        replies = self._draining
        if not replies:
            return
        for child in self._children.values():
            if child.spec.restart != "permanent" and child.state != "stopped":
                return
        self._draining = []
        for reply in replies:
            reply.resolve(None)

    def _give_up(self, error: ReachedMaxRestartIntensity) -> None:
        """End now with OTP's reason, ``shutdown`` (its children are already stopped)."""
        logger.error("%s: %s; giving up: it ends with shutdown", self, error)
        if telemetry.attached(telemetry.SUPERVISOR_GIVE_UP):
            telemetry.execute(
                telemetry.SUPERVISOR_GIVE_UP,
                {"max_restarts": error.max_restarts, "max_seconds": error.max_seconds},
                {"supervisor": self.actor_ref, "child": error.child_id, "reason": error.exit},
            )
        self._actor_end = Exit.shutdown(error)
        self._stop()

    def on_stop(self) -> None:
        self._terminate_all()

    def _on_killed(self) -> None:
        self._terminate_all()

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._terminate_all()

    def _on_down(self, down: Down) -> None:
        child = self._watched.pop(down.ref, None)
        if child is None:
            return  # a child that was stopped meanwhile (its exit was handled then)
        child.monitor = None
        child.ref = None
        self._child_ended(child, down.reason, inline=True)

    # -- the restart decision -------------------------------------------------------------

    def _child_ended(self, child: Child, exit: Exit, *, inline: bool) -> None:
        """Apply the restart policy to ``child``, whose incarnation ended with ``exit``.

        Also for a restart attempt that failed to start (``inline=False``: the retry then
        goes through the mailbox, as OTP's ``try_again_restart``, so other messages, a stop
        included, are handled in between). Raises `ReachedMaxRestartIntensity` after
        stopping every child when the supervisor gives up: only ever from the handler of a
        ``tell`` (a DOWN or a timer), which ends the supervisor with it (see `_give_up`).
        """
        spec = child.spec
        restart = spec.restart == "permanent" or (spec.restart == "transient" and exit.abnormal)
        if not restart:
            self._retire(child, exit)
            return
        now = time.monotonic()
        if not child.restarts.add(now):
            logger.log(
                _level(spec, logging.WARNING),
                "%s: child %r ended with %r and has used up its own restart budget (%s in "
                "%s s); giving it up",
                self,
                spec.id,
                exit,
                spec.max_restarts,
                spec.max_seconds,
            )
            if telemetry.attached(telemetry.SUPERVISOR_CHILD_GIVEN_UP):
                telemetry.execute(
                    telemetry.SUPERVISOR_CHILD_GIVEN_UP,
                    {"restarts": len(child.restarts)},
                    {"supervisor": self.actor_ref, "child": spec.id, "reason": exit},
                )
            self._discard(child, exit, "its child was given up")
            return
        if not self._intensity.add(now):
            self._giving_up = True
            self._discard(child, exit, "its supervisor gave up")
            max_restarts = self._intensity.max_restarts
            assert max_restarts is not None
            error = ReachedMaxRestartIntensity(
                max_restarts, self._intensity.max_seconds, spec.id, exit
            )
            self._terminate_all()
            raise error
        child.state = "restarting"
        if child.registration is not None:
            child.registration.restarting(by=self.actor_ref)
        backoff = spec.backoff or self._backoff
        delay = 0.0 if backoff is None else backoff.delay(len(child.restarts))
        logger.log(
            _level(spec, logging.INFO),
            "%s: restarting child %r in %.3f s after %r",
            self,
            spec.id,
            delay,
            exit,
        )
        if telemetry.attached(telemetry.SUPERVISOR_RESTART):
            telemetry.execute(
                telemetry.SUPERVISOR_RESTART,
                {"delay": delay, "restarts": len(child.restarts)},
                {"supervisor": self.actor_ref, "child": spec.id, "reason": exit},
            )
        self._notify(child, exit, restarting=True)
        self._restart(child, delay, inline=inline)

    def _schedule(self, delay: float) -> int:
        """Arrange a `_Wake` after ``delay`` seconds (through the mailbox); its token."""
        token = next(self._tokens)
        wake = _Wake(token)
        if delay <= 0:
            self.actor_ref.tell(wake)
        else:
            send_after(delay, self.actor_ref, wake)
        return token

    # -- starting and stopping incarnations -------------------------------------------------

    def _launch(self, child: Child, *, wait: bool = True) -> ActorRef[Any]:
        """Start an incarnation of ``child`` and watch it; raises `StartChildError`.

        Blocks until its ``on_start`` has returned, unless ``wait`` is False and the child is
        one of our actors (see `_start`). Registers the child's name first (held messages
        wait), and publishes the new incarnation under it last.
        """
        spec = child.spec
        if spec.name is not None and child.registration is None:
            try:
                child.registration = register(spec.name, self.actor_ref)
            except NameTaken as exc:
                raise StartChildError(spec.id, exc) from None
        ref, child.monitor = _start(spec, self.actor_ref, wait=wait)
        self._watched[child.monitor] = child
        previous, child.last = child.last, ref
        if previous is not None:  # names its subtree held that this start did not take over
            release_subtree(previous, "its supervisor restarted without that child")
        child.ref = ref
        child.urn = ref.actor_urn
        child.state = "running"
        child.wake = None
        child.promised = None
        if child.registration is not None:
            child.registration.publish(ref, by=self.actor_ref)
        return ref

    def _send_stop(self, child: Child, *, restarting: bool) -> tuple[ActorRef[Any], float | None]:
        """Stop watching ``child`` and send its incarnation the stop; (ref, deadline)."""
        ref = child.ref
        assert ref is not None
        assert child.monitor is not None
        demonitor(child.monitor)
        del self._watched[child.monitor]
        child.monitor = None
        child.ref = None
        if restarting:
            if child.registration is not None:
                child.registration.restarting(by=self.actor_ref)
        else:
            self._release(child, "its child was terminated")
        shutdown = child.spec.shutdown
        if shutdown == "brutal_kill":
            kill(ref)
            return ref, None
        with contextlib.suppress(ActorDeadError):
            ref.tell(_Shutdown())
        if shutdown is None:
            return ref, None
        return ref, time.monotonic() + shutdown

    def _await_stop(self, child: Child, ref: ActorRef[Any], deadline: float | None) -> Exit:
        """Wait for an incarnation sent the stop, up to its ``shutdown``; how it ended."""
        shutdown = child.spec.shutdown
        if shutdown == "brutal_kill":  # killed by `_send_stop`, not waited for
            return exit_reason(ref) or Exit.KILLED
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return wait_exit(ref, timeout)
        except TimeoutError:
            assert shutdown is not None
            kill(ref)
            logger.error(
                "%s: child %r (%s) did not stop within its shutdown timeout of %s s; killed: "
                "its queued messages are refused and it ends, without on_stop, once its "
                "current handler returns (Python cannot stop a thread mid-handler)",
                self,
                child.spec.id,
                ref,
                shutdown,
            )
            return Exit.error(ShutdownTimeout(child.spec.id, shutdown))

    def _stop_child(self, child: Child, *, restarting: bool) -> Exit:
        """Stop ``child``'s incarnation and wait for it (see `_await_stop`)."""
        ref, deadline = self._send_stop(child, restarting=restarting)
        return self._await_stop(child, ref, deadline)

    # -- bookkeeping ------------------------------------------------------------------------

    def _release(self, child: Child, why: str) -> None:
        """No incarnation of ``child`` will come from this supervisor: unregister its name
        and those held below it, unless this supervisor is ending and has a supervisor that
        may restart it (then they hold messages for that restart: see `release_subtree`)."""
        registration, child.registration = child.registration, None
        if self._holds_names():
            if registration is not None:
                registration.restarting(by=self.actor_ref)
            return
        if registration is not None:
            registration.unregister(why, by=self.actor_ref)
        if child.last is not None:
            release_subtree(child.last, why)

    def _holds_names(self) -> bool:
        """Whether this supervisor is ending while a supervisor above it lives.

        Not only its parent: a parent that a group restart is stopping holds its names
        for that restart too, and so must its children's (the supervisor still alive
        above them either restarts the subtree, taking the names over, or releases them).
        """
        if not (self._giving_up or self.actor_stopped.is_set()):
            return False
        parent = cast("Mailbox", self.actor_inbox).parent
        while parent is not None:
            if parent.is_alive():
                return True
            parent = getattr(parent.actor_inbox, "parent", None)
        return False

    def _cancel(self, child: Child, why: str) -> None:
        """Cancel ``child``'s pending restart: it has no incarnation and gets none."""
        child.state = "stopped"
        child.wake = None
        self._release(child, why)
        if child.promised is not None:
            self._notify(child, child.promised, restarting=False)

    def _notify(self, child: Child, exit: Exit, *, restarting: bool) -> None:
        """Call ``child``'s ``on_exit`` hook; log what it raises."""
        child.promised = exit if restarting else None
        hook = child.spec.on_exit
        if hook is None:
            return
        try:
            hook(exit, restarting)
        except Exception:
            logger.exception("%s: the on_exit hook of child %r raised", self, child.spec.id)

    # -- what the subclasses define ---------------------------------------------------------

    def _restart(self, child: Child, delay: float, *, inline: bool) -> None:
        """Restart ``child`` (and what its strategy involves) after ``delay`` seconds."""
        raise NotImplementedError

    def _on_wake(self, token: int) -> None:
        """Start the restarts marked with ``token``."""
        raise NotImplementedError

    def _retire(self, child: Child, exit: Exit) -> None:
        """``child`` ended and is not restarted: keep or remove its spec, call its hook."""
        raise NotImplementedError

    def _discard(self, child: Child, exit: Exit, why: str) -> None:
        """Remove ``child`` for good (no incarnation runs) and call its hook."""
        raise NotImplementedError

    def _terminate_all(self) -> None:
        """Stop every child and forget them all (the supervisor is ending)."""
        raise NotImplementedError


def _ready(ref: ActorRef[Any]) -> Exit | None:
    """Wait until ``ref`` has finished ``on_start``: None if it did, else how it ended.

    An `actors.Actor` or `actors.LoopActor` that ends right after its ``on_start`` returned
    (before it could answer) has started: its end is an ordinary exit, for its monitors. A
    plain Pykka actor that ends before answering counts as failed to start.
    """
    future = ref.ask(_READY, block=False)
    inbox = ref.actor_inbox
    if isinstance(inbox, Mailbox):
        # Our mailboxes answer every ask: a late one is refused once the actor has ended.
        try:
            future.get()
        except ActorDeadError:
            ended = wait_exit(ref, None)
            return None if inbox.started else ended
        return None
    # Pykka checks that the actor lives, then queues the ask: an actor that ends in between
    # never answers it. So look at its stopped flag between short waits.
    while True:
        try:
            future.get(timeout=READY_POLL)
        except Timeout:
            if ref.actor_stopped.is_set():
                break
        except ActorDeadError:
            break
        else:
            return None
    try:
        future.get(timeout=0)  # it may have answered just before it stopped
    except (Timeout, ActorDeadError):
        return Exit.NOPROC
    return None


def _start(
    spec: ChildSpec, watcher: ActorRef[Any], *, wait: bool = True
) -> tuple[ActorRef[Any], Ref]:
    """Start one incarnation of ``spec``, monitored by ``watcher``, and wait for its
    ``on_start``; the incarnation and the monitor, or `StartChildError`.

    The monitor is made before the wait, so that an incarnation that ends right after
    ``on_start`` has its DOWN queued by the time it has ended. With ``wait`` False, an
    `actors.Actor` or `actors.LoopActor` is not waited for: the caller learns how its
    ``on_start`` went from `when_ready` and from its DOWN.
    """
    child_start.parent = watcher  # a supervisor started by ``start`` knows its parent at once
    started = child_start.started = []  # our actors leave Pykka's registry as they start
    try:
        ref = spec.start()
    except Exception as exc:
        raise StartChildError(spec.id, exc) from exc
    finally:
        child_start.parent = child_start.started = None
        for other in started:  # not the child: ``start`` started it for its own reasons
            if other is not ref and other.is_alive():
                ActorRegistry.register(other)
    if not isinstance(ref, ActorRef):
        cause = TypeError(f"its start returned {ref!r}, not a pykka.ActorRef")
        raise StartChildError(spec.id, cause)
    # Its supervisor stops it: `ActorRegistry.stop_all()` must not (it stops actors last
    # started first, children before their supervisors, which would restart them). Our
    # actors left the registry before they ran; a plain Pykka child leaves it now.
    if ref not in started:
        ActorRegistry.unregister(ref)
    inbox = ref.actor_inbox
    if isinstance(inbox, Mailbox):
        inbox.parent = watcher
    if (
        isinstance(inbox, Mailbox)
        and inbox.on_loop
        and cast("Mailbox", watcher.actor_inbox).loop_waits_above()
    ):
        # Its on_start would run on the loop thread, which waits in Supervisor.start.
        with contextlib.suppress(ActorDeadError):
            ref.tell(_Shutdown())
        blocked = WouldBlockLoop(
            f"{ref} runs on the shared loop thread, which is waiting in Supervisor.start "
            "and cannot start it: start the supervisor from another thread, or add its "
            "loop children later with start_child, without waiting for the reply"
        )
        raise StartChildError(spec.id, blocked)
    watch = monitor(ref, watcher)
    if not wait and isinstance(inbox, Mailbox):
        return ref, watch
    ended = _ready(ref)
    if ended is None:
        return ref, watch
    demonitor(watch)  # a DOWN already told is ignored: its monitor is not watched
    release_subtree(ref, "its supervisor failed to start")
    if ended.exception is not None:
        raise StartChildError(spec.id, ended.exception) from ended.exception
    cause = RuntimeError(f"{ref} ended with {ended!r} before it finished starting")
    raise StartChildError(spec.id, cause)


def when_ready(ref: ActorRef[Any], ready: Callable[[], object]) -> None:
    """Call ``ready()`` once ``ref``, one of our actors, has finished ``on_start``; never if
    ``on_start`` failed (its DOWN then says so). Never blocks.

    ``ready`` runs on the actor's own thread (the loop thread for a `LoopActor`) when it
    answers the ready check, before it handles any message sent after this call, and so
    before its DOWN is told; it must be quick and must not block.
    """
    inbox = ref.actor_inbox
    assert isinstance(inbox, Mailbox)

    def answered(_value: Any, error: BaseException | None) -> None:
        # Refused (it ended before answering): it started if on_start had returned.
        if error is None or inbox.started:
            ready()

    send_request(ref, _READY, answered)
