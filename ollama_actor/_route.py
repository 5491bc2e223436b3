"""One request's way through a pool: a host is chosen when a run starts, and the run moves on
to another host while nothing of an answer has reached its consumer.

`Route` is the `Target` of a pool's request, for its streams and its whole calls alike: each run
(`Route.start`) asks the `Pool` for a host, encodes the request for it and sends it. The run
moves on to another host, without its consumer hearing of it, when the host failed before
answering and the failure is retryable (docs/protocol.md's table): the connection failed
(nothing was sent), was cut or went silent before a response, or the status was a 5xx or 429
whose text does not blame the request (a 503: its queue was full). Once the consumer has had
part of an answer, a failure goes to it as it came; a supervised stream's next attempt
(`Route.again`) then prefers another host, which the restart message names. When every host
that is up has its limit of requests in flight, the run waits in the pool's queue, at most as
long as its read bound (or its total bound, if shorter).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actors import call_on_loop, event_loop
from ollama_actor._engine import Sink
from ollama_actor._error_body import ErrorBody
from ollama_actor._errors import (
    TOTAL_FIX,
    ConnectError,
    ConnectTimeout,
    OllamaError,
    PoolBusy,
    TotalTimeout,
    cancelled,
)
from ollama_actor._pool import Member, Pool
from ollama_actor._timeout import Timeout

__all__ = ["RequestSpec", "Route"]


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """A pool's request before a host is chosen: what each host's client encodes and sends.

    ``path`` is the endpoint's (``/chat``), without a host's prefix; ``model`` is the
    `model_key` of the model it asks for, if any.
    """

    method: str
    path: str
    body: bytes | None
    timeout: Timeout
    accept: str
    model: str | None


class Route:
    """The `Target` of a request sent through a pool: each run goes where the pool says.

    ``avoid`` is the host the previous attempt ran on: the pool picks it only if no other host
    can take the request. ``details`` chooses the host ahead of `start` (on the loop thread), so
    a restart message can name it: ``{"host": url}``, or ``{"host": None}`` when no host is free
    yet (the run will wait for one, or fail).
    """

    __slots__ = ("_avoid", "_chosen", "_picked", "_pool", "_run", "_spec", "_trail")

    def __init__(
        self,
        pool: Pool,
        spec: RequestSpec,
        avoid: Member | None = None,
        trail: list[str] | None = None,
    ) -> None:
        self._pool = pool
        self._spec = spec
        self._avoid = avoid
        self._trail = trail if trail is not None else []  # shared by this route and its agains
        self._chosen: Member | None = None
        self._picked = False
        self._run: _Run | None = None

    @property
    def method(self) -> str:
        return self._spec.method

    @property
    def path(self) -> str:
        """The request's path on the host of the run (the first host's before it starts)."""
        run = self._run
        member = run.host if run is not None and run.host is not None else self._pool.members[0]
        return member.client._prefix + self._spec.path

    @property
    def url(self) -> str:
        """The URL of the run's host; before it has one, the host picked for it, or the first."""
        run = self._run
        member = run.host if run is not None else None
        if member is None:
            member = self._chosen if self._chosen is not None else self._pool.members[0]
        return member.url

    @property
    def hosts(self) -> list[str]:
        return list(self._trail)

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._pool.secrets

    @property
    def details(self) -> Mapping[str, Any]:
        if not self._picked:
            self._picked = True
            self._chosen = self._pool.choose(self._spec.model, self._avoid)
        return {"host": self._chosen.url if self._chosen is not None else None}

    def start(self, sink: Sink) -> _Run:
        """Send one run from any thread; the host is chosen on the loop thread."""
        run = _Run(
            self._pool, self._spec, sink, first=self._chosen, avoid=self._avoid, trail=self._trail
        )
        self._run = run
        call_on_loop(run.begin)
        return run

    def again(self) -> Route:
        run = self._run
        host = run.host if run is not None else None
        return Route(self._pool, self._spec, host or self._avoid, self._trail)


