"""Names that outlive restarts: a process-wide registry, `whereis` and `Address`.

A supervised child with ``ChildSpec(name="db")`` is registered under ``"db"`` for as long as
its supervisor keeps it (across all its incarnations). `whereis` returns the incarnation that
runs now; an `Address` sends to whichever incarnation is current, and holds messages while
the child restarts, so a restart does not lose them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from pykka import ActorDeadError, ActorRef, Future, Timeout
from pykka.messages import ProxyCall, ProxyGetAttr

from actors._exit import Exit
from actors._future import ReplyFuture

if TYPE_CHECKING:
    from actors._monitor import Monitor

__all__ = [
    "BUFFER_LIMIT",
    "Address",
    "AddressBufferFull",
    "AddressProxy",
    "NameTaken",
    "NoSuchName",
    "Registration",
    "register",
    "registered",
    "release_subtree",
    "whereis",
]

logger = logging.getLogger(__name__)

BUFFER_LIMIT = 10_000
"""Messages (tells and asks) an address holds at most while its child restarts."""


class NoSuchName(ActorDeadError):
    """No child is registered under the name: none ever was, or no incarnation will come
    (its child was terminated, deleted or given up, or its supervisor ended).

    A `pykka.ActorDeadError`, so code that handles dead actors handles it too.
    """


class NameTaken(ValueError):
    """A name is already registered by a live supervisor; names are unique per process."""


class AddressBufferFull(RuntimeError):
    """An address already holds `BUFFER_LIMIT` messages for its restarting child."""


class _Forward:
    """An ``ask`` held by a restarting address: the reply of the incarnation it goes to."""

    __slots__ = ("_error", "_event", "_reply", "future")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reply: Future[Any] | None = None
        self._error: BaseException | None = None
        self.future: Future[Any] = ReplyFuture()
        self.future.set_get_hook(self._get)

    def deliver(self, reply: Future[Any]) -> None:
        self._reply = reply
        self._event.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._event.set()

    def _get(self, timeout: float | None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._event.wait(timeout):
            raise Timeout(f"{timeout} seconds")
        if self._error is not None:
            raise self._error
        assert self._reply is not None
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self._reply.get(timeout=remaining)


_Held = tuple[Any, _Forward | None]
"""A held message: a tell (``None``) or an ask with its `_Forward`."""


class Registration:
    """One name bound to one supervised child, across the child's incarnations.

    Made by `register`. Its supervisor (``owner``) calls `publish`, `restarting` and
    `unregister` (from the supervisor's thread only), naming itself as ``by``: a supervisor
    that no longer owns the name (a successor took it over while it was still tearing down)
    changes nothing. `tell` and `ask` are safe from any thread and never block (except a
    blocking ``ask`` waiting for its reply).

    While there is no running incarnation (before the first start, during a restart or its
    backoff, or once a sender found the incarnation dead before its supervisor did),
    messages are held in order, up to `BUFFER_LIMIT`. `publish` delivers them to the new
    incarnation, oldest first, before any later message; `unregister` fails the held asks
    with `NoSuchName` and drops the held tells with a WARNING.
    """

    __slots__ = (
        "_buffer",
        "_closed",
        "_lock",
        "_monitors",
        "_ref",
        "actor_class",
        "name",
        "owner",
    )

    def __init__(self, name: str, owner: ActorRef[Any]) -> None:
        self.name = name
        self.owner = owner
        """The supervisor that keeps the child."""
        self.actor_class: type[Any] | None = None
        """The class of the latest incarnation (None before the first)."""
        self._lock = threading.Lock()
        self._ref: ActorRef[Any] | None = None
        self._buffer: deque[_Held] = deque()
        self._closed: str | None = None  # why it was unregistered; None while registered
        self._monitors: dict[Monitor, None] = {}

    @property
    def ref(self) -> ActorRef[Any] | None:
        """The running incarnation, or None."""
        ref = self._ref
        return ref if ref is not None and ref.is_alive() else None

    def publish(self, ref: ActorRef[Any], *, by: ActorRef[Any]) -> None:
        """Make ``ref`` current, after delivering the held messages to it in order.

        If ``ref`` dies during the delivery, the undelivered rest stays held, in order,
        for the next incarnation. Does nothing unless ``by`` owns the name.
        """
        while True:
            with self._lock:
                if self._closed is not None or self.owner is not by:
                    return
                self.actor_class = ref.actor_class
                if not self._buffer:
                    self._ref = ref
                    return
                held = list(self._buffer)
                self._buffer.clear()
            done = _deliver(ref, held)
            if done < len(held):
                with self._lock:
                    self._buffer.extendleft(reversed(held[done:]))
                return

    def restarting(self, *, by: ActorRef[Any]) -> None:
        """No incarnation runs until the next `publish`: hold messages meanwhile. Does
        nothing unless ``by`` owns the name."""
        with self._lock:
            if self.owner is by:
                self._ref = None

    def unregister(self, why: str, *, by: ActorRef[Any] | None = None) -> None:
        """Release the name: no incarnation will come. ``why`` goes into the errors.

        With ``by``, only if ``by`` still owns the name (see `release_subtree` for the
        unconditional release of a whole subtree's names).
        """
        with _registry_lock:
            if by is not None and self.owner is not by:
                return
            if _names.get(self.name) is self:
                del _names[self.name]
        self._close(why)

    def tell(self, message: Any) -> None:
        """Send to the current incarnation, or hold ``message`` for the next one."""
        while True:
            with self._lock:
                if self._closed is not None:
                    raise self._gone()
                ref = self._ref
                if ref is None:
                    self._hold((message, None))
                    return
            try:
                ref.tell(message)
            except ActorDeadError:
                # Not delivered: the incarnation has ended and its supervisor has not yet
                # decided. Hold the message for the next incarnation.
                with self._lock:
                    if self._ref is ref:
                        self._ref = None
            else:
                return

    def ask(self, message: Any) -> Future[Any]:
        """Send to the current incarnation, or hold the ask for the next; its reply."""
        with self._lock:
            if self._closed is not None:
                raise self._gone()
            ref = self._ref
            if ref is not None and not ref.is_alive():
                self._ref = ref = None
            if ref is None:
                forward = _Forward()
                self._hold((message, forward))
                return forward.future
        return ref.ask(message, block=False)

    def add_monitor(self, monitor: Monitor) -> bool:
        """Fire ``monitor`` when the name is unregistered; False if it already is."""
        with self._lock:
            if self._closed is not None:
                return False
            self._monitors[monitor] = None
            return True

    def remove_monitor(self, monitor: Monitor) -> None:
        with self._lock:
            self._monitors.pop(monitor, None)

    def _hold(self, item: _Held) -> None:
        if len(self._buffer) >= BUFFER_LIMIT:
            msg = (
                f"Address({self.name!r}) already holds {BUFFER_LIMIT} messages while its "
                "child restarts"
            )
            raise AddressBufferFull(msg)
        self._buffer.append(item)

    def _gone(self) -> NoSuchName:
        return NoSuchName(f"no child is registered as {self.name!r}: {self._closed}")

    def _close(self, why: str) -> None:
        with self._lock:
            if self._closed is not None:
                return
            self._closed = why
            self._ref = None
            held = list(self._buffer)
            self._buffer.clear()
            monitors, self._monitors = self._monitors, {}
        for monitor in monitors:
            monitor.fire(Exit.NOPROC)
        dropped = sum(1 for _message, forward in held if forward is None)
        if dropped:
            logger.warning(
                "Dropped %d message(s) held for Address(%r): %s", dropped, self.name, why
            )
        for _message, forward in held:
            if forward is not None:
                forward.fail(self._gone())

    def __repr__(self) -> str:
        state = self._closed or ("running" if self.ref is not None else "restarting")
        return f"<Registration {self.name!r} {state}>"


def _deliver(ref: ActorRef[Any], held: list[_Held]) -> int:
    """Deliver ``held`` to ``ref`` in order; return how many were delivered."""
    for index, (message, forward) in enumerate(held):
        if forward is None:
            try:
                ref.tell(message)
            except ActorDeadError:
                return index
        elif ref.is_alive():
            forward.deliver(ref.ask(message, block=False))
        else:
            return index
    return len(held)


_registry_lock = threading.Lock()
_names: dict[str, Registration] = {}


def register(name: str, owner: ActorRef[Any]) -> Registration:
    """Register ``name`` for a child of the supervisor ``owner``; the binding to return.

    Raises `NameTaken` if a live supervisor holds the name. A name whose supervisor has
    ended without releasing it (it is held while that supervisor's own supervisor decides
    whether to restart it: see `release_subtree`) is taken over with the messages it holds,
    which the new incarnation then receives; from then on the ended supervisor cannot change
    it, and messages are held for the new incarnation, even if one of the ended
    supervisor's (killed, still tearing down) still runs. Any thread; never blocks.
    """
    with _registry_lock:
        old = _names.get(name)
        if old is None:
            registration = _names[name] = Registration(name, owner)
            return registration
        if old.owner.is_alive():
            msg = f"the name {name!r} is already registered by {old.owner}"
            raise NameTaken(msg)
        with old._lock:
            old.owner = owner
            old._ref = None
        return old


def release_subtree(supervisor: ActorRef[Any], why: str) -> None:
    """Unregister the names held for children of ``supervisor`` or of any supervisor below
    it (no incarnation of that subtree will come); ``why`` goes into the errors.

    A supervisor that ends while its own supervisor lives keeps its children's names (they
    hold messages) for the subtree's restart; its supervisor calls this once it knows
    that no restart will take them over. Any thread; never blocks.
    """
    if not _names:
        return
    urn = supervisor.actor_urn
    with _registry_lock:
        gone = [r for r in _names.values() if _below(r.owner, urn)]
    for registration in gone:
        registration.unregister(why)


def _below(owner: ActorRef[Any] | None, urn: str) -> bool:
    """Whether ``owner`` is the supervisor ``urn`` or was started below it."""
    while owner is not None:
        if owner.actor_urn == urn:
            return True
        owner = getattr(owner.actor_inbox, "parent", None)
    return False


def registered(name: str) -> Registration | None:
    """The registration of ``name``, or None. Any thread; never blocks."""
    return _names.get(name)


def whereis(name: str) -> ActorRef[Any] | None:
    """The running incarnation registered as ``name``, or None.

    None while the child restarts, and when no child is registered so. A snapshot: the
    incarnation may end at any time; use an `Address` to follow restarts. Any thread;
    never blocks.
    """
    registration = _names.get(name)
    return None if registration is None else registration.ref


class Address:
    """A stable address for the supervised child registered as ``name``.

    ``Address("db")`` reaches whichever incarnation of the child is current when a message
    is sent, so it survives restarts, which a Pykka `ActorRef` does not. It is a recipient
    (it has ``tell``), and can be made before the child exists: the name is looked up on
    every send.

    Messages and restarts:

    - While the child runs, ``tell``/``ask`` go straight to its current incarnation.
      Messages already queued in an incarnation that then dies are lost with it (told
      ones) or fail with `pykka.ActorDeadError` (asked ones), as for an `ActorRef`.
    - While it restarts (including its backoff, and from the moment a sender finds the
      incarnation dead), messages are held, in order, and delivered to the next
      incarnation right after it has started, before any later message. At most
      `BUFFER_LIMIT` are held; beyond that ``tell``/``ask`` raise `AddressBufferFull`.
    - When no incarnation will come (the name was never registered, or its child was
      terminated, deleted, given up, or its supervisor ended), ``tell``/``ask`` raise
      `NoSuchName`; held asks fail with it and held tells are dropped with a WARNING.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"an address name must be a str, not {name!r}")
        self.name = name

    def tell(self, message: Any) -> None:
        """Send ``message`` without waiting for a reply; any thread; never blocks.

        Raises `NoSuchName` when no incarnation will come, `AddressBufferFull` when the
        restarting child already has `BUFFER_LIMIT` messages held.
        """
        self._registration().tell(message)

    def ask(self, message: Any, *, block: bool = True, timeout: float | None = None) -> Any:
        """Send ``message`` and return the reply, or a `pykka.Future` of it (``block=False``).

        An ask made while the child restarts waits for the next incarnation, within
        ``timeout`` seconds in all (None: forever); then `pykka.Timeout` is raised, but the
        held ask is still delivered later (timeouts cancel no work, as in Pykka). Raises
        the handler's exception, `pykka.ActorDeadError` if the incarnation ends before it
        answers, `NoSuchName` if no incarnation will come (at once, or from ``get`` when
        the child is given up while the ask is held), `AddressBufferFull` as for `tell`.
        On the shared loop thread, ``block=True`` raises `actors.WouldBlockLoop` unless the
        reply is already in (the child's restart may need the loop); use ``tell``.
        """
        future = self._registration().ask(message)
        return future.get(timeout=timeout) if block else future

    def proxy(self) -> AddressProxy:
        """A proxy whose calls go to whichever incarnation is current (see `AddressProxy`)."""
        return AddressProxy(self)

    def whereis(self) -> ActorRef[Any] | None:
        """The running incarnation, or None (see `actors.whereis`)."""
        return whereis(self.name)

    def _registration(self) -> Registration:
        registration = _names.get(self.name)
        if registration is None:
            raise NoSuchName(f"no child is registered as {self.name!r}")
        return registration

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Address):
            return self.name == other.name
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Address, self.name))

    def __repr__(self) -> str:
        return f"Address({self.name!r})"


class AddressProxy:
    """Like a Pykka ``ActorProxy``, for the current incarnation behind an `Address`.

    ``proxy.method(*args, **kwargs)`` returns a `pykka.Future` of the result (sent as an
    ``ask``, so it waits for a restarting child as `Address.ask` does);
    ``proxy.method.defer(*args, **kwargs)`` sends it as a ``tell``; ``proxy.field``
    returns a future of an attribute's value. Whether a name is a method is read from the
    class of the child's latest incarnation (a method when no incarnation started yet).
    Unlike Pykka's proxy it does not traverse nested attributes, nor set attributes.
    """

    __slots__ = ("_address",)

    def __init__(self, address: Address) -> None:
        self._address = address

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        registration = _names.get(self._address.name)
        actor_class = None if registration is None else registration.actor_class
        if actor_class is None or callable(getattr(actor_class, name, None)):
            return _AddressMethod(self._address, name)
        return self._address.ask(ProxyGetAttr(attr_path=(name,)), block=False)

    def __repr__(self) -> str:
        return f"<AddressProxy for {self._address!r}>"


class _AddressMethod:
    __slots__ = ("_address", "_name")

    def __init__(self, address: Address, name: str) -> None:
        self._address = address
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Future[Any]:
        call = ProxyCall(attr_path=(self._name,), args=args, kwargs=kwargs)
        future: Future[Any] = self._address.ask(call, block=False)
        return future

    def defer(self, *args: Any, **kwargs: Any) -> None:
        self._address.tell(ProxyCall(attr_path=(self._name,), args=args, kwargs=kwargs))
