"""`OllamaPool`: one client for several Ollama hosts, made by ``Ollama([url, url, ...])``.

Each request for a model (``completion``, ``chat``, ``embed``, ``embeddings``, ``show_model``,
``preload``, and ``version``) goes to the host the `Pool` chooses, along a `Route`; supervised
streams restart on another host. ``list_models`` and ``list_running`` ask every host that is up
and tag each entry with its ``"host"``; ``unload`` goes to every host that is up. Managing models
(pull, push, create, copy, delete, blobs) is a matter for one host: ``client.host(url)``.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from actors import Backoff
from ollama_actor._client import (
    _UNSET,
    CLOUD_URL,
    DEFAULT_MAX_BODY,
    BlobSource,
    Ollama,
    _answer,
    _encode,
    base_url_of,
    constructor_signature,
)
from ollama_actor._engine import Request
from ollama_actor._errors import OllamaError, ValidationError
from ollama_actor._ndjson import DEFAULT_MAX_LINE
from ollama_actor._pool import DEFAULT_PROBE, Member, Pool, model_key
from ollama_actor._response import BodyCollector, wait_or_cancel
from ollama_actor._route import RequestSpec, Route
from ollama_actor._schemas import Endpoint
from ollama_actor._streaming import Streaming, _refuse_loop_thread
from ollama_actor._timeout import DEFAULT_TIMEOUT, Timeout, TimeoutLike

__all__ = ["OllamaPool"]

_JSON = "application/json"
_NDJSON = "application/x-ndjson"
_ONE_HOST = frozenset({"create_model", "pull_model", "push_model", "copy_model", "delete_model"})
_LISTS = frozenset({"list_models", "list_running"})


class OllamaPool(Ollama):
    """A client for several Ollama hosts that acts as one (``Ollama([url, ...])`` makes it).

    Requests for a model go, one by one, to a host that is up: one with the model in memory if
    any, else the one with the fewest requests in flight. A host that refuses connections,
    times out or answers 5xx is marked down and probed (``GET /api/version``, with backoff and
    jitter: ``probe``) until it answers; nothing else is sent to it meanwhile. A request whose
    host failed retryably before any of its answer reached the caller (no connection, a cut
    or a silence before the response, a 5xx or 429; docs/scaling.md) is sent to another host;
    a supervised stream that fails retryably later restarts on another host, and its
    ``("restart", {...})`` message names it in ``"host"``.

    ``max_in_flight`` limits each host's requests in flight (Ollama's ``OLLAMA_NUM_PARALLEL``
    is the natural value; None: no limit); beyond it requests wait, at most ``max_queue`` of
    them, each at most its read bound, then fail with `PoolBusy`. ``refresh`` is the time in
    seconds between background reads of each host's ``/api/ps``. The other arguments are
    `Ollama`'s, the same for every host.

    `host` gives one host's own client (for model management), `hosts` what the pool knows of
    each, `refresh` reads every host's ``/api/ps`` now. ``base_url`` is the first host's,
    ``base_urls`` all of them. Closing the pool closes every host's client.
    """

    def __init__(
        self,
        base_url: Sequence[str],
        *,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutLike = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        verify: bool | ssl.SSLContext = True,
        max_line: int = DEFAULT_MAX_LINE,
        max_body: int = DEFAULT_MAX_BODY,
        proxy: str | None = None,
        trust_env: bool = True,
        cloud_url: str = CLOUD_URL,
        max_in_flight: int | None = None,
        max_queue: int = 1024,
        refresh: float = 10.0,
        probe: Backoff = DEFAULT_PROBE,
    ) -> None:
        _check_options(base_url, max_in_flight, max_queue, refresh, probe)
        members = [
            Ollama(
                url,
                headers=headers,
                timeout=timeout,
                api_key=api_key,
                verify=verify,
                max_line=max_line,
                max_body=max_body,
                proxy=proxy,
                trust_env=trust_env,
                cloud_url=cloud_url,
            )
            for url in base_url
        ]
        urls = [member.base_url for member in members]
        for url in urls:
            if urls.count(url) > 1:
                raise ValidationError("Ollama", "base_url", f"names {url!r} twice")
        self.base_urls = tuple(urls)
        self.base_url = urls[0]
        self.cloud_url = cloud_url
        self.timeout = members[0].timeout
        self.max_line = max_line
        self.max_body = max_body
        self._pool = Pool(
            members,
            max_in_flight=max_in_flight,
            max_queue=max_queue,
            refresh=refresh,
            probe=probe,
        )

    def __repr__(self) -> str:
        return f"Ollama({list(self.base_urls)!r})"

    def close(self) -> None:
        """Stop probing, end queued requests, cancel running ones; returns at once."""
        self._pool.close()
        for member in self._pool.members:
            member.client.close()

    # -- the pool's own -------------------------------------------------------------------------

    def host(self, url: str) -> Ollama:
        """The client of one host of the pool (the pool owns it: do not close it).

        ``url`` as given to the pool, with or without ``/api``. For model management (pull,
        create, copy, delete, push, blobs), and for anything meant for that host alone.
        Raises `ValidationError` for a URL that is not one of the pool's.
        """
        wanted = base_url_of(url) if isinstance(url, str) else None
        for member in self._pool.members:
            if member.client.base_url == wanted:
                return member.client
        hosts = ", ".join(member.url for member in self._pool.members)
        raise ValidationError("host", "url", f"is not a host of this pool ({hosts}): {url!r:.80}")

    def hosts(self) -> list[dict[str, Any]]:
        """What the pool knows of each host, in the order given.

        Each is ``{"url", "up", "in_flight", "models", "last_error", "busy", "requests",
        "last_routed", "down_since"}``: ``models`` are the model names in memory there (as
        ``/api/ps`` last said, plus what answered requests loaded), ``last_error`` the text of
        the latest failure that marked it down (kept after it came back), ``busy`` whether it
        answered 503 in the last second, ``requests`` how many it was sent, ``last_routed`` and
        ``down_since`` `time.monotonic` values (or None). A snapshot; never blocks.
        """
        return self._pool.report()

    def refresh(self, timeout: float = 10.0) -> None:
        """Read every host's ``/api/ps`` now, the hosts that are down included (a host that
        answers is up again); blocks until each has answered or failed, at most ``timeout``
        seconds (then `TimeoutError`)."""
        _refuse_loop_thread("OllamaPool.refresh")
        self._pool.refresh(timeout)

    # -- what differs from one host's client -----------------------------------------------------

    def _call(self, name: str, /, **kwargs: Any) -> Any:
        if name in _ONE_HOST:
            _one_host(name)
        return super()._call(name, **kwargs)

    def check_blob(self, digest_or_data: str | bytes, *, timeout: TimeoutLike = _UNSET) -> bool:
        """Refused on a pool: a blob is on one host (``client.host(url).check_blob(...)``)."""
        _one_host("check_blob")

    def create_blob(self, source: BlobSource, **kwargs: Any) -> str:
        """Refused on a pool: a blob goes to one host (``client.host(url).create_blob(...)``)."""
        _one_host("create_blob")

    def _stream(self, endpoint: Endpoint, body: dict[str, Any], timeout: Timeout) -> Streaming:
        assert endpoint.stream is not None, "an endpoint that streams"
        spec = self._spec(endpoint, body, timeout, _NDJSON)
        model = body.get("model")
        return Streaming(
            Route(self._pool, spec),
            endpoint.stream,
            max_line=self.max_line,
            model=model if isinstance(model, str) else None,
        )

    def _fetch(self, endpoint: Endpoint, body: dict[str, Any], timeout: Timeout) -> Any:
        if endpoint.hosted:  # ollama.com's API, the same for every host
            return self._pool.members[0].client._fetch(endpoint, body, timeout)
        _refuse_loop_thread(f"{endpoint.method} {endpoint.path}")
        if endpoint.name in _LISTS:
            return self._listed(endpoint, timeout)
        if endpoint.name == "unload":
            return self._unloaded(endpoint, body, timeout)
        route = Route(self._pool, self._spec(endpoint, body, timeout, _JSON))
        collector = BodyCollector(endpoint.method, route.path, self.max_body, self._pool.secrets)
        running = route.start(collector)
        wait_or_cancel(collector.done, running.cancel)
        return _answer(endpoint, collector)

    def _spec(
        self, endpoint: Endpoint, body: dict[str, Any], timeout: Timeout, accept: str
    ) -> RequestSpec:
        data = _encode(endpoint.name, body) if endpoint.method in ("POST", "DELETE") else None
        model = model_key(body.get("model"))
        return RequestSpec(endpoint.method, endpoint.path, data, timeout, accept, model)

    def _listed(self, endpoint: Endpoint, timeout: Timeout) -> dict[str, Any]:
        """``{"models": [...]}`` of every host that is up, each entry with its ``"host"``.

        A host that is down, or failed to answer, is named under ``"errors"`` (``{"host",
        "error"}``) rather than left out silently. Raises if no host answered.
        """
        models: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        answered = False
        first_failure: OllamaError | None = None
        for member, collector in self._each_host(endpoint, {}, timeout):
            if collector is None:
                errors.append({"host": member.url, "error": f"down: {member.last_error}"})
                continue
            try:
                entries = _answer(endpoint, collector).get("models")
                if not isinstance(entries, list):
                    raise OllamaError(f"{member.url} did not answer with a list of models")
            except OllamaError as exc:
                first_failure = first_failure or exc
                errors.append({"host": member.url, "error": str(exc)})
                continue
            answered = True
            models += [{**e, "host": member.url} for e in entries if isinstance(e, dict)]
        if not answered:
            raise first_failure or self._pool.no_host_up()
        answer: dict[str, Any] = {"models": models}
        if errors:
            answer["errors"] = errors
        return answer

    def _unloaded(self, endpoint: Endpoint, body: dict[str, Any], timeout: Timeout) -> bool:
        """Unload from every host that is up: True if one had the model and unloaded it.

        Raises the first failure if no host answered yes.
        """
        unloaded = False
        first_failure: OllamaError | None = None
        asked = False
        for _member, collector in self._each_host(endpoint, body, timeout):
            if collector is None:
                continue
            asked = True
            try:
                unloaded = bool(_answer(endpoint, collector)) or unloaded
            except OllamaError as exc:
                first_failure = first_failure or exc
        if not asked:
            raise self._pool.no_host_up()
        if first_failure is not None and not unloaded:
            raise first_failure
        return unloaded

    def _each_host(
        self, endpoint: Endpoint, body: dict[str, Any], timeout: Timeout
    ) -> list[tuple[Member, BodyCollector | None]]:
        """The same request to every host that is up, all at once; each host's collected
        answer (None for a host that is down: it is not asked). Ctrl-C cancels them all."""
        data = _encode(endpoint.name, body) if endpoint.method in ("POST", "DELETE") else None
        pool = self._pool
        outcomes: list[tuple[Member, BodyCollector | None]] = []
        calls = []
        for member in pool.members:
            if not member.up:
                outcomes.append((member, None))
                continue
            client = member.client
            request = client._request(endpoint.method, endpoint.path, data, timeout, _JSON)
            collector = _HostAnswer(pool, member, request, self.max_body)
            calls.append(client._engine.start(request, collector))
            outcomes.append((member, collector))

        def cancel_all(reason: str) -> None:
            for call in calls:
                call.cancel(reason)

        for _member, answer in outcomes:
            if answer is not None:
                wait_or_cancel(answer.done, cancel_all)  # the engine's bounds end each call
        return outcomes


class _HostAnswer(BodyCollector):
    """One host's whole answer to a request sent to every host: what it says of the host's
    health reaches the pool (on the loop thread) before the waiting caller wakes."""

    def __init__(self, pool: Pool, member: Member, request: Request, max_body: int) -> None:
        super().__init__(request.method, request.path, max_body, request.secrets)
        self._pool = pool
        self._member = member

    def on_head(self, status: int, reason: str, headers: dict[str, str]) -> None:
        self._pool.answered(self._member, status)
        super().on_head(status, reason, headers)

    def ended(self) -> None:
        if self.failure is not None:
            self._pool.failed(self._member, self.failure)
        super().ended()


def _one_host(name: str) -> NoReturn:
    raise ValidationError(
        name,
        "client",
        f"is a pool of hosts: {name} is for one of them, client.host(url).{name}(...)",
    )


def _check_options(
    urls: object, max_in_flight: object, max_queue: object, refresh: object, probe: object
) -> None:
    """Refuse what a pool cannot run with, naming it."""
    if isinstance(urls, str | bytes) or not isinstance(urls, Sequence) or not urls:
        raise ValidationError("Ollama", "base_url", "must be a non-empty list of URLs for a pool")
    for url in urls:
        if not isinstance(url, str):
            raise ValidationError("Ollama", "base_url", f"lists {url!r:.80}, which is not a URL")
    if max_in_flight is not None and (
        isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1
    ):
        raise ValidationError("Ollama", "max_in_flight", "must be a whole number >= 1, or None")
    if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 0:
        raise ValidationError("Ollama", "max_queue", "must be a whole number >= 0")
    if isinstance(refresh, bool) or not isinstance(refresh, int | float) or not refresh > 0:
        raise ValidationError("Ollama", "refresh", "must be a number of seconds > 0")
    if not isinstance(probe, Backoff):
        raise ValidationError("Ollama", "probe", "must be an actors.Backoff")


OllamaPool.__signature__ = constructor_signature(OllamaPool)
