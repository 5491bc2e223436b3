"""`Ollama`: the client. Each endpoint is a line or two over one request path.

Parameters are validated against `_schemas.ENDPOINTS` before anything is sent, requests are
encoded here and run by the `Engine` on the shared loop thread, and the calling thread waits
(bounded by the request's `Timeout`) for whole responses. ``stream=True`` returns a lazy
`Streaming`; ``stream=recipient`` runs it in a supervised `StreamWorker` and returns a
`StreamHandle`.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import io
import json
import os
import platform
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Generic, TypeVar, overload

import httpx
from pykka import ActorRef

import actors
from ollama_actor._engine import Engine, Origin, Request, Upload, replayable
from ollama_actor._error_body import hide_secrets
from ollama_actor._errors import HTTPError, ResponseError, ValidationError
from ollama_actor._handle import stream_to
from ollama_actor._host import parse_host, without_userinfo
from ollama_actor._http11 import (
    ACCEPT_ENCODING,
    encode_request,
    header_problem,
    shown_header_name,
)
from ollama_actor._ndjson import DEFAULT_MAX_LINE
from ollama_actor._proxy import Proxy, environment_proxy, parse_proxy
from ollama_actor._response import BodyCollector, wait_or_cancel
from ollama_actor._retry import DEFAULT_RETRY, RetryPolicy
from ollama_actor._schemas import ENDPOINTS, Endpoint, digest, validate
from ollama_actor._streaming import Direct, Streaming, _refuse_loop_thread
from ollama_actor._timeout import DEFAULT_TIMEOUT, Timeout, TimeoutLike

if TYPE_CHECKING:  # generated from the schemas; named by the endpoints' forward references
    from ollama_actor import _params  # noqa: F401

__all__ = [
    "CLOUD_URL",
    "DEFAULT_MAX_BODY",
    "Ollama",
    "base_url_of",
    "blob_digest",
    "checked_timeout",
    "constructor_signature",
]

DEFAULT_MAX_BODY = 256 * 1024 * 1024
CLOUD_URL = "https://ollama.com/api"
"""ollama.com's hosted API, where ``web_search`` and ``web_fetch`` go."""

_JSON = "application/json"
_NDJSON = "application/x-ndjson"
_FRAMING = ("content-length", "transfer-encoding", "connection")
_HASH_PIECE = 1024 * 1024

BlobSource = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO
"""What `Ollama.create_blob` uploads: the data, a file's path, or a binary file open for reading."""


def _user_agent() -> str:
    ours = actors.__version__
    machine, system = platform.machine(), platform.system().lower()
    return f"ollama-actor/{ours} ({machine} {system}) Python/{platform.python_version()}"


