"""`Ollama`: the client. Each endpoint is a line or two over one request path.

Parameters are validated against `_schemas.ENDPOINTS` before anything is sent, requests are
encoded here and run by the `Engine` on the shared loop thread, and the calling thread waits
(bounded by the request's `Timeout`) for whole responses. ``stream=True`` returns a lazy
`Streaming`; ``stream=recipient`` runs it in a supervised `StreamWorker` and returns a
`StreamHandle`.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import ssl
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Generic, Literal, Protocol, TypeVar, overload

import httpx
from pykka import ActorRef

from actors._monitor import Recipient
from ollama_actor._engine import Engine, Origin, Request
from ollama_actor._errors import HTTPError, ResponseError, ValidationError
from ollama_actor._handle import DEFAULT_RETRY, RetryPolicy, StreamHandle, stream_to
from ollama_actor._host import parse_host
from ollama_actor._http11 import encode_request
from ollama_actor._ndjson import DEFAULT_MAX_LINE
from ollama_actor._response import BodyCollector, wait_or_cancel
from ollama_actor._schemas import ENDPOINTS, Endpoint, digest, validate
from ollama_actor._streaming import Streaming, _refuse_loop_thread
from ollama_actor._timeout import DEFAULT_TIMEOUT, Timeout, TimeoutLike

__all__ = ["DEFAULT_MAX_BODY", "Ollama", "blob_digest"]

DEFAULT_MAX_BODY = 256 * 1024 * 1024

_JSON = "application/json"
_NDJSON = "application/x-ndjson"


def _user_agent() -> str:
    try:
        ours = version("ollama-actor")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        ours = "0"
    machine, system = platform.machine(), platform.system().lower()
    return f"ollama-actor/{ours} ({machine} {system}) Python/{platform.python_version()}"


def blob_digest(data: bytes) -> str:
    """The digest Ollama names a blob by: ``sha256:`` and the lowercase hex SHA-256."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _Unset:
    def __repr__(self) -> str:
        return "<client default>"


_UNSET: Any = _Unset()


class _StreamingCall(Protocol):
    """An endpoint that streams: a dict, a `Streaming`, or a `StreamHandle` by ``stream``."""

    @overload
    def __call__(
        self, *, stream: Literal[False] = False, timeout: TimeoutLike = ..., **params: Any
    ) -> dict[str, Any]: ...
    @overload
    def __call__(
        self, *, stream: Literal[True], timeout: TimeoutLike = ..., **params: Any
    ) -> Streaming: ...
    @overload
    def __call__(
        self,
        *,
        stream: Recipient,
        timeout: TimeoutLike = ...,
        supervisor: ActorRef[Any] | None = ...,
        retry: RetryPolicy = ...,
        **params: Any,
    ) -> StreamHandle: ...


class _JSONCall(Protocol):
    """An endpoint that returns Ollama's decoded JSON reply."""

    def __call__(self, *, timeout: TimeoutLike = ..., **params: Any) -> dict[str, Any]: ...


class _BoolCall(Protocol):
    """A yes/no endpoint: True on success, False when Ollama answers 404."""

    def __call__(self, *, timeout: TimeoutLike = ..., **params: Any) -> bool: ...


C = TypeVar("C")


