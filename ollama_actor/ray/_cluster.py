"""`StreamCluster`: streams spread over Ray actors (nodes), each a process with its own runtime.

The driver (the process that made the cluster) keeps, per stream, which node runs it, and per
node, how many streams it runs; a new stream goes to the least-loaded node that is up. A node
runs a stream with ``stream=`` a fenced `RayRecipient` (`StreamNode.run`), and that Ray call
returns once the stream's terminal message has reached its recipient. If the call fails because
the node died, the driver moves the stream to another node (a ``("restart", ...)`` message
first, told by the new node) or, when its `RetryPolicy` allows no more, tells the recipient
``("error", NodeLost(...))`` itself. The fences (see `ollama_actor.ray._recipient`) drop what
the dead node had still in flight, so the recipient hears exactly one terminal message.

Events of Ray's (a call that ended, a node that answered a probe) are handled on one daemon
thread of the driver, ``ray-cluster``, never on Ray's own callback threads.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from typing import Any

import ray
from ray.exceptions import ActorDiedError, RayActorError, RayTaskError

from actors import Ref
from ollama_actor._client import checked_timeout
from ollama_actor._errors import NodeLost, StreamCancelled, ValidationError
from ollama_actor._retry import DEFAULT_RETRY, RetryPolicy
from ollama_actor._schemas import ENDPOINTS, validate
from ollama_actor.ray._no_auto_init import RayShutDown, mark_thread
from ollama_actor.ray._node import StreamJob, StreamNode
from ollama_actor.ray._recipient import ClusterRef, RayRecipient, as_ray_recipient

__all__ = ["ClusterHandle", "ClusterStream", "StreamCluster"]

logger = logging.getLogger(__name__)


def _ray_gone() -> StreamCancelled:
    """How a cluster's stream ends when Ray went before the cluster's own shutdown."""
    return StreamCancelled("shutdown", "Ray was shut down in this process")


NODE_DEFAULTS: dict[str, Any] = {
    "num_cpus": 0,  # a node waits on sockets; it does not hold a CPU of Ray's scheduler
    "max_restarts": 3,
    "max_concurrency": 100_000,  # each running stream is one pending `run` call
    "scheduling_strategy": "SPREAD",
}


ITERATION_BACKLOG = 8
"""Lists of chunks a node may have yielded that the driver has not read: past them, the node's
generator waits, its chunks gather on the node, and past `_node._HIGH_WATER` it stops reading
the stream's socket. Without it, Ray runs a generator ahead without limit (to the driver's
memory), whatever the driver reads."""

PROBE_INTERVAL = 0.5
"""Seconds between two probes of a node whose last probe failed."""


class _Node:
    """The driver's view of one node (guarded by the cluster's lock)."""

    __slots__ = ("actor", "dead", "index", "pid", "probing", "restarts", "started", "streams", "up")

    def __init__(self, index: int, actor: Any) -> None:
        self.index = index
        self.actor = actor
        self.up = False
        self.dead = False
        self.probing = False
        self.pid = 0
        self.streams = 0
        self.started = 0
        self.restarts = 0


class StreamCluster:
    """Streams over ``nodes`` Ray actors, each a process with a client of ``hosts`` (one URL,
    or a list for a pool of hosts in each node).

    ``node_options`` are passed to Ray's ``.options()`` for each node (one mapping for all, or
    a list with one per node: its length is then the number of nodes), over `NODE_DEFAULTS`:
    placement (``scheduling_strategy``, ``resources``, ``num_cpus``...), ``max_restarts``.
    ``client_options`` go to each node's `Ollama` (``timeout``, ``headers``...). Connects to
    Ray as Ray does (``ray.init()`` first, to choose the cluster), and blocks until every node
    has started (at most ``start_timeout`` s, else the builtin `TimeoutError`).
    """

    def __init__(
        self,
        hosts: str | list[str] | tuple[str, ...],
        *,
        nodes: int = 2,
        node_options: dict[str, Any] | list[dict[str, Any]] | None = None,
        start_timeout: float = 60.0,
        **client_options: Any,
    ) -> None:
        if isinstance(node_options, list):
            for at, each in enumerate(node_options):
                if not isinstance(each, dict):
                    raise TypeError(f"StreamCluster's node_options[{at}] is not a dict: {each!r}")
            options = [dict(NODE_DEFAULTS, **each) for each in node_options]
        else:
            if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
                raise ValueError(f"StreamCluster's nodes must be an int >= 1, not {nodes!r}")
            if node_options is not None and not isinstance(node_options, dict):
                raise TypeError(
                    f"StreamCluster's node_options must be a dict or a list of dicts, "
                    f"not {node_options!r}"
                )
            options = [dict(NODE_DEFAULTS, **(node_options or {}))] * nodes
        if not options:
            raise ValueError("StreamCluster needs at least one node")
        if (
            isinstance(start_timeout, bool)
            or not isinstance(start_timeout, int | float)
            or not 0 < start_timeout < float("inf")
        ):
            raise ValueError(
                f"StreamCluster's start_timeout must be a positive number of seconds, "
                f"not {start_timeout!r}"
            )
        remote = ray.remote(StreamNode)
        kinds = [remote.options(**opts) for opts in options]  # Ray checks them: before any starts
        self._nodes = [
            _Node(i, kind.remote(i, hosts, client_options)) for i, kind in enumerate(kinds)
        ]
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._running: dict[Ref, ClusterHandle] = {}
        self._closed = False
        self._events: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        threading.Thread(target=self._handle_events, name="ray-cluster", daemon=True).start()
        try:
            pids = ray.get(
                [node.actor.ping.remote() for node in self._nodes], timeout=start_timeout
            )
        except ray.exceptions.GetTimeoutError:
            self._kill_nodes()
            self._events.put(None)
            raise TimeoutError(
                f"the cluster's nodes did not start within {start_timeout} s"
            ) from None
        except RayActorError as exc:  # a node's __init__ raised (bad hosts or client options)
            self._kill_nodes()
            self._events.put(None)
            said = [line for line in str(exc).strip().splitlines() if line.strip()]
            raise RuntimeError(f"the cluster's nodes could not start: {said[-1]}") from None
        for node, pid in zip(self._nodes, pids, strict=True):
            node.up, node.pid = True, pid

    def __repr__(self) -> str:
        return f"<StreamCluster {len(self._nodes)} nodes>"

    # -- streams --------------------------------------------------------------------------------

    def chat(self, *, stream: Any, retry: RetryPolicy | None = None, **params: Any) -> Any:
        """`Ollama.chat` on a node: see `call`."""
        return self.call("chat", stream=stream, retry=retry, **params)

    def completion(self, *, stream: Any, retry: RetryPolicy | None = None, **params: Any) -> Any:
        """`Ollama.completion` on a node: see `call`."""
        return self.call("completion", stream=stream, retry=retry, **params)

    def call(
        self, name: str, /, *, stream: Any, retry: RetryPolicy | None = None, **params: Any
    ) -> Any:
        """Start the streaming endpoint ``name`` on the least-loaded node; never blocks long.

        ``stream=`` a `RayRecipient` or a Ray actor handle: returns a `ClusterHandle` and the
        recipient hears the message protocol (supervised with ``retry``, on the node and across
        nodes). ``stream=True``: returns a `ClusterStream` to iterate here. Raises
        `ValidationError` for bad parameters, before anything is sent, and Ray's `TypeError`
        if the stream cannot be pickled to a node (a ``retry=`` holding a lock...).
        """
        endpoint = ENDPOINTS.get(name)
        if endpoint is None or endpoint.stream is None:
            raise ValidationError(name, "stream", "is not supported by this endpoint")
        checked = {key: value for key, value in params.items() if key != "timeout"}
        validate(endpoint, checked)
        if "timeout" in params:
            checked_timeout(name, params["timeout"])
        if self._closed:
            raise RuntimeError(f"{self!r} was shut down")
        if stream is True:
            if retry is not None:
                raise ValidationError(name, "retry", "applies only with stream=recipient")
            return self._iterate(name, params)
        recipient = as_ray_recipient(stream)
        if recipient is None:
            raise ValidationError(
                name, "stream", "must be True, a RayRecipient or a Ray actor handle"
            )
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ValidationError(name, "retry", "must be a RetryPolicy")
        handle = ClusterHandle(self, name, params, recipient, retry or DEFAULT_RETRY)
        self._place(handle, None)
        return handle

    def stats(self) -> list[dict[str, Any]]:
        """Per node: ``node`` (its index), ``up``, ``dead`` (Ray will not restart it),
        ``streams`` (running now), ``started`` (so far), ``restarts`` (seen by the driver),
        ``pid``. The driver's own counts: never blocks, asks no node."""
        with self._lock:
            return [
                {
                    "node": n.index,
                    "up": n.up,
                    "dead": n.dead,
                    "streams": n.streams,
                    "started": n.started,
                    "restarts": n.restarts,
                    "pid": n.pid,
                }
                for n in self._nodes
            ]

    def node(self, index: int) -> Any:
        """The Ray actor handle of node ``index`` (to place recipients near it, or to kill it
        in a test)."""
        return self._nodes[index].actor

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every stream, wait (at most ``timeout`` s) for their recipients to have their
        terminal messages, and end the nodes. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if ray.is_initialized():  # else the nodes are gone with Ray (and a call would start one)
            closing = [node.actor.close.remote(timeout) for node in self._nodes if not node.dead]
            try:
                ray.get(closing, timeout=timeout + 5)
            except Exception as exc:  # a node that died meanwhile: its streams end below
                logger.debug("closing the cluster's nodes: %r", exc)
        # those on a node that died: nobody else will end them now
        self._end_all(StreamCancelled("shutdown", "the cluster was shut down"))
        self._kill_nodes()
        self._events.put(None)  # the event thread ends; later events of Ray's are dropped

    # -- the driver's side of a stream ----------------------------------------------------------

    def _pick(self, avoid: int | None) -> _Node | None:
        """The least-loaded node that is up (ties in turn), else one Ray is restarting
        (the call waits for it), avoiding ``avoid`` if there is another (under the lock)."""
        turn = next(self._turn)
        count = len(self._nodes)
        order = [self._nodes[(turn + i) % count] for i in range(count)]
        for wanted in (
            lambda n: n.up and n.index != avoid,
            lambda n: n.up,
            lambda n: not n.dead and n.index != avoid,
            lambda n: not n.dead,
        ):
            candidates = [n for n in order if wanted(n)]
            if candidates:
                return min(candidates, key=lambda n: n.streams)
        return None

    def _place(self, handle: ClusterHandle, restart: dict[str, Any] | None) -> None:
        with self._lock:
            node = None if self._closed else self._pick(handle.node if restart else None)
            if node is not None:
                node.streams += 1
                node.started += 1
                handle.node = node.index
                self._running[handle.ref] = handle
        if node is None:
            handle._end_here(restart["error"] if restart else NodeLost("no node is up"))
            return
        if restart is not None:
            restart["node"] = node.index
        try:
            call = node.actor.run.remote(handle.job, handle.epoch, restart)
        except Exception as exc:  # Ray could not pickle the job (a retry= holding a lock...)
            with self._lock:
                node.streams -= 1
                node.started -= 1
                self._running.pop(handle.ref, None)
            if restart is None:
                raise  # to the caller of `call`: no stream was started
            handle._end_here(_ray_gone() if isinstance(exc, RayShutDown) else exc)
            return
        if handle._cancelled:  # cancelled as it moved here: its cancel may have gone before
            node.actor.cancel.remote(handle.ref)
        call.future().add_done_callback(
            lambda done: self._events.put(lambda: self._ended(handle, node, done))
        )

    def _ended(self, handle: ClusterHandle, node: _Node, done: Future[Any]) -> None:
        """A node's `run` call ended (on the ``ray-cluster`` thread)."""
        with self._lock:
            node.streams -= 1
            self._running.pop(handle.ref, None)
        error = done.exception()
        if error is None:
            kind, value = done.result()
            handle._settle(kind, value)
        elif isinstance(error, RayActorError):
            try:
                self._node_failed(node)
                handle._node_lost(_node_lost(node.index, error))
            except RayShutDown:  # Ray went first: this stream is out of `_running` already
                handle._end_here(_ray_gone())
                raise
        else:  # the node raised (a bug, or the request's own error): end the stream with it
            handle._end_here(_cause(error))

    def _node_failed(self, node: _Node) -> None:
        """Mark ``node`` down and probe it until Ray has restarted it.

        A ping to a node Ray is restarting waits for the new process; one to a node Ray has
        given up (its ``max_restarts`` spent) fails with `ActorDiedError` at once: the node is
        then ``dead`` (never routed to), and asked again every `PROBE_INTERVAL` s until the
        cluster is shut down, in case the failure was passing.
        """
        with self._lock:
            node.up = False
            if node.probing or self._closed:
                return
            node.probing = True
        probe = node.actor.ping.remote()
        probe.future().add_done_callback(
            lambda done: self._events.put(lambda: self._probed(node, done))
        )

    def _probed(self, node: _Node, done: Future[Any]) -> None:
        error = done.exception()
        with self._lock:
            node.probing = False
            if error is None:
                pid = done.result()
                if pid != node.pid:
                    node.restarts += 1
                node.up, node.dead, node.pid = True, False, pid
                return
            node.dead = isinstance(error, ActorDiedError)
        again = threading.Timer(
            PROBE_INTERVAL, self._events.put, ((lambda: self._node_failed(node)),)
        )
        again.daemon = True
        again.start()

    def _handle_events(self) -> None:
        """Run Ray's events in turn until `shutdown` (or a failed start) puts None."""
        mark_thread()
        while True:
            event = self._events.get()
            if event is None:
                return
            try:
                event()
            except RayShutDown:  # Ray went first: no node can end its streams any more
                self._end_all(_ray_gone())
            except Exception:
                logger.exception("the cluster's event thread caught")

    def _end_all(self, error: BaseException) -> None:
        with self._lock:
            left = list(self._running.values())
            self._running.clear()
        for handle in left:
            handle._end_here(error)

    def _iterate(self, name: str, params: dict[str, Any]) -> ClusterStream:
        ref = ClusterRef()
        with self._lock:
            node = self._pick(None)
            if node is None:
                raise NodeLost("no node of the cluster is up")
            node.streams += 1
            node.started += 1
        generator = node.actor.iterate.options(
            _generator_backpressure_num_objects=ITERATION_BACKLOG
        ).remote(ref, name, params)

        generator.completed().future().add_done_callback(
            lambda done: self._events.put(lambda: self._iteration_ended(node, done))
        )
        return ClusterStream(self, ref, node.index, generator)

    def _iteration_ended(self, node: _Node, done: Future[Any]) -> None:
        with self._lock:
            node.streams -= 1
        if isinstance(done.exception(), RayActorError):
            self._node_failed(node)

    def _kill_nodes(self) -> None:
        alive = ray.is_initialized()  # else the nodes went with Ray
        for node in self._nodes:
            if alive:
                try:
                    ray.kill(node.actor, no_restart=True)
                except Exception as exc:
                    logger.debug("killing node %d: %r", node.index, exc)
            node.up, node.dead = False, True