def blob_digest(data: bytes) -> str:
    """The digest Ollama names a blob by: ``sha256:`` and the lowercase hex SHA-256."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _file_digest(file: BinaryIO, start: int) -> tuple[str, int]:
    """The digest and size of a file from ``start`` on, read in pieces (memory stays flat)."""
    file.seek(start)
    sha = hashlib.sha256()
    size = 0
    while piece := file.read(_HASH_PIECE):
        sha.update(piece)
        size += len(piece)
    file.seek(start)
    return "sha256:" + sha.hexdigest(), size


def base_url_of(host: str | None) -> str:
    """The API's base URL for a host as `Ollama` takes it: ``OLLAMA_HOST``'s rules, and
    ``/api`` added to a URL without a path; ``None`` reads ``OLLAMA_HOST``."""
    if host is None:
        return parse_host(os.environ.get("OLLAMA_HOST")) + "/api"
    url = parse_host(host)
    return url + "/api" if url.count("/") == 2 else url


def _is_url_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)


def constructor_signature(cls: type[Any]) -> inspect.Signature:
    """What ``cls(...)`` takes, for `inspect.signature` and ``help()``: its ``__init__``'s
    parameters, since `Ollama.__new__` only picks the class (and takes anything)."""
    signature = inspect.signature(cls.__init__)
    parameters = list(signature.parameters.values())[1:]  # without self
    return signature.replace(parameters=parameters, return_annotation=inspect.Signature.empty)


class _Unset:
    def __repr__(self) -> str:
        return "<client default>"


_UNSET: Any = _Unset()


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
        call.__dict__["endpoint"] = ENDPOINTS[name]  # as a tool: tools=[client.web_search]
        return call


def _describe(endpoint: Endpoint) -> str:
    """A docstring from the schema: what it does, its route, its parameters."""
    base = CLOUD_URL if endpoint.hosted else "/api"
    lines = [f"{endpoint.doc} (``{endpoint.method} {base}{endpoint.path}``)", ""]
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
    """A client for one Ollama server (a list of URLs makes an `OllamaPool` of several).

    ``base_url`` is the API's URL (``http://host:11434/api``); a URL without a path gets
    ``/api`` added, and when it is omitted ``OLLAMA_HOST`` is read as the official client
    reads it (default ``http://127.0.0.1:11434``). ``api_key`` (or ``OLLAMA_API_KEY``) is sent
    as a Bearer token and never shown. ``headers`` are merged over the defaults: names must be
    tokens and values printable ASCII, checked here; ``Host`` replaces the default, a
    ``Content-Type`` is not sent with a body (whose type the client knows), and
    ``Content-Length``, ``Transfer-Encoding`` and ``Connection`` are refused (the client alone
    frames requests). ``timeout`` is seconds or a `Timeout`; each call may pass its own.
    ``max_line`` bounds one streamed line, ``max_body`` a whole response. ``verify`` controls
    TLS certificate checks (on by default; pass ``False`` or an `ssl.SSLContext` to change it).
    ``proxy`` sends every request through that HTTP proxy (``http://[user:pass@]host:port``);
    without it the environment's ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and
    ``NO_PROXY`` apply, as httpx applies them, except to loopback. ``trust_env=False`` ignores
    the environment's proxies and certificate settings. See docs/http.md. ``web_search`` and
    ``web_fetch`` go to ollama.com's hosted API, ``cloud_url``, with the API key.

    Methods block the calling thread, except that ``stream=True`` returns a `Streaming` that
    sends nothing until used. Close the client (or use it as a context manager) to cancel its
    running requests and close its connections.
    """

    __signature__: ClassVar[inspect.Signature]

    def __new__(
        cls, base_url: str | Sequence[str] | None = None, *args: Any, **kwargs: Any
    ) -> Ollama:
        """A sequence of URLs (``Ollama([url, url, ...])``) makes a pool: an `OllamaPool`."""
        if cls is Ollama and _is_url_list(base_url):
            from ollama_actor._pool_client import OllamaPool  # it imports this module

            return super().__new__(OllamaPool)
        return super().__new__(cls)

    def __init__(
        self,
        base_url: str | Sequence[str] | None = None,
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
    ) -> None:
        if base_url is not None and not isinstance(base_url, str):
            raise ValidationError(
                "Ollama", "base_url", f"must be a URL or a list of URLs, not {base_url!r:.80}"
            )
        url = base_url_of(base_url)
        parsed = _parse_url(url, "base_url")
        for name, value in (("max_line", max_line), ("max_body", max_body)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValidationError("Ollama", name, "must be a positive number of bytes")
        self.base_url = url
        self.cloud_url = cloud_url
        self.timeout = Timeout.coerce(timeout)
        self.max_line = max_line
        self.max_body = max_body
        connect = functools.partial(_origin, verify=verify, trust_env=trust_env, proxy=proxy)
        self._origin = connect(parsed)
        self._prefix = parsed.raw_path.decode("ascii").rstrip("/")
        self._user_headers, self._host = _checked_headers(headers, self._origin.host_header)
        self._headers = _default_headers(api_key, self._user_headers, self._origin)
        self._secrets = _secrets(self._headers + self._user_headers, self._origin)
        cloud, given = _parse_url(cloud_url, "cloud_url"), dict(headers or {})
        self._cloud = functools.cache(lambda: _Cloud.of(cloud, connect(cloud), api_key, given))
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

    # -- endpoints: one line each; parameters, docs and types come from the schema table ------

    completion = _Endpoint["_params.CompletionCall"]("completion")
    chat = _Endpoint["_params.ChatCall"]("chat")
    create_model = _Endpoint["_params.CreateModelCall"]("create_model")
    pull_model = _Endpoint["_params.PullModelCall"]("pull_model")
    push_model = _Endpoint["_params.PushModelCall"]("push_model")
    embed = _Endpoint["_params.EmbedCall"]("embed")
    embeddings = _Endpoint["_params.EmbeddingsCall"]("embeddings")
    list_models = _Endpoint["_params.ListModelsCall"]("list_models")
    list_running = _Endpoint["_params.ListRunningCall"]("list_running")
    show_model = _Endpoint["_params.ShowModelCall"]("show_model")
    version = _Endpoint["_params.VersionCall"]("version")
    web_search = _Endpoint["_params.WebSearchCall"]("web_search")
    web_fetch = _Endpoint["_params.WebFetchCall"]("web_fetch")
    copy_model = _Endpoint["_params.CopyModelCall"]("copy_model")
    delete_model = _Endpoint["_params.DeleteModelCall"]("delete_model")
    preload = _Endpoint["_params.PreloadCall"]("preload")
    unload = _Endpoint["_params.UnloadCall"]("unload")

    def check_blob(self, digest_or_data: str | bytes, *, timeout: TimeoutLike = _UNSET) -> bool:
        """Whether the server has a blob: give its ``sha256:`` digest, or the data itself."""
        if isinstance(digest_or_data, bytes | bytearray):
            name = blob_digest(bytes(digest_or_data))
        else:
            name = self._checked_digest("check_blob", digest_or_data)
        return self._fetch_bool("check_blob", "HEAD", f"/blobs/{name}", None, timeout)

    def create_blob(
        self,
        source: BlobSource,
        *,
        timeout: TimeoutLike = _UNSET,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> str:
        """Upload a blob and return its digest (``sha256:`` and the hex SHA-256, computed here).

        ``source`` is the data (bytes), a file's path, or a binary file open for reading (from
        its current position; it must be seekable: it is read once to hash it, then again to
        send it). A file is hashed and sent in pieces, with backpressure, so memory stays flat
        whatever its size. ``progress`` is called on this thread as the upload goes, with
        Ollama's progress shape: ``{"status": "copying file <digest>", "digest": ...,
        "total": size, "completed": sent}``. Blocks until the server answers; raises
        `HTTPError` if it refuses the blob, `ValidationError` for a source it cannot read.
        """
        bounds = self._timeout("create_blob", timeout)
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
            name = blob_digest(data)
            self._blob_request(name, data, None, bounds, progress)
            return name
        if isinstance(source, str | os.PathLike):
            try:
                file = open(source, "rb")  # noqa: SIM115 - closed by the with below
            except OSError as exc:
                raise ValidationError(
                    "create_blob", "source", f"cannot be read: {exc.strerror or exc}"
                ) from None
            with file:
                return self._upload_file(file, bounds, progress)
        if isinstance(source, io.IOBase) or hasattr(source, "read"):
            return self._upload_file(source, bounds, progress)
        raise ValidationError(
            "create_blob",
            "source",
            f"must be bytes, a path or a binary file, not {type(source).__name__}",
        )

    def _upload_file(
        self,
        file: BinaryIO,
        timeout: Timeout,
        progress: Callable[[dict[str, Any]], None] | None,
    ) -> str:
        try:
            if not file.seekable():
                raise ValidationError(
                    "create_blob", "source", "must be seekable: it is hashed before it is sent"
                )
            name, size = _file_digest(file, file.tell())
        except (OSError, TypeError, AttributeError) as exc:
            raise ValidationError(
                "create_blob", "source", f"cannot be read as a binary file: {exc}"
            ) from None

        def read(n: int) -> bytes:
            try:
                piece = file.read(n)
            except OSError as exc:
                raise ValidationError("create_blob", "source", f"cannot be read: {exc}") from None
            if not isinstance(piece, bytes):
                raise ValidationError("create_blob", "source", "must be opened in binary mode")
            return piece

        def report(sent: int) -> None:
            if progress is not None:
                status = f"copying file {name}"
                progress({"status": status, "digest": name, "total": size, "completed": sent})

        self._blob_request(name, None, Upload(read, size, report), timeout, progress)
        return name

    def _blob_request(
        self,
        name: str,
        data: bytes | None,
        upload: Upload | None,
        timeout: Timeout,
        progress: Callable[[dict[str, Any]], None] | None,
    ) -> None:
        """POST one blob; raises the server's refusal."""
        path = f"/blobs/{name}"
        request = self._request("POST", path, data, timeout, _JSON, blob=True, upload=upload)
        collector = self._run(request)
        if collector.failure is not None:
            raise collector.failure
        if progress is not None and upload is None and data is not None:
            size = len(data)
            status = f"copying file {name}"
            progress({"status": status, "digest": name, "total": size, "completed": size})

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
        if name == "create_model":
            params = self._upload_create_files(params, timeout)
        body = validate(endpoint, params)
        bounds = self._timeout(name, timeout)
        if type(stream).__name__ == "ActorHandle":  # a Ray actor: its methods are remote
            stream = _ray_recipient(stream)
        recipient = _is_recipient(stream)
        if not recipient or isinstance(stream, bool):
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
        streaming = self._stream(endpoint, body, bounds)
        if stream is True:
            return streaming
        if recipient:
            if supervisor is not None and not isinstance(supervisor, ActorRef):
                raise ValidationError(name, "supervisor", "must be a supervisor's ActorRef")
            if retry is not None and not isinstance(retry, RetryPolicy):
                raise ValidationError(name, "retry", "must be a RetryPolicy")
            return stream_to(streaming, stream, supervisor=supervisor, retry=retry or DEFAULT_RETRY)
        raise ValidationError(name, "stream", "must be True, False or a recipient with .tell()")

    def _stream(self, endpoint: Endpoint, body: dict[str, Any], timeout: Timeout) -> Streaming:
        """The `Streaming` of a request with ``stream: true`` (nothing is sent yet)."""
        assert endpoint.stream is not None, "an endpoint that streams"
        data = _encode(endpoint.name, body)
        request = self._request(endpoint.method, endpoint.path, data, timeout, _NDJSON)
        model = body.get("model")
        return Streaming(
            Direct(self._engine, request),
            endpoint.stream,
            max_line=self.max_line,
            model=model if isinstance(model, str) else None,
        )

    def _fetch(self, endpoint: Endpoint, body: dict[str, Any], timeout: Timeout) -> Any:
        data = _encode(endpoint.name, body) if endpoint.method in ("POST", "DELETE") else None
        route = self._cloud().checked(endpoint.name) if endpoint.hosted else None
        request = self._request(endpoint.method, endpoint.path, data, timeout, _JSON, route=route)
        return _answer(endpoint, self._run(request))

    def _fetch_bool(
        self, name: str, method: str, path: str, data: bytes | None, timeout: Any
    ) -> bool:
        request = self._request(method, path, data, self._timeout(name, timeout), _JSON, blob=True)
        return _yes_or_no(self._run(request))

    def _upload_create_files(self, params: dict[str, Any], timeout: Any) -> dict[str, Any]:
        """``create_model(files=...)``/``adapters=...``: upload each local source, send digests.

        A value that is a digest string is sent as is; bytes, a path (`os.PathLike`) or a
        binary file is uploaded first with `create_blob`, on this thread.
        """
        out = dict(params)
        for key in ("files", "adapters", "draft_files"):
            files = params.get(key)
            if not isinstance(files, Mapping):
                continue
            out[key] = {
                name: value if isinstance(value, str) else self.create_blob(value, timeout=timeout)
                for name, value in files.items()
            }
        return out

    def _run(self, request: Request) -> BodyCollector:
        _refuse_loop_thread(f"{request.method} {request.path}")
        collector = BodyCollector(request.method, request.path, self.max_body, request.secrets)
        call = self._engine.start(request, collector)
        if request.upload is not None:
            call.send_upload()
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
        upload: Upload | None = None,
        route: _Cloud | None = None,
    ) -> Request:
        """The request, to the server, or to the hosted API by ``route``."""
        origin, prefix, host = self._origin, self._prefix, self._host
        headers = [("Accept", accept), *self._headers]
        user = self._user_headers
        if route is not None:
            origin, prefix, host = route.origin, route.prefix, route.origin.host_header
            headers = [("Accept", accept), *route.headers]
            user = route.user_headers
        if body is not None or upload is not None:
            kind = "application/octet-stream" if blob else _JSON
            headers.insert(0, ("Content-Type", kind))
            # The body's type is the client's to say: a caller's Content-Type (ollama-python
            # users pass one) must not relabel the JSON it wrote.
            user = [(n, v) for n, v in user if n.lower() != "content-type"]
        headers = _override(headers, user)
        path = prefix + path
        size = upload.size if upload is not None else None
        target = origin.target(path)
        data = encode_request(method, target, host, headers, body, content_length=size)
        again = replayable(method, (name for name, _ in headers))
        secrets = self._secrets if route is None else route.secrets
        return Request(origin, method, path, data, timeout, again, upload, secrets)

    def _timeout(self, name: str, timeout: Any) -> Timeout:
        if timeout is _UNSET:
            return self.timeout
        return checked_timeout(name, timeout)

    def _checked_digest(self, name: str, value: Any) -> str:
        try:
            return str(digest(value, "digest"))
        except Exception as exc:
            problem = getattr(exc, "problem", str(exc))
            raise ValidationError(name, "digest", problem) from None


