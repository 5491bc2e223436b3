"""A pool of Ollama hosts: which host takes each request, and which hosts are up.

`Pool.choose` routes a request: among the hosts that are up (and under their limit of requests
in flight, if the pool has one), a host that answered 503 lately comes last, then a host the
previous attempt of the same stream failed on, then one without the model in memory, then the
one with the fewest requests in flight; ties go round the pool. What a host has in memory comes
from its ``/api/ps``, read in the background every ``refresh`` seconds and again after a request
that made it load a model; a request that is loading a model counts as having it there, so a
burst of requests for a model nobody has loaded goes to one host, not to all of them.

Health has two sources. Passive: a request that fails to connect, is cut, times out without a
byte, or gets a 5xx that is not the request's own fault marks its host down at once (a 503
marks it busy instead: its queue is full, it is not dead). Active: a host that is down is
probed (``GET /api/version``) after a backoff with jitter, longer after each failed probe, and
is back in rotation when a probe answers; the background ``/api/ps`` reads check the hosts that
are up. Nothing but probes is sent to a host that is down.

All of this state lives on the shared loop thread: routing, counts, the queue, health, probes
and refreshes run there, so nothing needs a lock. `Pool.report` reads it from any thread.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from actors import Backoff, call_on_loop, event_loop, telemetry
from ollama_actor._errors import (
    HTTPError,
    IncompleteStream,
    NoHostUp,
    OllamaError,
    StreamCancelled,
    TotalTimeout,
    TransportError,
)
from ollama_actor._response import BodyCollector
from ollama_actor._timeout import Timeout
from ollama_actor.telemetry import POOL_HOST_DOWN, POOL_HOST_UP

if TYPE_CHECKING:
    from ollama_actor._client import Ollama

__all__ = ["DEFAULT_PROBE", "Member", "Pool", "Waiter", "model_key"]

logger = logging.getLogger(__name__)

DEFAULT_PROBE = Backoff(min=0.25, max=5.0)
"""Waits between probes of a host that is down: 0.25 s, then doubling up to 5 s, +20 % jitter."""
BUSY_SECONDS = 1.0
"""How long a host that answered 503 (or 429) comes last in the routing."""
CHECK_TIMEOUT = Timeout(connect=2.0, read=2.0, total=4.0)
"""The bounds of a probe and of an ``/api/ps`` read."""
FIRST_READ_WAIT = 1.0
"""How long a new pool's first requests wait for its first ``/api/ps`` reads, at most."""
_MAX_CHECK_BODY = 4 * 1024 * 1024
_DEFAULT_PREFIXES = ("registry.ollama.ai/", "library/")


def model_key(name: object) -> str | None:
    """A model's name as requests and ``/api/ps`` can both be matched by: lower case, the
    default registry and namespace left out, tag ``latest`` unless one is given. ``None`` for
    a request without a model name."""
    if not isinstance(name, str):
        return None
    return _key_of(name)


@functools.lru_cache(maxsize=1024)
def _key_of(name: str) -> str | None:
    """`model_key` of a string, remembered: a process asks for few models, on every request."""
    if not name.strip():
        return None
    key = name.strip().lower()
    for prefix in _DEFAULT_PREFIXES:
        key = key.removeprefix(prefix)
    if key.rfind(":") <= key.rfind("/"):
        key += ":latest"
    return key


class Waiter(Protocol):
    """A request waiting in the pool's queue for a host with a free slot (loop thread)."""

    def begin(self) -> None:
        """Try again to find a host: it leaves the queue if it finds one, and ends (with
        its last host's failure, or `NoHostUp`) if no host it has not tried is up."""

    def fail(self, exc: OllamaError) -> None:
        """End it with ``exc`` without sending anything."""


class Member:
    """One host of a pool and what the pool knows of it (written on the loop thread only)."""

    __slots__ = (
        "busy_until",
        "checking",
        "client",
        "down_since",
        "failures",
        "in_flight",
        "last_error",
        "last_routed",
        "loading",
        "models",
        "probe",
        "requests",
        "up",
        "url",
        "warm",
    )

    def __init__(self, client: Ollama) -> None:
        self.client = client
        self.url = client.base_url.removesuffix("/api")
        """The host's URL as the pool reports it (its base URL without ``/api``)."""
        self.up = True
        self.in_flight = 0
        self.requests = 0
        self.busy_until = 0.0
        self.last_routed: float | None = None
        self.last_error: str | None = None
        self.down_since: float | None = None
        self.failures = 0
        self.probe: Any = None  # the pending probe's timer handle
        self.checking = False  # an /api/ps read is under way
        self.models: frozenset[str] = frozenset()
        self.loading: dict[str, int] = {}
        self.warm: frozenset[str] = frozenset()
        """``models`` and what requests in flight are loading: what routing prefers."""

    def __repr__(self) -> str:
        return f"<Member {self.url} {'up' if self.up else 'down'} {self.in_flight} in flight>"

    def set_models(self, models: Iterable[str]) -> None:
        self.models = frozenset(models)
        self.warm = self.models | self.loading.keys()


class Pool:
    """The hosts of an `OllamaPool`: routing, the queue, health, probes and refreshes.

    ``max_in_flight`` limits each host's requests in flight (None: no limit); beyond it
    requests wait in a queue of at most ``max_queue``. ``refresh`` is the time between reads
    of each host's ``/api/ps``; ``probe`` spaces the probes of a host that is down. Starts
    reading every host's ``/api/ps`` at once, without waiting for the answers; requests that
    come before they are in wait for them (`when_ready`).
    """

    def __init__(
        self,
        clients: list[Ollama],
        *,
        max_in_flight: int | None,
        max_queue: int,
        refresh: float,
        probe: Backoff,
    ) -> None:
        self.members = [Member(client) for client in clients]
        self.secrets = tuple(dict.fromkeys(s for client in clients for s in client._secrets))
        """Every host's credentials: hidden in the errors of a request not yet routed."""
        self.limit = max_in_flight
        self.max_queue = max_queue
        self.refresh_every = refresh
        self.probe_backoff = probe
        self.waiting: deque[Waiter] = deque()
        self._turn = 0
        self._closed = False
        self._refresh_timer: Any = None
        self._ready = False
        self._before_ready: list[Callable[[], None]] = []
        call_on_loop(self._start)

    def _start(self) -> None:
        self._check_all(False, self._now_ready)
        _later(FIRST_READ_WAIT, self, Pool._now_ready)

    def when_ready(self, callback: Callable[[], None]) -> bool:
        """Until the pool's first ``/api/ps`` reads are in (or `FIRST_READ_WAIT` has passed),
        hold ``callback`` for then and return True, so that even a new pool's first requests
        go where their model is; afterwards return False (loop thread)."""
        if self._ready:
            return False
        self._before_ready.append(callback)
        return True

    def _now_ready(self) -> None:
        if self._ready:
            return
        self._ready = True
        held, self._before_ready = self._before_ready, []
        for callback in held:
            callback()

    # -- routing (loop thread) ------------------------------------------------------------------

    def choose(
        self, model: str | None, avoid: Member | None = None, tried: Iterable[Member] = ()
    ) -> Member | None:
        """The host for a request for ``model``, or None if no host that is up has a free slot.

        ``avoid`` comes after every other host that could take it; ``tried`` are left out.
        """
        members = self.members
        count = len(members)
        turn = self._turn
        self._turn = turn + 1 if turn + 1 < count else 0
        limit = self.limit
        now = time.monotonic()
        best: Member | None = None
        best_key: tuple[bool, bool, bool, int] | None = None
        for i in range(count):
            member = members[(turn + i) % count]
            if not member.up or (limit is not None and member.in_flight >= limit):
                continue
            if tried and member in tried:
                continue
            key = (
                member.busy_until > now,
                member is avoid,
                model not in member.warm,
                member.in_flight,
            )
            if best_key is None or key < best_key:
                best, best_key = member, key
        return best

    @property
    def closed(self) -> bool:
        return self._closed

    def usable(self, member: Member) -> bool:
        """Whether ``member`` could take a request now (up, and a slot free)."""
        return member.up and (self.limit is None or member.in_flight < self.limit)

    def any_up(self, tried: Iterable[Member] = ()) -> bool:
        """Whether a host that is up is left (besides ``tried``): then a full pool is queued for."""
        return any(member.up and member not in tried for member in self.members)

    def acquire(self, member: Member, model: str | None) -> bool:
        """A request for ``model`` goes to ``member`` now; True if it will load the model there."""
        member.in_flight += 1
        member.requests += 1
        member.last_routed = time.monotonic()
        if model is None or model in member.warm:
            return False
        member.loading[model] = member.loading.get(model, 0) + 1
        member.warm = member.warm | {model}
        return True

    def loaded(self, member: Member, model: str) -> None:
        """A request that loads ``model`` on ``member`` was answered: the model is there now."""
        member.set_models(member.models | {model})
        self._check(member)

    def release(self, member: Member, model: str | None, loading: bool) -> None:
        """A request to ``member`` has ended; its slot goes to the next request waiting."""
        member.in_flight -= 1
        if loading and model is not None:
            left = member.loading.get(model, 1) - 1
            if left:
                member.loading[model] = left
            else:
                member.loading.pop(model, None)
                member.set_models(member.models)
        if self.waiting:
            self.wake()

    # -- the queue (loop thread) ----------------------------------------------------------------

    def wait(self, waiter: Waiter) -> bool:
        """Queue ``waiter`` for a free slot; False if the queue is full."""
        if len(self.waiting) >= self.max_queue:
            return False
        self.waiting.append(waiter)
        return True

    def unwait(self, waiter: Waiter) -> None:
        with contextlib.suppress(ValueError):  # it had left already
            self.waiting.remove(waiter)

    def wake(self) -> None:
        """Give free slots to the requests waiting, in the order they came."""
        for waiter in list(self.waiting):
            if not any(self.usable(member) for member in self.members):
                return
            waiter.begin()

    # -- health (loop thread) -------------------------------------------------------------------

    def answered(self, member: Member, status: int) -> None:
        """A response head came from ``member``: a host that answers is up (503/429: busy)."""
        if status in (429, 503):
            member.busy_until = time.monotonic() + BUSY_SECONDS
        if not member.up and (status < 500 or status in (429, 503)):
            self._up(member)

    def failed(self, member: Member, exc: BaseException) -> None:
        """A request to ``member`` failed with ``exc``: mark it down if the host is to blame.

        It is when the connection failed, was cut or went silent past the read bound, or
        broke HTTP, and for a 5xx other than 503 whose text does not say the request itself
        was wrong (`HTTPError.refused`). The request's own faults (a 4xx, an ``{"error": ...}``
        line, a malformed line, the total bound, a cancel) say nothing of the host.
        """
        if _host_failure(exc):
            self.down(member, exc)

    def down(self, member: Member, exc: BaseException) -> None:
        """Take ``member`` out of rotation and probe it until it answers."""
        member.last_error = str(exc)
        if not member.up or self._closed:
            return
        member.up = False
        member.down_since = time.monotonic()
        member.failures = 0
        member.set_models(())  # unknown until it answers again
        logger.warning("%s is down: %s", member.url, exc)
        if telemetry.attached(POOL_HOST_DOWN):
            telemetry.execute(
                POOL_HOST_DOWN, {"system_time": time.time()}, {"host": member.url, "error": exc}
            )
        self._schedule_probe(member)
        for waiter in list(self.waiting):  # those with no host left to try end now
            waiter.begin()

    def no_host_up(self, tried: Iterable[Member] = ()) -> NoHostUp:
        """The error of a request no host could take: each host, and why not."""
        tried = list(tried)
        why = []
        for member in self.members:
            if member.up and member not in tried:
                continue
            reason = member.last_error or "down"
            why.append(f"{member.url} ({reason})")
        return NoHostUp(f"no host of the pool is up: {'; '.join(why)}")

    def _up(self, member: Member, *, check: bool = True) -> None:
        """Back in rotation; its ``/api/ps`` is read (``check``) and the queue served."""
        if member.up or self._closed:
            return
        member.up = True
        down_for = time.monotonic() - member.down_since if member.down_since is not None else 0.0
        member.down_since = None
        member.failures = 0
        if member.probe is not None:
            member.probe.cancel()
            member.probe = None
        logger.warning("%s is up again", member.url)
        if telemetry.attached(POOL_HOST_UP):
            telemetry.execute(POOL_HOST_UP, {"down_for": down_for}, {"host": member.url})
        if check:
            self._check(member)
        if self.waiting:
            self.wake()

    # -- probes and /api/ps reads (loop thread) -------------------------------------------------

    def _schedule_probe(self, member: Member) -> None:
        member.failures += 1
        delay = self.probe_backoff.delay(member.failures)
        member.probe = _later(delay, self, Pool._probe, member)

    def _probe(self, member: Member) -> None:
        member.probe = None
        if member.up or self._closed:
            return

        def then(answer: _Answer) -> None:
            if answer.failure is None:
                self._up(member)
            elif not member.up and not self._closed:
                member.last_error = str(answer.failure)
                if member.probe is None:  # else it came up and went down meanwhile: probed
                    self._schedule_probe(member)

        _ask(member, "/version", then)

    def _check(self, member: Member, done: Callable[[], None] | None = None) -> None:
        """Read ``member``'s ``/api/ps`` (unless a read is under way); ``done`` when it ends."""
        if member.checking and done is None:
            return
        member.checking = True

        def then(answer: _Answer) -> None:
            member.checking = False
            failure = answer.failure
            if failure is None:
                try:
                    member.set_models(_running(answer))
                except OllamaError as exc:  # the answer is not /api/ps's JSON
                    failure = exc
            if failure is not None and _host_failure(failure):
                self.down(member, failure)
            else:  # it answered: up, even if with a 4xx (no /api/ps there: models unknown)
                self._up(member, check=False)  # this was the check
            if done is not None:
                done()

        _ask(member, "/ps", then)

    def _check_all(self, every: bool, done: Callable[[], None] | None = None) -> None:
        """Read the ``/api/ps`` of every host that is up (``every``: of every host), then
        schedule the next background read."""
        if self._closed:
            if done is not None:
                done()
            return
        members = [m for m in self.members if every or m.up]
        left = [len(members)]

        def one_done() -> None:
            left[0] -= 1
            if left[0] == 0 and done is not None:
                done()

        if not members and done is not None:
            done()
        for member in members:
            self._check(member, one_done)
        if self._refresh_timer is not None:
            self._refresh_timer.cancel()
        self._refresh_timer = _later(self.refresh_every, self, Pool._check_all, False)

    def refresh(self, timeout: float) -> None:
        """Read every host's ``/api/ps`` now (a host that is down too: it counts as a probe),
        blocking until each has answered or failed; at most ``timeout`` seconds."""
        finished = threading.Event()
        call_on_loop(self._check_all, True, finished.set)
        if not finished.wait(timeout):
            raise TimeoutError(f"the hosts' /api/ps did not all answer within {timeout} s")

    # -- any thread -----------------------------------------------------------------------------

    def report(self) -> list[dict[str, Any]]:
        """What the pool knows of each host, read without stopping the loop."""
        now = time.monotonic()
        return [
            {
                "url": m.url,
                "up": m.up,
                "in_flight": m.in_flight,
                "models": sorted(m.models),
                "last_error": m.last_error,
                "busy": m.busy_until > now,
                "requests": m.requests,
                "last_routed": m.last_routed,
                "down_since": m.down_since,
            }
            for m in self.members
        ]

    def close(self) -> None:
        """Stop probing and refreshing, and end the requests waiting (returns at once)."""
        call_on_loop(self._close)

    def _close(self) -> None:
        self._closed = True
        if self._refresh_timer is not None:
            self._refresh_timer.cancel()
        for member in self.members:
            if member.probe is not None:
                member.probe.cancel()
                member.probe = None
        while self.waiting:
            self.waiting.popleft().fail(StreamCancelled("closed"))