class _Endpoint(Generic[C]):
    """An endpoint as a client method, declared once: ``client.chat(model=..., ...)``.

    Reading it from a client gives a function that validates the keyword arguments against
    the endpoint's schema and runs the request; its docstring lists the parameters.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.__doc__ = _describe(ENDPOINTS[name])

    @overload
    def __get__(self, client: None, owner: type[Any]) -> _Endpoint[C]: ...
    @overload
    def __get__(self, client: Ollama, owner: type[Any]) -> C: ...
    def __get__(self, client: Ollama | None, owner: type[Any]) -> Any:
        if client is None:
            return self
        name = self.name

        def call(**kwargs: Any) -> Any:
            return client._call(name, **kwargs)

        call.__name__ = name
        call.__qualname__ = f"Ollama.{name}"
        call.__doc__ = self.__doc__
        return call


def _describe(endpoint: Endpoint) -> str:
    """A docstring from the schema: what it does, its route, its parameters."""
    lines = [f"{endpoint.doc} (``{endpoint.method} /api{endpoint.path}``)", ""]
    if endpoint.stream is not None:
        lines += [
            "``stream=True`` returns a lazy `Streaming`; ``stream=recipient`` a supervised",
            "`StreamHandle` (``supervisor=`` and ``retry=`` apply then). ``timeout=`` bounds this",
            "call.",
            "",
        ]
    lines += ["Parameters (Ollama's JSON fields):", ""]
    for name, param in endpoint.params.items():
        required = " (required)" if param.required else ""
        lines.append(f"- ``{name}``{required}: {param.doc}")
    if endpoint.aliases:
        older = ", ".join(f"``{old}`` for ``{new}``" for old, new in endpoint.aliases.items())
        lines += ["", f"Also accepted: {older}."]
    return "\n".join(lines)


class Ollama:
    """A client for one Ollama server.

    ``base_url`` is the API's URL (``http://host:11434/api``); a URL without a path gets
    ``/api`` added, and when it is omitted ``OLLAMA_HOST`` is read as the official client
    reads it (default ``http://127.0.0.1:11434``). ``api_key`` (or ``OLLAMA_API_KEY``) is sent
    as a Bearer token and never shown. ``headers`` are merged over the defaults. ``timeout``
    is seconds or a `Timeout`; each call may pass its own. ``max_line`` bounds one streamed
    line, ``max_body`` a whole response. ``verify`` controls TLS certificate checks (on by
    default; pass ``False`` or an `ssl.SSLContext` to change it).

    Methods block the calling thread, except that ``stream=True`` returns a `Streaming` that
    sends nothing until used. Close the client (or use it as a context manager) to cancel its
    running requests and close its connections.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutLike = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        verify: bool | ssl.SSLContext = True,
        max_line: int = DEFAULT_MAX_LINE,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        if base_url is None:
            url = parse_host(os.environ.get("OLLAMA_HOST")) + "/api"
        else:
            url = parse_host(base_url)
            if url.count("/") == 2:
                url += "/api"
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise ValidationError("Ollama", "base_url", f"is not a valid URL: {exc}") from None
        if parsed.scheme not in ("http", "https"):
            raise ValidationError("Ollama", "base_url", f"must be http or https, not {url!r}")
        for name, value in (("max_line", max_line), ("max_body", max_body)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValidationError("Ollama", name, "must be a positive number of bytes")
        self.base_url = url
        self.timeout = Timeout.coerce(timeout)
        self.max_line = max_line
        self.max_body = max_body
        context = httpx.create_ssl_context(verify=verify) if parsed.scheme == "https" else None
        host = parsed.host if ":" not in parsed.host else f"[{parsed.host}]"
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self._origin = Origin(parsed.scheme, host, port, context)
        self._prefix = parsed.raw_path.decode("ascii").rstrip("/")
        self._user_headers = _checked_headers(headers)
        self._headers = _default_headers(api_key, self._user_headers)
        self._engine = Engine()

    def __repr__(self) -> str:
        return f"Ollama({self.base_url!r})"

    def __enter__(self) -> Ollama:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Cancel running requests and close pooled connections; returns at once."""
        self._engine.close()

    # -- endpoints: one line each; parameters and docs come from the schema table -------------

    completion = _Endpoint["_StreamingCall"]("completion")
    chat = _Endpoint["_StreamingCall"]("chat")
    create_model = _Endpoint["_StreamingCall"]("create_model")
    pull_model = _Endpoint["_StreamingCall"]("pull_model")
    push_model = _Endpoint["_StreamingCall"]("push_model")
    embed = _Endpoint["_JSONCall"]("embed")
    embeddings = _Endpoint["_JSONCall"]("embeddings")
    list_models = _Endpoint["_JSONCall"]("list_models")
    list_running = _Endpoint["_JSONCall"]("list_running")
    show_model = _Endpoint["_JSONCall"]("show_model")
    version = _Endpoint["_JSONCall"]("version")
    copy_model = _Endpoint["_BoolCall"]("copy_model")
    delete_model = _Endpoint["_BoolCall"]("delete_model")
    preload = _Endpoint["_BoolCall"]("preload")
    unload = _Endpoint["_BoolCall"]("unload")

    def check_blob(self, digest_or_data: str | bytes, *, timeout: TimeoutLike = _UNSET) -> bool:
        """Whether the server has a blob: give its ``sha256:`` digest, or the data itself."""
        if isinstance(digest_or_data, bytes | bytearray):
            name = blob_digest(bytes(digest_or_data))
        else:
            name = self._checked_digest("check_blob", digest_or_data)
        return self._fetch_bool("check_blob", "HEAD", f"/blobs/{name}", None, timeout)

    def create_blob(self, data: bytes, *, timeout: TimeoutLike = _UNSET) -> bool:
        """Upload a blob (named by its SHA-256, computed here); ``True`` once the server has it."""
        if not isinstance(data, bytes | bytearray):
            raise ValidationError(
                "create_blob", "data", f"must be bytes, not {type(data).__name__}"
            )
        data = bytes(data)
        path = f"/blobs/{blob_digest(data)}"
        return self._fetch_bool("create_blob", "POST", path, data, timeout)

    # -- the one request path -----------------------------------------------------------------

    def _call(
        self,
        name: str,
        /,
        *,
        stream: Any = False,
        timeout: Any = _UNSET,
        supervisor: ActorRef[Any] | None = None,
        retry: RetryPolicy | None = None,
        **params: Any,
    ) -> Any:
        """The one entry point of every endpoint (what ``client.<name>(...)`` calls)."""
        endpoint = ENDPOINTS[name]
        body = validate(endpoint, params)
        bounds = self._timeout(name, timeout)
        if not isinstance(stream, Recipient) or isinstance(stream, bool):
            for given, value in (("supervisor", supervisor), ("retry", retry)):
                if value is not None:
                    raise ValidationError(name, given, "applies only with stream=recipient")
        if stream is False:
            if endpoint.streams_by_default:
                body["stream"] = False
            if name == "unload":
                body["keep_alive"] = 0
            return self._fetch(endpoint, body, bounds)
        if endpoint.stream is None:
            raise ValidationError(name, "stream", "is not supported by this endpoint")
        body["stream"] = True
        request = self._request(
            endpoint.method, endpoint.path, _encode(name, body), bounds, _NDJSON
        )
        streaming = Streaming(self._engine, request, endpoint.stream, max_line=self.max_line)
        if stream is True:
            return streaming
        if isinstance(stream, Recipient):
            if supervisor is not None and not isinstance(supervisor, ActorRef):
                raise ValidationError(name, "supervisor", "must be a supervisor's ActorRef")
            if retry is not None and not isinstance(retry, RetryPolicy):
                raise ValidationError(name, "retry", "must be a RetryPolicy")
            return stream_to(streaming, stream, supervisor=supervisor, retry=retry or DEFAULT_RETRY)
        raise ValidationError(name, "stream", "must be True, False or a recipient with .tell()")

    def _fetch(self, endpoint: Endpoint, body: dict[str, Any], timeout: Timeout) -> Any:
        data = _encode(endpoint.name, body) if endpoint.method in ("POST", "DELETE") else None
        collector = self._run(self._request(endpoint.method, endpoint.path, data, timeout, _JSON))
        if endpoint.result == "bool":
            return _yes_or_no(collector)
        if collector.failure is not None:
            raise collector.failure
        result = collector.json()
        if isinstance(result, dict) and "error" in result:  # as a streamed {"error": ...} line
            raise ResponseError(str(result["error"]))
        return result

    def _fetch_bool(
        self, name: str, method: str, path: str, data: bytes | None, timeout: Any
    ) -> bool:
        request = self._request(method, path, data, self._timeout(name, timeout), _JSON, blob=True)
        return _yes_or_no(self._run(request))

    def _run(self, request: Request) -> BodyCollector:
        _refuse_loop_thread(f"{request.method} {request.path}")
        collector = BodyCollector(request.method, request.path, self.max_body)
        call = self._engine.start(request, collector)
        wait_or_cancel(collector.done, call.cancel)
        return collector

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        timeout: Timeout,
        accept: str,
        *,
        blob: bool = False,
    ) -> Request:
        headers = self._headers
        if body is not None:
            kind = "application/octet-stream" if blob else _JSON
            headers = [("Content-Type", kind), *headers]
        headers = [("Accept", accept), *headers]
        headers = _override(headers, self._user_headers)
        target = self._prefix + path
        data = encode_request(method, target, self._origin.host_header, headers, body)
        return Request(self._origin, method, target, data, timeout)

    def _timeout(self, name: str, timeout: Any) -> Timeout:
        if timeout is _UNSET:
            return self.timeout
        try:
            return Timeout.coerce(timeout)
        except (TypeError, ValueError) as exc:
            raise ValidationError(name, "timeout", str(exc)) from None

    def _checked_digest(self, name: str, value: Any) -> str:
        try:
            return str(digest(value, "digest"))
        except Exception as exc:
            problem = getattr(exc, "problem", str(exc))
            raise ValidationError(name, "digest", problem) from None


def _checked_headers(headers: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """The caller's headers, refused if they could break the request framing."""
    checked: list[tuple[str, str]] = []
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValidationError("Ollama", "headers", "names and values must be strings")
        if not name or any(c in name for c in "\r\n\0: \t") or any(c in value for c in "\r\n\0"):
            raise ValidationError("Ollama", "headers", f"has an invalid header {name!r}")
        checked.append((name, value))
    return checked


def _default_headers(api_key: str | None, user: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """User-Agent, and the Bearer token unless the caller sent its own Authorization."""
    defaults = [("User-Agent", _user_agent())]
    key = api_key if api_key is not None else os.environ.get("OLLAMA_API_KEY")
    if key and not any(name.lower() == "authorization" for name, _ in user):
        if any(c in key for c in "\r\n\0"):
            raise ValidationError("Ollama", "api_key", "contains a line break or NUL")
        defaults.append(("Authorization", _Secret(f"Bearer {key}")))
    return defaults


class _Secret(str):
    """A header value that is sent as is but shown as ``<hidden>`` in any repr."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<hidden>'"


def _override(
    defaults: list[tuple[str, str]], user: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """User headers replace defaults of the same name (case-insensitively)."""
    if not user:
        return defaults
    names = {name.lower() for name, _ in user}
    return [(n, v) for n, v in defaults if n.lower() not in names] + user


def _encode(name: str, body: dict[str, Any]) -> bytes:
    try:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise ValidationError(name, "parameters", f"cannot be encoded as JSON: {exc}") from None


def _yes_or_no(collector: BodyCollector) -> bool:
    """Yes/no endpoints: success is True, 404 is False, anything else raises."""
    failure = collector.failure
    if failure is None:
        return True
    if isinstance(failure, HTTPError) and failure.status == 404:
        return False
    raise failure