Ollama.__signature__ = constructor_signature(Ollama)


def _parse_url(url: str, name: str) -> httpx.URL:
    """``url`` parsed, or a `ValidationError` naming the argument (without any credentials)."""
    try:
        parsed = httpx.URL(url)
        parsed.raw_host.decode("ascii")  # IDNA: nothing but ASCII on the wire
    except (httpx.InvalidURL, UnicodeError, ValueError, TypeError) as exc:
        problem = without_userinfo(str(exc))
        raise ValidationError("Ollama", name, f"is not a valid URL: {problem}") from None
    if parsed.scheme not in ("http", "https"):
        raise ValidationError("Ollama", name, f"must be http or https, not {url!r}")
    return parsed


def _origin(
    parsed: httpx.URL, *, verify: bool | ssl.SSLContext, trust_env: bool, proxy: str | None
) -> Origin:
    """Where requests to ``parsed`` go: its host and port, TLS, and the proxy on the way."""
    https = parsed.scheme == "https"
    context = httpx.create_ssl_context(verify=verify, trust_env=trust_env) if https else None
    host = parsed.raw_host.decode("ascii")
    host = host if ":" not in host else f"[{host}]"
    port = parsed.port or (443 if https else 80)
    chosen = _choose_proxy(
        proxy, trust_env=trust_env, verify=verify, scheme=parsed.scheme, host=host, port=port
    )
    return Origin(parsed.scheme, host, port, context, chosen)