def _host_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the host, not the request, has failed (see `Pool.failed`)."""
    if isinstance(exc, HTTPError):
        return exc.status >= 500 and exc.status != 503 and not exc.refused
    return isinstance(exc, TransportError) and not isinstance(exc, IncompleteStream | TotalTimeout)


def _later(delay: float, pool: Pool, method: Callable[..., None], *args: Any) -> Any:
    """Call ``method(pool, *args)`` on the loop in ``delay`` s, unless the pool is gone by
    then: timers hold it weakly, so a pool nobody holds stops probing and refreshing."""
    ref = weakref.ref(pool)

    def fire() -> None:
        alive = ref()
        if alive is not None and not alive._closed:
            method(alive, *args)

    return event_loop().call_later(delay, fire)


class _Answer(BodyCollector):
    """A probe's or a refresh's response, handed to ``then`` on the loop thread at its end."""

    def __init__(
        self, path: str, secrets: tuple[str, ...], then: Callable[[_Answer], None]
    ) -> None:
        super().__init__("GET", path, _MAX_CHECK_BODY, secrets)
        self._then = then

    def ended(self) -> None:
        super().ended()
        self._then(self)


def _ask(member: Member, path: str, then: Callable[[_Answer], None]) -> None:
    """``GET /api<path>`` of ``member``, within `CHECK_TIMEOUT` (loop thread)."""
    client = member.client
    request = client._request("GET", path, None, CHECK_TIMEOUT, "application/json")
    client._engine.start(request, _Answer(request.path, request.secrets, then))


def _running(answer: _Answer) -> list[str]:
    """The model keys of an ``/api/ps`` answer; `OllamaError` if it is not one."""
    body = answer.json()
    models = body.get("models") if isinstance(body, dict) else None
    if not isinstance(models, list):
        raise OllamaError(f"GET {answer.path} did not answer with a list of models")
    keys = []
    for entry in models:
        if isinstance(entry, dict):
            key = model_key(entry.get("model") or entry.get("name"))
            if key is not None:
                keys.append(key)
    return keys