class _Run:
    """One run of a request through the pool, over one host or more (an engine `Call`'s face:
    `cancel`, `pause_reading` and `resume_reading` from any thread; the rest on the loop)."""

    __slots__ = (
        "_avoid",
        "_cancelled",
        "_deadline",
        "_ended",
        "_first",
        "_leg",
        "_paused",
        "_pool",
        "_queued",
        "_sink",
        "_spec",
        "_timer",
        "_trail",
        "_tried",
        "_why",
        "host",
    )

    def __init__(
        self,
        pool: Pool,
        spec: RequestSpec,
        sink: Sink,
        *,
        first: Member | None,
        avoid: Member | None,
        trail: list[str],
    ) -> None:
        self._pool = pool
        self._trail = trail
        self._spec = spec
        self._sink = sink
        self._first = first
        self._avoid = avoid
        self._tried: list[Member] = []
        self._leg: _Leg | None = None
        self._why: OllamaError | None = None  # why the last host did not take it
        self._queued = False
        self._timer: Any = None
        self._paused = False
        self._cancelled: str | None = None
        self._ended = False
        total = spec.timeout.total
        self._deadline = None if total is None else event_loop().time() + total
        """The total bound is the whole request's, over every host it goes to (loop time)."""
        self.host: Member | None = None
        """The host of the latest leg."""

    # -- any thread -----------------------------------------------------------------------------

    def cancel(self, reason: str = "caller") -> None:
        call_on_loop(self._cancel, reason)

    def pause_reading(self) -> None:
        call_on_loop(self._pause, True)

    def resume_reading(self) -> None:
        call_on_loop(self._pause, False)

    # -- loop thread ----------------------------------------------------------------------------

    def begin(self) -> None:
        """Send it to a host that can take it, or wait for one, or fail if none is up."""
        if self._ended or self._leg is not None:
            return
        if self._cancelled is not None:
            self.fail(cancelled(self._cancelled))
            return
        pool, tried = self._pool, self._tried
        if pool.closed:
            self.fail(cancelled("closed"))
            return
        if pool.when_ready(self.begin):
            return  # a new pool: routed once it knows where the models are
        if self._deadline is not None and event_loop().time() >= self._deadline:
            self.fail(
                TotalTimeout(
                    f"the request took longer than {self._spec.timeout.total} s in all{TOTAL_FIX}"
                )
            )
            return
        first, self._first = self._first, None
        if first is not None and first not in tried and pool.usable(first):
            member: Member | None = first
        else:
            member = pool.choose(self._spec.model, self._avoid, tried)
        if member is not None:
            self._send(member)
        elif pool.any_up(tried):
            if not self._queued:  # else still no free slot for it: it keeps its place
                self._wait()
        elif self._why is None or isinstance(self._why, ConnectError | ConnectTimeout):
            self.fail(pool.no_host_up(tried))  # nothing was sent anywhere
        else:
            self.fail(self._why)  # the last host's own failure, as one host's client gives it

    def fail(self, exc: OllamaError) -> None:
        """End it with ``exc`` (nothing was sent, or nothing more will be)."""
        if self._ended:
            return
        self._ended = True
        self._leave_queue()
        self._sink.on_error(exc)

    def moved_on(self, why: OllamaError) -> None:
        """The latest leg's host failed before any of its answer was passed on, retryably:
        try another host (a leg's end)."""
        self._leg = None
        self._why = why
        self.begin()

    def ended(self) -> None:
        """The latest leg has told the consumer how the request ended."""
        self._ended = True

    def _send(self, member: Member) -> None:
        self._leave_queue()
        spec = self._spec
        loading = self._pool.acquire(member, spec.model)
        self._tried.append(member)
        self._trail.append(member.url)
        self.host = member
        client = member.client
        request = client._request(spec.method, spec.path, spec.body, spec.timeout, spec.accept)
        request.deadline = self._deadline
        leg = self._leg = _Leg(self, member, loading)
        call = client._engine.start(request, leg)
        leg.call = call
        if self._paused and self._leg is leg:
            call.pause_reading()

    def _wait(self) -> None:
        """Every host that could take it is full: queue it, bounded in length and in time."""
        pool = self._pool
        if not pool.wait(self):
            self.fail(
                PoolBusy(
                    f"every host of the pool that is up has {pool.limit} requests in flight "
                    f"and {pool.max_queue} more are waiting: the pool's queue is full"
                )
            )
            return
        self._queued = True
        loop = event_loop()
        read = self._spec.timeout.read
        bounds = [] if read is None else [read]
        if self._deadline is not None:
            bounds.append(self._deadline - loop.time())
        if bounds:
            wait = max(0.0, min(bounds))
            self._timer = loop.call_later(wait, self._waited_too_long, round(wait, 3))

    def _waited_too_long(self, seconds: float) -> None:
        self._timer = None
        if self._queued:
            self.fail(PoolBusy(f"no host of the pool had a free slot for {seconds} s"))

    def _leave_queue(self) -> None:
        if self._queued:
            self._queued = False
            self._pool.unwait(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _cancel(self, reason: str) -> None:
        self._cancelled = reason
        if self._ended:
            return
        leg = self._leg
        if leg is not None and leg.call is not None:
            leg.call.cancel(reason)  # its end comes back through the leg
        elif leg is None:
            self.fail(cancelled(reason))

    def _pause(self, paused: bool) -> None:
        self._paused = paused
        leg = self._leg
        if leg is not None and leg.call is not None:
            if paused:
                leg.call.pause_reading()
            else:
                leg.call.resume_reading()


class _Leg:
    """One host's part of a run: the engine's sink for the call to that host (loop thread).

    It passes the response on to the run's sink as it comes, except what says the host did not
    get to answer: a 5xx or 429 status is held back until its text has come, and a failure
    before any response (no connection, a cut, a silence past the read bound) is not passed
    on. When such a failure is retryable (the table in docs/protocol.md) the run moves on to
    another host; a refused one (a 5xx that blames the request) is passed on as it came. The
    leg tells the pool what each answer says of the host, and frees the host's slot at the end.
    """

    __slots__ = ("_held", "_loading", "_passed", "_released", "call", "member", "run")

    def __init__(self, run: _Run, member: Member, loading: bool) -> None:
        self.run = run
        self.member = member
        self.call: Any = None
        self._loading = loading
        self._held: _Held | None = None
        self._passed = False  # some of the response has reached the run's sink
        self._released = False

    def on_head(self, status: int, reason: str, headers: dict[str, str]) -> None:
        run = self.run
        pool, member, spec = run._pool, self.member, run._spec
        pool.answered(member, status)
        if status >= 500 or status == 429:
            body = ErrorBody(status, reason, spec.method, self._path(), pool.secrets)
            self._held = _Held(status, reason, headers, body)
            return
        if self._loading and status < 300 and spec.model is not None:
            pool.loaded(member, spec.model)
        self._passed = True
        run._sink.on_head(status, reason, headers)

    def on_body(self, data: bytes) -> None:
        if self._held is not None:
            self._held.body.add(data)
        else:
            self.run._sink.on_body(data)

    def on_end(self) -> None:
        run, held = self.run, self._held
        if held is None:
            self._release()
        else:
            error = held.body.error()
            run._pool.failed(self.member, error)  # before its slot goes to a request waiting
            self._release()
            if error.retryable:
                run.moved_on(error)
                return
            self._passed = True  # refused: the request's own fault, passed on as it came
            run._sink.on_head(held.status, held.reason, held.headers)
            run._sink.on_body(held.body.data)
        run.ended()
        run._sink.on_end()

    def on_error(self, exc: OllamaError) -> None:
        run = self.run
        run._pool.failed(self.member, exc)  # before its slot goes to a request waiting
        self._release()
        if not self._passed and exc.retryable and not isinstance(exc, TotalTimeout):
            run.moved_on(exc)  # nothing of an answer has come: another host may give one
            return
        run.ended()
        run._sink.on_error(exc)

    def _path(self) -> str:
        return self.member.client._prefix + self.run._spec.path

    def _release(self) -> None:
        if not self._released:
            self._released = True
            run = self.run
            run._pool.release(self.member, run._spec.model, self._loading)


@dataclass(slots=True)
class _Held:
    """A 5xx or 429 response kept from the run's sink until its text says whose fault it is."""

    status: int
    reason: str
    headers: dict[str, str]
    body: ErrorBody
