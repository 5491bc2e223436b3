"""The request log: what each request asked for and how its response ended, with waits for tests.

Times are ``time.monotonic()`` values. On Linux that is CLOCK_MONOTONIC, shared by every process on
the machine, so a test may compare its own ``time.monotonic()`` with times recorded by an emulator
running in a subprocess (e.g. "client cancelled at t0, server saw the close at ``closed_at``").
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._gojson import lenient_json

OUTCOMES = ("complete", "client_closed", "fault", "server_stopped", "error")
"""How a response can end: written in full; the client went away first (``closed_at`` says when the
server noticed); a fault broke it (cut, close before response); the emulator stopped; a bug."""


@dataclass(frozen=True)
class RequestInfo:
    """A snapshot of one logged request."""

    id: int
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    """The parsed JSON body (None when absent, not JSON, or a blob upload)."""
    body_size: int
    started_at: float
    ended_at: float | None
    outcome: str | None
    """None while the response is in progress; else one of ``OUTCOMES``."""
    closed_at: float | None
    """When the server noticed the client's disconnect (``client_closed`` only)."""
    status: int | None
    fault: str | None
    """The kind of the fault applied to this request, if any."""
    lines: int
    """Lines (stream chunks) written."""
    bytes_sent: int
    """Bytes of the response handed to the socket (status line and headers included)."""

    @property
    def ended(self) -> bool:
        """Whether the response is over."""
        return self.outcome is not None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form for the control endpoint."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestInfo:
        """The inverse of ``to_json``."""
        return cls(**data)


@dataclass
class Record:
    """The live, mutable entry behind a ``RequestInfo`` (owned by the server loop).

    It keeps the request as it came, compact: the header lines in one string and the body's bytes
    (while the log keeps them); `info` decodes them. Decoded, a byte can take a hundred (a header
    ``a:`` becomes two strings and a dict slot, ``{}`` in a body a dict).
    """

    id: int
    method: str
    path: str
    query: str
    head: str
    """The header lines, each ``name:value`` and a newline (a value never holds a newline)."""
    raw: bytes | None
    """The body as received, while the log keeps it."""
    body_size: int
    started_at: float = field(default_factory=time.monotonic)
    ended_at: float | None = None
    outcome: str | None = None
    closed_at: float | None = None
    status: int | None = None
    fault: str | None = None
    progress: Callable[[], tuple[int, int]] = lambda: (0, 0)
    """(lines, bytes) written so far: read from the pump while the response runs."""
    head_cost: int = 0
    """Bytes this entry counts against the log's budget for its head..."""
    body_cost: int = 0
    """... and for its body, while the body is kept."""

    def info(self) -> RequestInfo:
        """An immutable copy."""
        return RequestInfo(
            id=self.id,
            method=self.method,
            path=self.path,
            query=self.query,
            headers=_headers(self.head),
            body=None if self.raw is None else lenient_json(self.raw),
            body_size=self.body_size,
            started_at=self.started_at,
            ended_at=self.ended_at,
            outcome=self.outcome,
            closed_at=self.closed_at,
            status=self.status,
            fault=self.fault,
            lines=self.progress()[0],
            bytes_sent=self.progress()[1],
        )


