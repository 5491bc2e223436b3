"""`RayRecipient`: a Ray actor told a stream's messages, in order, in batches, with a bound.

A stream's messages are told on the loop thread (`actors.Delivery`), which must not wait for
Ray. So `tell` only queues the message in this process's outbox for that actor and returns.
One sender thread per process (``ray-outbox``) submits the queued messages as Ray calls: at most
`MAX_CALLS_IN_FLIGHT` calls per actor at once, each carrying every message queued since the last
(at most `MAX_BATCH`). A slow stream's chunks go one per call as they come; a fast stream's, or
many streams', go many per call, each ref once with its messages. In the actor's process,
`ollama_actor._ray_deliver.deliver` calls the actor's method once per message, in order: the
recipient sees one message per chunk, as a local one does.

Order: Ray runs the calls one caller makes to a (single-threaded, synchronous) actor in the
order they were made, and one thread makes them all. So one ref's messages arrive in order.

Bound: each stream may have at most ``max_pending`` messages queued or in flight. Past it,
``tell`` of a chunk raises `RecipientBehind`, which ends the stream with that error (the
terminal message itself always goes): memory stays bounded whatever the recipient's speed.

A dead actor (its call failed with Ray's `RayActorError`: it died, or Ray is restarting it and
its state and the call's messages are lost) makes later ``tell`` calls raise
`pykka.ActorDeadError`, so a stream told to it ends with `RecipientDead`, as for a local actor.
New `RayRecipient` objects of an actor Ray restarted send to its new process.

An outbox lives while a `RayRecipient` of its actor does, or while it has messages queued or in
flight; it holds the actor's handle, so it must not outlive them (Ray ends an actor once no
handle of it is left).

A cluster stream's recipient is `fenced`: its messages carry the stream's cluster-wide ref and
its epoch, for the fences in the recipient's process (`ollama_actor._ray_deliver`).
"""

from __future__ import annotations

import collections
import logging
import threading
import uuid
import weakref
from collections.abc import Callable
from typing import Any

import pykka
import ray
from ray.actor import ActorHandle
from ray.exceptions import RayActorError

from actors import Ref
from ollama_actor._errors import RecipientBehind
from ollama_actor._ray_deliver import Group, deliver
from ollama_actor.ray._no_auto_init import RayShutDown, mark_thread