class ClusterHandle:
    """A stream running on a node of a `StreamCluster`, telling a Ray recipient the protocol.

    ``ref`` names its messages (the same in every process); ``node`` is the index of the node
    running it now; ``attempt`` counts its moves to another node; ``result(timeout)`` blocks for
    the accumulated response (or raises the stream's error, or the builtin `TimeoutError`);
    ``cancel()`` ends it from any thread, and the recipient hears ``("error", StreamCancelled)``.
    """

    def __init__(
        self,
        cluster: StreamCluster,
        name: str,
        params: dict[str, Any],
        recipient: RayRecipient,
        retry: RetryPolicy,
    ) -> None:
        self.ref: Ref = ClusterRef()
        self.node = -1
        self.attempt = 0
        self.epoch = 0
        self.job = StreamJob(self.ref, name, params, recipient, retry)
        self._cluster = cluster
        self._cancelled = False
        self._outcome: concurrent.futures.Future[tuple[str, Any]] = concurrent.futures.Future()

    def __repr__(self) -> str:
        state = "done" if self.done else f"on node {self.node}"
        return f"<ClusterHandle {self.ref} {state}>"

    @property
    def done(self) -> bool:
        """Whether the stream has ended, as far as the driver knows."""
        return self._outcome.done()

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the accumulated response, or raise the stream's error."""
        try:
            kind, value = self._outcome.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"the stream {self.ref} did not end within {timeout} s") from None
        if kind == "error":
            raise value
        return value  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """End the stream now; a no-op once it has ended. Never blocks."""
        self._cancelled = True
        if not self.done and self.node >= 0 and ray.is_initialized():
            self._cluster._nodes[self.node].actor.cancel.remote(self.ref)

    def _settle(self, kind: str, value: Any) -> None:
        if not self._outcome.done():
            self._outcome.set_result((kind, value))

    def _node_lost(self, lost: NodeLost) -> None:
        """Its node died: move it to another node, or end it here (``ray-cluster`` thread)."""
        retry = self.job.retry
        if self._cancelled:
            self._end_here(StreamCancelled("caller"))
        elif retry.restart == "transient" and self.attempt < retry.max_restarts:
            self.attempt += 1
            self.epoch += 1
            self._cluster._place(self, {"attempt": self.attempt, "error": lost})
        else:
            self._end_here(lost)

    def _end_here(self, error: BaseException) -> None:
        """Tell the recipient ``("error", error)`` from the driver, past every earlier epoch."""
        if self.done:
            return
        self.epoch += 1
        try:
            self.job.recipient.fenced(self.ref, self.epoch).tell((self.ref, ("error", error)))
        except Exception as exc:  # the recipient is dead too: nobody is left to tell
            logger.debug("could not tell %s its error: %r", self.ref, exc)
        self._settle("error", error)


