"""`Supervisor`: OTP's supervisor for a fixed, ordered list of children."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, Literal, get_args

from pykka import ActorRef

from actors._child import Backoff, ChildSpec, ChildType
from actors._exit import Exit
from actors._supervisor_base import Child, SupervisorBase
from actors._supervisor_errors import (
    ChildAlreadyPresent,
    ChildAlreadyStarted,
    ChildNotFound,
    ChildRestarting,
    ChildRunning,
    StartChildError,
)

__all__ = ["Strategy", "Supervisor"]

Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]


class Supervisor(SupervisorBase):
    """Starts children in order, restarts them by OTP's rules, stops them in reverse order.

    ::

        sup = Supervisor.start(
            [ChildSpec("db", lambda: Db.start(), name="db"), ChildSpec("web", Web.start)],
            strategy="rest_for_one", max_restarts=3, max_seconds=5.0,
        )
        sup.proxy().which_children().get()
        sup.stop()

    It is an `actors.Actor` with a thread of its own, because it blocks while it starts a
    child (until the child's ``on_start`` returns) and while it stops one (up to the child's
    ``shutdown``), and runs user code (``start``, ``on_exit``). Call its API through its
    proxy; each call blocks the supervisor, never the caller's other work, and returns
    or raises in the caller's ``future.get()``.

    **Start.** ``Supervisor.start(children, ...)`` returns once every child in
    ``children`` has started, in order. A child has started once its ``on_start`` has
    returned; it failed to start if its ``start`` raised or returned no `ActorRef`, or its
    ``on_start`` raised (for a plain Pykka actor: if it ended before answering). A failure
    stops those already started (reverse order) and raises `actors.StartChildError` in the
    caller. An incarnation that ends right after ``on_start`` has started: its end is an
    ordinary exit. The same holds for every later start (``start_child``, restarts).

    **Exits.** The supervisor monitors each incarnation (`actors.monitor`), so it learns of
    an exit once the child has fully ended, with its `actors.Exit`. ``permanent`` children
    are always restarted, ``transient`` ones only after an abnormal exit (an ``error``),
    ``temporary`` ones never (their spec is then removed). A ``transient`` child that ended
    normally keeps its spec (shown with None). A restart applies the ``strategy``:

    - ``one_for_one``: only that child is restarted;
    - ``one_for_all``: all other children are stopped in reverse start order, then all are
      started again in start order;
    - ``rest_for_one``: the children started after it are stopped in reverse order, then it
      and they are started again in order.

    As in OTP, siblings that are ``temporary`` are stopped and removed, not restarted; and
    the siblings that a restart involves are started even if they were not running before
    (terminated, or ended normally).

    **Intensity.** More than ``max_restarts`` restarts within ``max_seconds`` (OTP's
    algorithm; default 3 in 5 s, as Elixir's; ``max_restarts=None``: unlimited) make the
    supervisor give up: it stops all children in reverse start order, logs one ERROR and
    ends, as OTP's do, with ``shutdown``: ``Exit.shutdown(ReachedMaxRestartIntensity(...))``,
    which says which child and how many restarts. So a ``permanent`` parent restarts it and
    a ``transient`` one does not. A child with its own budget (``ChildSpec.max_restarts``)
    that exceeds it is removed instead, without touching its siblings, and the supervisor
    carries on. A restart attempt that fails to start counts as another failure of that
    child: it is retried (through the mailbox, so other requests are handled in between)
    until a budget runs out.

    **Backoff.** With a `Backoff` (``backoff=`` here for all children, or per child), a
    restart waits for its delay on a timer of the shared loop; meanwhile the supervisor
    handles other messages, the child (and the siblings its strategy involves) show as
    ``"restarting"``, and messages to its `actors.Address` are held. Default: no delay.

    **Stopping.** Stopping the supervisor (``stop()``, `actors.shutdown`, or giving up)
    stops the children in reverse start order, each waited for up to its ``shutdown``,
    then killed, as OTP does: an ERROR is logged naming it, its queued messages are refused
    and it ends as `actors.Exit.KILLED` (without ``on_stop``) once its current handler
    returns; its name is released and its ``on_exit`` gets
    ``Exit.error(actors.ShutdownTimeout(...))``. ``"brutal_kill"`` kills it at once, without
    waiting (its ``on_exit`` gets `actors.Exit.KILLED`). Python cannot stop a thread in
    the middle of a handler, so a killed child stuck in one runs on in the background (it
    no longer delays the interpreter's exit). The same applies whenever a child is stopped
    (`terminate_child`, a strategy restart); a replacement may then start while the old
    incarnation is still finishing its handler.

    **Pykka's registry.** Children are taken out of ``pykka.ActorRegistry`` as they start
    (their supervisor stops them), so ``ActorRegistry.stop_all()``, which stops the actors
    last started first, stops each tree from its root down, as `stop` does, and no child
    is restarted by it. Find children with `which_children`, `actors.whereis` or names.

    **Names.** A child with ``name=`` is registered under it from its first start until it
    is terminated, deleted or given up; while it restarts, `actors.Address` holds its
    messages (see there).

    **Hooks.** Each child's ``on_exit(exit, restarting)`` is called on this thread once per
    ended incarnation or failed restart attempt, and again with ``restarting=False`` when a
    restart announced by ``on_exit(exit, True)`` is cancelled (see `actors.ChildSpec`).

    Never call the API from a child's ``on_start`` or ``start`` (the supervisor is waiting
    for it: deadlock), nor block on it from the shared loop thread while it starts a
    `LoopActor` child.
    """

    def __init__(
        self,
        children: Iterable[ChildSpec] = (),
        *,
        strategy: Strategy = "one_for_one",
        max_restarts: int | None = 3,
        max_seconds: float = 5.0,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(max_restarts=max_restarts, max_seconds=max_seconds, backoff=backoff)
        if strategy not in get_args(Strategy):
            raise ValueError(f"strategy must be one of {get_args(Strategy)}, not {strategy!r}")
        self._strategy = strategy
        for spec in children:
            if not isinstance(spec, ChildSpec):
                raise TypeError(f"children must be ChildSpec instances, not {spec!r}")
            if spec.id in self._children:
                raise ValueError(f"two children have the id {spec.id!r}")
            self._children[spec.id] = self._new_child(spec)

    def on_start(self) -> None:
        for child in list(self._children.values()):
            try:
                self._launch(child)
            except BaseException:  # StartChildError, or a KeyboardInterrupt from a start
                del self._children[child.key]
                self._release_names(child, "its child failed to start")
                self._terminate_all()
                raise

    # -- the API (through the proxy) ----------------------------------------------------------

    def which_children(
        self,
    ) -> list[tuple[Hashable, ActorRef[Any] | Literal["restarting"] | None, ChildType]]:
        """``[(id, child, type), ...]`` in start order.

        ``child`` is the running incarnation's `ActorRef`, ``"restarting"`` while a restart
        is pending, or None when the spec is kept without an incarnation.
        """
        return [(c.key, c.status, c.spec.type) for c in self._children.values()]

    def start_child(self, spec: ChildSpec) -> ActorRef[Any]:
        """Add ``spec`` as the last child and start it; its `ActorRef`.

        Raises `actors.ChildAlreadyStarted` if a running child has that id,
        `actors.ChildAlreadyPresent` if a stopped or restarting one has,
        `actors.StartChildError` if it fails to start (then it is not added).
        """
        if not isinstance(spec, ChildSpec):
            raise TypeError(f"start_child takes a ChildSpec, not {spec!r}")
        self._refuse_new_child()
        present = self._children.get(spec.id)
        if present is not None:
            if present.state == "running" and present.ref is not None:
                msg = f"child {spec.id!r} is already running (its ref is on this error: .ref)"
                raise ChildAlreadyStarted(msg, present.ref)
            msg = (
                f"child {spec.id!r} is already present but not running: call"
                f" restart_child({spec.id!r}) to start it again, or delete_child({spec.id!r})"
                " first to start it with this new spec"
            )
            raise ChildAlreadyPresent(msg)
        child = self._new_child(spec)
        try:
            ref = self._launch(child)
        except StartChildError:
            self._release_names(child, "its child failed to start")
            raise
        self._children[spec.id] = child
        return ref

    def terminate_child(self, id: Hashable) -> None:
        """Stop child ``id`` (waiting up to its ``shutdown``) and keep its spec.

        A ``temporary`` child's spec is removed. A pending restart is cancelled. The name
        is released and ``on_exit(exit, False)`` called. A stopped child is left as is.
        Raises `actors.ChildNotFound`.
        """
        child = self._find(id)
        if child.state == "running":
            exit = self._stop_child(child, restarting=False)
            self._ended_for_good(child, exit)
        elif child.state == "restarting":
            self._cancel_restart(child, "its child was terminated")

    def restart_child(self, id: Hashable) -> ActorRef[Any]:
        """Start the stopped child ``id`` again; its new `ActorRef`.

        Raises `actors.ChildNotFound`, `actors.ChildRunning`, `actors.ChildRestarting`, or
        `actors.StartChildError` (the child then stays stopped). Does not count toward the
        restart intensity.
        """
        child = self._find_stopped(id)
        try:
            return self._launch(child)
        except StartChildError:
            self._release_names(child, "its child failed to start")
            raise

    def delete_child(self, id: Hashable) -> None:
        """Remove the spec of the stopped child ``id``.

        Raises `actors.ChildNotFound`, `actors.ChildRunning`, `actors.ChildRestarting`.
        """
        self._find_stopped(id)
        del self._children[id]

    # -- strategies ---------------------------------------------------------------------------

    def _restart(self, child: Child, delay: float, *, inline: bool) -> None:
        children = list(self._children.values())
        if self._strategy == "one_for_one":
            group = [child]
        elif self._strategy == "one_for_all":
            group = children
        else:
            group = children[children.index(child) :]
        for sibling in reversed(group):
            if sibling is child or sibling.state != "running":
                continue
            if sibling.spec.restart == "temporary":
                exit = self._stop_child(sibling, restarting=False)
                self._remove_child(sibling, exit, "its child was terminated")
            else:
                exit = self._stop_child(sibling, restarting=True)
                self._notify(sibling, exit, restarting=True)
        due = inline and delay <= 0
        token = None if due else self._schedule(delay)
        for member in group:
            if self._children.get(member.key) is member:
                member.state = "restarting"
                member.wake = token
        if due:
            self._start_pending()

    def _on_wake(self, token: int) -> None:
        due = False
        for child in self._children.values():
            if child.wake == token:
                child.wake = None
                due = True
        if due:
            self._start_pending()

    def _start_pending(self) -> None:
        """Start, in start order, the children whose restart is due.

        For ``one_for_all``/``rest_for_one`` a child still waiting holds back those after
        it, and a failed start ends the round (its retry restarts the group again).
        """
        ordered = self._strategy != "one_for_one"
        for child in list(self._children.values()):
            if child.state != "restarting" or self._children.get(child.key) is not child:
                continue
            if child.wake is not None:
                if ordered:
                    return
                continue
            try:
                self._launch(child)
            except StartChildError as exc:
                self._child_ended(child, Exit.error(exc), inline=False)
                if ordered and child.state == "restarting":
                    return

    # -- bookkeeping --------------------------------------------------------------------------

    def _new_child(self, spec: ChildSpec) -> Child:
        return Child(spec.id, spec, self._intensity.max_seconds)

    def _find(self, id: Hashable) -> Child:
        child = self._children.get(id)
        if child is None:
            raise ChildNotFound(f"no child {id!r} in {self}")
        return child

    def _find_stopped(self, id: Hashable) -> Child:
        child = self._find(id)
        if child.state == "running":
            raise ChildRunning(f"child {id!r} is running: terminate_child({id!r}) first")
        if child.state == "restarting":
            msg = f"child {id!r} is waiting for its restart: terminate_child({id!r}) first"
            raise ChildRestarting(msg)
        return child

    def _ended_for_good(self, child: Child, exit: Exit) -> None:
        if child.spec.restart == "temporary":
            self._remove_child(child, exit, "its temporary child ended")
            return
        child.state = "stopped"
        self._release_names(child, "its child ended and is not restarted")
        self._notify(child, exit, restarting=False)

    def _remove_child(self, child: Child, exit: Exit, why: str) -> None:
        del self._children[child.key]
        self._release_names(child, why)
        self._notify(child, exit, restarting=False)

    def _terminate_all(self) -> None:
        for child in reversed(list(self._children.values())):
            if child.state == "running":
                exit = self._stop_child(child, restarting=False)
                self._notify(child, exit, restarting=False)
            else:
                self._cancel_restart(child, "its supervisor has stopped")
        self._children.clear()