@dataclass(frozen=True)
class _Cloud:
    """The route to ollama.com's hosted API (``web_search``, ``web_fetch``): its origin, path
    prefix, and headers. The credentials are the server's, as ollama-python sends them: the
    caller's Authorization header, else the API key (``api_key`` or ``OLLAMA_API_KEY``) as a
    Bearer token. The caller's other headers go too, but ``Host``, which names the server."""

    origin: Origin
    prefix: str
    headers: list[tuple[str, str]]
    user_headers: list[tuple[str, str]]
    secrets: tuple[str, ...]  # hidden in its errors (see `_secrets`)

    @classmethod
    def of(
        cls,
        parsed: httpx.URL,
        origin: Origin,
        api_key: str | None,
        headers: Mapping[str, str] | None,
    ) -> _Cloud:
        user, _host = _checked_headers(headers, origin.host_header)
        defaults = _default_headers(api_key, user, origin)
        prefix = parsed.raw_path.decode("ascii").rstrip("/")
        return cls(origin, prefix, defaults, user, _secrets(defaults + user, origin))

    def checked(self, endpoint: str) -> _Cloud:
        """Itself, if it has a key to send; raises `ValidationError` (before any I/O) if not."""
        if not any(name.lower() == "authorization" for name, _ in self.headers + self.user_headers):
            raise ValidationError(
                endpoint,
                "api_key",
                "is required by ollama.com's hosted API: set OLLAMA_API_KEY, pass "
                "Ollama(api_key=...) or an Authorization header",
            )
        return self