class ClusterStream:
    """A stream running on a node, iterated here: ``for chunk in s`` or ``async for chunk in
    s`` (not both), through a Ray streaming generator that carries the chunks in lists.

    Raises the stream's `OllamaError` where it failed, `NodeLost` if its node died (it is not
    moved: part of it was already read), `StreamCancelled` once the cluster is shut down.
    ``cancel()`` ends it from any thread; so does dropping it before its end (a ``break`` out
    of the loop), as for a local `Streaming`.
    """

    def __init__(self, cluster: StreamCluster, ref: Ref, node: int, generator: Any) -> None:
        self.ref = ref
        self.node = node
        self._cluster = cluster
        self._actor = cluster.node(node)
        self._generator = generator
        self._chunks: list[Any] = []
        self._at = 0
        self._ended = False

    def __repr__(self) -> str:
        return f"<ClusterStream {self.ref} on node {self.node}>"

    def __del__(self) -> None:
        if not self._ended:
            with contextlib.suppress(Exception):  # Ray may be shut down already
                self.cancel()

    def cancel(self) -> None:
        """End the stream now; the iteration raises `StreamCancelled`. Never blocks."""
        if ray.is_initialized():  # else its node went with Ray (and a call would start one)
            self._actor.cancel.remote(self.ref)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        while self._at >= len(self._chunks):
            try:
                reference = next(self._generator)
                self._chunks, self._at = ray.get(reference), 0
            except StopIteration:
                self._ended = True
                raise
            except Exception as exc:
                self._ended = True
                raise self._translated(exc) from None
        chunk = self._chunks[self._at]
        self._at += 1
        return chunk  # type: ignore[no-any-return]

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while self._at >= len(self._chunks):
            try:
                reference = await self._generator.__anext__()
                self._chunks, self._at = await reference, 0
            except StopAsyncIteration:
                self._ended = True
                raise
            except Exception as exc:
                self._ended = True
                raise self._translated(exc) from None
        chunk = self._chunks[self._at]
        self._at += 1
        return chunk  # type: ignore[no-any-return]

    def _translated(self, error: Exception) -> Exception:
        """Ray's error as the stream's own: the node's `OllamaError`, or `NodeLost` (or
        `StreamCancelled` when its node was ended by `shutdown`, which cancels every stream)."""
        if isinstance(error, RayActorError):
            if self._cluster._closed:
                return StreamCancelled("shutdown", "the cluster was shut down")
            return _node_lost(self.node, error)
        cause = _cause(error)
        return cause if isinstance(cause, Exception) else error


def _cause(error: BaseException) -> BaseException:
    cause = error.cause if isinstance(error, RayTaskError) else None
    return cause if isinstance(cause, BaseException) else error


def _node_lost(node: int, error: BaseException) -> NodeLost:
    """`NodeLost` with the first line of Ray's (long) explanation."""
    said = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
    return NodeLost(f"node {node} of the cluster died: {said}")