__all__ = ["DEFAULT_MAX_PENDING", "ClusterRef", "RayRecipient", "as_ray_recipient"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 10_000
"""Messages of one stream that may wait, queued or in flight, for its Ray actor."""
MAX_CALLS_IN_FLIGHT = 4
"""Ray calls to one actor, from one process, not yet completed."""
MAX_BATCH = 4096
"""Messages in one Ray call, at most."""


class ClusterRef(Ref):
    """A `Ref` unique across processes (a random 63-bit number), for a stream that may move
    between nodes: the driver, every node and the recipient name it alike."""

    __slots__ = ()

    def __init__(self) -> None:
        self._n = (uuid.uuid4().int >> 65) | (1 << 62)  # far from any process's own counter

    def __repr__(self) -> str:
        return f"#Ref<1.{self._n:x}>"


class RayRecipient:
    """A Ray actor as a stream's recipient: each message is delivered as ``handle.<method>(m)``.

    ``tell`` never blocks (any thread); it raises `pykka.ActorDeadError` once a call has
    shown the actor dead (or restarted by Ray), and `RecipientBehind` when one stream has
    ``max_pending`` messages waiting. The actor's ``method`` should be a plain synchronous
    method of a default actor (one call at a time): that is what keeps one ref's messages in
    order. A `RayRecipient` pickles as its handle, method and bound, so it can be passed to
    other Ray actors.
    """

    __slots__ = ("_epoch", "_outbox", "_ref", "handle", "max_pending", "method")

    def __init__(
        self,
        handle: Any,
        method: str = "tell",
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        if not isinstance(handle, ActorHandle):
            raise TypeError(f"RayRecipient takes a Ray actor handle, not {handle!r}")
        if not isinstance(method, str) or not method.isidentifier():
            raise ValueError(f"RayRecipient's method must be a method name, not {method!r}")
        if isinstance(max_pending, bool) or not isinstance(max_pending, int) or max_pending < 1:
            raise ValueError(f"RayRecipient's max_pending must be an int >= 1, not {max_pending!r}")
        self.handle = handle
        self.method = method
        self.max_pending = max_pending
        self._outbox: _Outbox | None = None
        self._ref: Ref | None = None
        self._epoch: int | None = None

    def __repr__(self) -> str:
        return f"<RayRecipient {self.handle._actor_id.hex()[:12]}.{self.method}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.handle, self.method, self.max_pending))

    def tell(self, message: Any, /) -> None:
        """Queue ``message`` for the actor; never blocks. See the class for what it raises."""
        outbox = self._outbox or self._find_outbox()
        ref = self._ref
        if ref is not None:  # a cluster stream: named by its cluster-wide ref
            message = (ref, message[1])
        outbox.put(self._epoch, message, self.max_pending)

    def fenced(self, ref: Ref, epoch: int) -> RayRecipient:
        """This recipient for one cluster stream: its messages name ``ref`` and carry ``epoch``."""
        copy = RayRecipient(self.handle, self.method, max_pending=self.max_pending)
        copy._ref = ref
        copy._epoch = epoch
        return copy

    def sent(self) -> tuple[int, int]:
        """The Ray calls this process has made to the actor's method, and the messages they
        carried (every stream's, through any `RayRecipient` of the same actor and method)."""
        outbox = self._outbox or self._find_outbox()
        with _sender.cond:
            return outbox.calls, outbox.messages

    def flushed(self, ref: Ref, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (on the sender thread, or here) once no message of ``ref`` is
        queued or in flight: its terminal message has reached the actor, or the actor died."""
        (self._outbox or self._find_outbox()).when_flushed(ref, callback)

    def _find_outbox(self) -> _Outbox:
        outbox = self._outbox = _sender.outbox(self.handle, self.method)
        return outbox


def _rebuild(handle: ActorHandle[Any], method: str, max_pending: int) -> RayRecipient:
    return RayRecipient(handle, method, max_pending=max_pending)


def as_ray_recipient(value: Any) -> RayRecipient | None:
    """``value`` as a `RayRecipient` if it is one, or a bare Ray actor handle (wrapped, method
    ``tell``); None otherwise."""
    if isinstance(value, RayRecipient):
        return value
    if isinstance(value, ActorHandle):
        return RayRecipient(value)
    return None


# -- the sending side --------------------------------------------------------------------------


class _Outbox:
    """The messages of this process for one actor's method, and the Ray calls carrying them.

    Guarded by the sender's condition; `put` is called from any thread (the loop thread, for
    streams), the rest on the sender thread or from Ray's completion callbacks.
    """

    __slots__ = (
        "__weakref__",
        "calls",
        "dead",
        "handle",
        "in_flight",
        "messages",
        "method",
        "pending",
        "queue",
        "waiters",
    )

    def __init__(self, handle: ActorHandle[Any], method: str) -> None:
        self.handle = handle
        self.method = method
        self.queue: collections.deque[tuple[int | None, Any, Any]] = collections.deque()
        self.pending: dict[Any, int] = {}  # ref -> messages queued or in flight
        self.waiters: dict[Any, list[Callable[[], None]]] = {}
        self.in_flight = 0
        self.dead: BaseException | None = None
        self.calls = 0  # Ray calls made so far, and the messages they carried (for stats)
        self.messages = 0

    def put(self, epoch: int | None, message: Any, limit: int) -> None:
        try:
            ref, kind = message[0], message[1][0]
        except (TypeError, LookupError):
            ref, kind = None, None
        if not isinstance(ref, Ref):  # not a stream's message: no ref to count it under
            ref = None
        if self.in_flight >= MAX_CALLS_IN_FLIGHT and not ray.is_initialized():
            # Ray was shut down under its calls: they will never complete (nor free a slot).
            self._lost(RayShutDown(f"Ray was shut down: {self.handle} is gone"))
        with _sender.cond:
            if self.dead is not None:
                raise pykka.ActorDeadError(f"the Ray actor receiving {ref} died: {self.dead}")
            if ref is None:
                self.queue.append((None, None, message))
            else:
                waiting = self.pending.get(ref, 0)
                if waiting >= limit and kind == "data":
                    raise RecipientBehind(
                        f"the Ray actor receiving {ref} is {waiting} messages behind (max_pending)"
                    )
                self.pending[ref] = waiting + 1
                self.queue.append((epoch, ref, message[1]))
            _sender.ready(self)

    def when_flushed(self, ref: Any, callback: Callable[[], None]) -> None:
        with _sender.cond:
            if ref in self.pending and self.dead is None:
                self.waiters.setdefault(ref, []).append(callback)
                return
        callback()

    def take(self) -> list[Group]:
        """The next batch to send, counted in flight (under the condition): the queued
        messages grouped by ref (and epoch), each ref's in order, so that a ref and its
        epoch cross once per call rather than once per message."""
        queue = self.queue
        count = min(len(queue), MAX_BATCH)
        groups: dict[tuple[Any, int | None], list[Any]] = {}
        for _ in range(count):
            epoch, ref, item = queue.popleft()
            key = (ref if ref is not None else object(), epoch)  # not a stream's: alone
            groups.setdefault(key, []).append(item)
        batch = [
            (epoch, key if isinstance(key, Ref) else None, items)
            for (key, epoch), items in groups.items()
        ]
        self.in_flight += 1
        self.calls += 1
        self.messages += count
        return batch

    def completed(self, batch: list[Group], error: BaseException | None) -> None:
        """A call ended (Ray's callback thread): free its slot, settle its refs' counts."""
        flushed: list[Callable[[], None]] = []
        with _sender.cond:
            self.in_flight -= 1
            if isinstance(error, RayActorError | RayShutDown):
                flushed = self._dead(error)
            else:
                pending = self.pending
                for _epoch, ref, items in batch:
                    if ref is None:
                        continue
                    left = pending.get(ref, 0) - len(items)
                    if left > 0:
                        pending[ref] = left
                    elif ref in pending:
                        del pending[ref]
                        flushed.extend(self.waiters.pop(ref, ()))
                if self.queue:
                    _sender.ready(self)
        if error is not None and not isinstance(error, RayActorError | RayShutDown):
            logger.warning("the Ray actor %s raised on a message: %r", self.handle, error)
        for callback in flushed:
            _run_callback(callback)

    def _lost(self, error: BaseException) -> None:
        """The actor cannot be reached any more (any thread): see `_dead`."""
        with _sender.cond:
            flushed = self._dead(error)
        for callback in flushed:
            _run_callback(callback)

    def _dead(self, error: BaseException) -> list[Callable[[], None]]:
        """Mark the actor dead, drop what waits for it, and return the flush callbacks to
        call (outside the condition). Under the condition; once only."""
        if self.dead is not None:
            return []
        self.dead = error
        self.queue.clear()
        self.pending.clear()
        flushed = [callback for callbacks in self.waiters.values() for callback in callbacks]
        self.waiters.clear()
        return flushed


def _run_callback(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:
        logger.exception("a flush callback raised")


class _Sender:
    """The one thread of this process that submits the outboxes' Ray calls."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self._ready: dict[_Outbox, None] = {}  # outboxes with something to send, in order
        self._thread: threading.Thread | None = None
        # Weak: an outbox is kept by the `RayRecipient`s that use it, and while it has work
        # (in `_ready`, or by its calls' completion callbacks).
        self._outboxes: weakref.WeakValueDictionary[tuple[bytes, str], _Outbox] = (
            weakref.WeakValueDictionary()
        )

    def outbox(self, handle: ActorHandle[Any], method: str) -> _Outbox:
        key = (handle._actor_id.binary(), method)
        with self.cond:
            box = self._outboxes.get(key)
            if box is None or box.dead is not None:
                box = self._outboxes[key] = _Outbox(handle, method)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ray-outbox", daemon=True)
                self._thread.start()
            return box

    def ready(self, outbox: _Outbox) -> None:
        """``outbox`` has messages (under the condition)."""
        if outbox.in_flight < MAX_CALLS_IN_FLIGHT and outbox not in self._ready:
            self._ready[outbox] = None
            self.cond.notify()

    def _run(self) -> None:
        mark_thread()
        while True:
            self._send_ready()

    def _send_ready(self) -> None:
        """Wait for outboxes with messages and send a batch of each. A call of its own, so
        that no outbox stays referenced from this thread while it waits (see `_Outbox`)."""
        with self.cond:
            while not self._ready:
                self.cond.wait()
            work = []
            for outbox in self._ready:
                if outbox.queue and outbox.in_flight < MAX_CALLS_IN_FLIGHT:
                    work.append((outbox, outbox.take()))
            self._ready.clear()
        for outbox, batch in work:
            self._submit(outbox, batch)

    def _submit(self, outbox: _Outbox, batch: list[Group]) -> None:
        if not ray.is_initialized():  # a Ray call now would start a new local Ray, not reach it
            outbox.completed(batch, RayShutDown(f"Ray was shut down: {outbox.handle} is gone"))
            return
        try:
            call: Any = outbox.handle.__ray_call__.remote(deliver, outbox.method, batch)
        except RayShutDown as exc:  # shut down since the check above
            outbox.completed(batch, exc)
            return
        except Exception as exc:  # not serialisable...: these messages are lost
            logger.exception("could not send %d messages to %s", len(batch), outbox.handle)
            outbox.completed(batch, exc)
            return
        call.future().add_done_callback(lambda done: outbox.completed(batch, done.exception()))


_sender = _Sender()