def _choose_proxy(
    proxy: str | None,
    *,
    trust_env: bool,
    verify: bool | ssl.SSLContext,
    scheme: str,
    host: str,
    port: int,
) -> Proxy | None:
    """``proxy=`` if given, else the environment's proxy for this origin (see `_proxy`)."""
    if proxy is not None:
        return parse_proxy(proxy, verify, trust_env)
    if not trust_env:
        return None
    url = environment_proxy(scheme, host, port, os.environ)
    return None if url is None else parse_proxy(url, verify, trust_env)


def _checked_headers(
    headers: Mapping[str, str] | None, default_host: str
) -> tuple[list[tuple[str, str]], str]:
    """The caller's headers, and the Host to send; refused if they could break the framing.

    Errors name the header and never quote its value (it may be a secret).
    """
    checked: list[tuple[str, str]] = []
    host = default_host
    if headers is not None and not isinstance(headers, Mapping):
        raise ValidationError("Ollama", "headers", "must be a mapping of names to values")
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValidationError("Ollama", "headers", "names and values must be strings")
        shown = shown_header_name(name)
        problem = header_problem(name, value)
        if problem is not None:
            raise ValidationError("Ollama", "headers", f"{shown} {problem}")
        if name.lower() in _FRAMING:
            raise ValidationError(
                "Ollama", "headers", f"{shown} frames the request, so the client alone writes it"
            )
        if name.lower() == "host":
            host = value.strip(" \t")
            if not host:
                raise ValidationError("Ollama", "headers", f"{shown} is empty")
        elif name.lower() in ("authorization", "proxy-authorization"):
            checked.append((name, _Secret(value.strip(" \t"))))
        else:
            checked.append((name, value.strip(" \t")))
    return checked, host


def _default_headers(
    api_key: str | None, user: list[tuple[str, str]], origin: Origin
) -> list[tuple[str, str]]:
    """User-Agent, Accept-Encoding, the Bearer token unless the caller sent its own
    Authorization, and the proxy's credentials when requests go to it in absolute form."""
    defaults = [("User-Agent", _user_agent()), ("Accept-Encoding", ACCEPT_ENCODING)]
    key = api_key if api_key is not None else os.environ.get("OLLAMA_API_KEY")
    if key and not any(name.lower() == "authorization" for name, _ in user):
        if not isinstance(key, str) or header_problem("Authorization", f"Bearer {key}"):
            raise ValidationError(
                "Ollama", "api_key", "has a character that cannot be sent in a header"
            )
        defaults.append(("Authorization", _Secret(f"Bearer {key}")))
    proxy = origin.proxy
    if proxy is not None and proxy.authorization is not None and origin.scheme == "http":
        defaults.append(("Proxy-Authorization", _Secret(proxy.authorization)))
    return defaults


def _secrets(headers: list[tuple[str, str]], origin: Origin) -> tuple[str, ...]:
    """What no error may show: each hidden header value, the proxy's credentials, and each
    of these without its scheme (``Bearer``, ``Basic``), longest first; as they are and as a
    repr shows them."""
    values = [str.__str__(value) for _, value in headers if isinstance(value, _Secret)]
    if origin.proxy is not None and origin.proxy.authorization is not None:
        values.append(origin.proxy.authorization)
    found = set(values) | {value.partition(" ")[2].strip(" \t") for value in values}
    found |= {repr(secret)[1:-1] for secret in found}
    chosen = sorted((secret for secret in found if len(secret) >= 4), key=len, reverse=True)
    return tuple(_Secret(secret) for secret in chosen)


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


def _is_recipient(value: object) -> bool:
    """``isinstance(value, actors.Recipient)`` as the runtime-checkable protocol answers it (a
    ``tell`` on the class, or on the instance, that is not None), without typing's protocol
    check: ~18 us a call on Python 3.11, which every ``stream=recipient`` call paid twice."""
    on_class = getattr(type(value), "tell", None)
    return on_class is not None or getattr(value, "tell", None) is not None


def _ray_recipient(value: Any) -> Any:
    """A Ray actor handle as a `RayRecipient` (method ``tell``); anything else unchanged.
    Ray is imported only when a value looks like one of its handles."""
    if type(value).__module__ != "ray.actor":
        return value
    from ollama_actor.ray import RayRecipient

    return RayRecipient(value)


def _encode(name: str, body: dict[str, Any]) -> bytes:
    try:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise ValidationError(name, "parameters", f"cannot be encoded as JSON: {exc}") from None


def _answer(endpoint: Endpoint, collector: BodyCollector) -> Any:
    """What an endpoint returns for a whole response: the decoded JSON (or yes/no), or raise."""
    if endpoint.result == "bool":
        return _yes_or_no(collector)
    if collector.failure is not None:
        raise collector.failure
    result = collector.json()
    if isinstance(result, dict) and "error" in result:  # as a streamed {"error": ...} line
        raise hide_secrets(ResponseError(str(result["error"])), collector.secrets)
    return result


def _yes_or_no(collector: BodyCollector) -> bool:
    """Yes/no endpoints: success is True, 404 is False, anything else raises."""
    failure = collector.failure
    if failure is None:
        return True
    if isinstance(failure, HTTPError) and failure.status == 404:
        return False
    raise failure


def checked_timeout(name: str, timeout: Any) -> Timeout:
    """The ``timeout=`` of a call to endpoint ``name`` as a `Timeout`; `ValidationError` if it
    is not one (seconds, a `Timeout` or None)."""
    try:
        return Timeout.coerce(timeout)
    except (TypeError, ValueError) as exc:
        raise ValidationError(name, "timeout", str(exc)) from None