class RequestLog:
    """Every request since start (or ``clear``), newest last, within ``limit`` entries and
    ``budget`` bytes.

    An entry costs the size of its head (path, query, header lines) plus, while it keeps it, the
    size of its body, as received: that is what it holds (see `Record`). Past the budget the
    oldest bodies go first (their entries stay, with ``body`` None), then the oldest entries; a
    body larger than the whole budget is never kept. Counts go on beyond what is kept.
    """

    def __init__(self, limit: int = 100_000, budget: int = 32 * 1024 * 1024) -> None:
        self._cond = threading.Condition()
        self._limit = limit
        self._budget = budget
        self._records: deque[Record] = deque()
        self._by_id: dict[int, Record] = {}
        self._with_body: deque[Record] = deque()
        """The entries that keep their body, oldest first (a subsequence of ``_records``)."""
        self._cost = 0
        self._counts: Counter[str] = Counter()
        self._total = 0
        self._next_id = 1
        self._listeners: list[Callable[[], None]] = []

    def begin(
        self,
        method: str,
        path: str,
        query: str,
        headers: Sequence[tuple[str, str]],
        *,
        body: bytes,
        size: int,
    ) -> Record:
        """Log a new request: its headers (lower-case names, in order) and its body's bytes
        (empty for an upload hashed as it came; ``size``: bytes of body received)."""
        head = "".join(f"{name}:{value}\n" for name, value in headers)
        with self._cond:
            record = Record(self._next_id, method, path, query, head, None, size)
            self._next_id += 1
            record.head_cost = len(path) + len(query) + len(head)
            if body and len(body) <= self._budget:
                record.raw, record.body_cost = body, len(body)
                self._with_body.append(record)
            if len(self._records) == self._limit:
                self._evict()
            self._records.append(record)
            self._by_id[record.id] = record
            self._cost += record.head_cost + record.body_cost
            self._trim()
            self._counts[path] += 1
            self._total += 1
            self._cond.notify_all()
        self._changed()
        return record

    def _trim(self) -> None:
        """Drop the oldest bodies, then the oldest entries, until the log is within its budget."""
        while self._cost > self._budget and self._with_body:
            record = self._with_body.popleft()
            self._cost -= record.body_cost
            record.raw, record.body_cost = None, 0
        while self._cost > self._budget and len(self._records) > 1:
            self._evict()

    def _evict(self) -> None:
        """Forget the oldest entry."""
        record = self._records.popleft()
        del self._by_id[record.id]
        if record.body_cost:
            assert self._with_body[0] is record
            self._with_body.popleft()
        self._cost -= record.head_cost + record.body_cost

    def end(self, record: Record, outcome: str, closed_at: float | None = None) -> None:
        """Mark a request's response as over."""
        with self._cond:
            final = record.progress()
            record.progress = lambda: final
            record.outcome = outcome
            record.ended_at = time.monotonic()
            record.closed_at = closed_at
            self._cond.notify_all()
        self._changed()

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def listen(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` (in the server loop) at every change; returns the unsubscribe call."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def snapshot(self, path: str | None = None) -> list[RequestInfo]:
        """Copies of the logged requests, oldest first (optionally only those to ``path``)."""
        with self._cond:
            return [r.info() for r in self._records if path is None or r.path == path]

    def count(self, path: str | None = None) -> int:
        """How many requests arrived (optionally to ``path``), even beyond the kept entries."""
        with self._cond:
            return self._total if path is None else self._counts[path]

    def get(self, request_id: int) -> RequestInfo | None:
        """The request with this id, if still kept."""
        with self._cond:
            record = self._by_id.get(request_id)
            return None if record is None else record.info()

    def clear(self) -> None:
        """Forget every entry and count."""
        with self._cond:
            self._records.clear()
            self._by_id.clear()
            self._with_body.clear()
            self._cost = 0
            self._counts.clear()
            self._total = 0

    def wait_for_requests(
        self, n: int, timeout: float, path: str | None = None
    ) -> list[RequestInfo]:
        """Block until ``n`` requests (to ``path``) arrived; raise TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.count(path) >= n, timeout):
                raise TimeoutError(f"{self.count(path)} of {n} requests arrived in {timeout}s")
            return self.snapshot(path)

    def wait_until_ended(self, request_id: int, timeout: float) -> RequestInfo:
        """Block until the request's response is over; raise TimeoutError otherwise."""

        def ended() -> bool:
            record = self._by_id.get(request_id)
            return record is None or record.outcome is not None

        with self._cond:
            if not self._cond.wait_for(ended, timeout):
                raise TimeoutError(f"request {request_id} still running after {timeout}s")
            info = self.get(request_id)
        if info is None:
            raise KeyError(request_id)
        return info


def _headers(head: str) -> dict[str, str]:
    """The header lines as a dict; a name's values joined with ``", "``, in order."""
    headers: dict[str, str] = {}
    for line in head.split("\n")[:-1]:
        name, _, value = line.partition(":")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers
