"""Who may talk to the emulator: Ollama's two middlewares, applied to every path before routing.

A web page can make a browser send requests to a server on the user's machine. Ollama refuses
two kinds, and so does the emulator (its ``/_emulator/`` control API included, which would
otherwise let any page program faults and, after DNS rebinding, read the request log):

- **CORS** (gin-contrib/cors 1.7): a request whose ``Origin`` is neither the server's own
  (``http://`` or ``https://`` plus the ``Host`` header) nor on the allow-list gets 403 with no
  body. The allow-list is ``OLLAMA_ORIGINS`` (comma-separated; one ``*`` per entry is a wildcard)
  followed by ``http(s)://localhost``, ``127.0.0.1`` and ``0.0.0.0`` (with any port) and the
  ``app://``, ``file://``, ``tauri://``, ``vscode-webview://`` and ``vscode-file://`` schemes. An
  allowed cross-origin request gets ``Access-Control-Allow-Origin``; its ``OPTIONS`` preflight is
  answered 204 at once.
- **Allowed hosts**, only while listening on a loopback address (DNS rebinding): a ``Host`` that
  is not local gets 403 with no body. Local means a loopback, private or unspecified IP,
  ``localhost``, the machine's host name, or a name ending in ``.localhost``, ``.local`` or
  ``.internal``. An ``OPTIONS`` request to a local host name gets 204. ollama.com's hosted
  routes (``/api/web_search``, ``/api/web_fetch``), which the emulator also answers, are exempt:
  ollama.com is reached by its own name.

Ollama's own quirks are kept: the ``Origin`` is compared as sent (the allow-list is lower-cased),
a wildcard matches by prefix and suffix, and ``[::1]`` without a port is not a local host. One
rule is left out: Ollama also takes the public addresses of the machine's interfaces as local,
which only a client that forges its ``Host`` can send to a server listening on loopback.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Sequence

from ._http import Request
from ._reply import Reply, empty

_DEFAULT_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0")
_DEFAULT_SCHEMES = ("app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*")
_SCHEMES = (
    "http://",
    "https://",
    "chrome-extension://",
    "safari-extension://",
    "moz-extension://",
    "ms-browser-extension://",
)
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal")
HOSTED_PATHS = frozenset(("/api/web_search", "/api/web_fetch"))
"""ollama.com's routes, which the emulator also answers: reached by the name ollama.com, they
are not a local server's, so the ``Host`` check (a local server's guard) does not apply."""
_ALLOW_HEADERS = (
    "Authorization", "Content-Type", "User-Agent", "Accept", "X-Requested-With", "OpenAI-Beta",
    "x-stainless-arch", "x-stainless-async", "x-stainless-custom-poll-interval",
    "x-stainless-helper-method", "x-stainless-lang", "x-stainless-os",
    "x-stainless-package-version", "x-stainless-poll-helper", "x-stainless-retry-count",
    "x-stainless-runtime", "x-stainless-runtime-version", "x-stainless-timeout",
)  # fmt: skip
_PREFLIGHT = (
    ("Access-Control-Allow-Headers", ",".join(h.lower().title() for h in _ALLOW_HEADERS)),
    ("Access-Control-Allow-Methods", "GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS"),
    ("Access-Control-Max-Age", "43200"),
)
_VARY = ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")

Headers = list[tuple[str, str]]


def allowed_origins(extra: Sequence[str]) -> list[str]:
    """Ollama's ``envconfig.AllowedOrigins()``: the ``OLLAMA_ORIGINS`` entries, then the defaults.

    Raises ValueError for an entry Ollama refuses to start with (it would panic).
    """
    origins = list(extra)
    for host in _DEFAULT_HOSTS:
        for scheme in ("http", "https"):
            origins += [f"{scheme}://{host}", f"{scheme}://{host}:*"]
    origins += _DEFAULT_SCHEMES
    for origin in origins:
        if origin.count("*") > 1:
            raise ValueError(f"OLLAMA_ORIGINS entry {origin!r}: only one * is allowed")
        if "*" not in origin and not origin.startswith(_SCHEMES):
            raise ValueError(
                f"OLLAMA_ORIGINS entry {origin!r}: bad origin: origins must contain '*' or "
                f"include {','.join(_SCHEMES)}"
            )
    return origins


def split_origins(text: str | None) -> list[str]:
    """``OLLAMA_ORIGINS`` as Ollama reads it: trimmed of spaces and quotes, split at commas."""
    text = (text or "").strip().strip("\"'")
    return text.split(",") if text else []


class Access:
    """Decides, before routing, whether a request is refused and which CORS headers it gets."""

    def __init__(self, origins: Sequence[str]) -> None:
        """``origins``: the ``OLLAMA_ORIGINS`` entries; raises ValueError where Ollama would."""
        allowed = allowed_origins(origins)
        self._all = "*" in allowed
        self._exact = frozenset(origin.strip().lower() for origin in allowed)
        self._wildcards = [_wildcard(origin) for origin in allowed if "*" in origin]
        self.loopback = True
        """Whether the server listens on a loopback address (then ``Host`` is checked)."""

    def check(self, request: Request) -> tuple[Reply | None, Headers]:
        """(a refusal or preflight answer, else None; the CORS headers any answer to it gets)."""
        host = request.host
        origin = request.header("origin")
        headers: Headers = []
        if origin and origin not in (f"http://{host}", f"https://{host}"):
            if not self._origin_allowed(origin):
                return empty(403), headers
            if request.method == "OPTIONS":
                preflight = empty(204)
                preflight.headers = [*_PREFLIGHT, *(("Vary", v) for v in _VARY if not self._all)]
                preflight.headers.append(self._allow_origin(origin))
                return preflight, headers
            if not self._all:
                headers.append(("Vary", "Origin"))
            headers.append(self._allow_origin(origin))
        if self.loopback and request.path not in HOSTED_PATHS:
            local, named = _local_host(host)
            if not local:
                return empty(403), headers
            if request.method == "OPTIONS" and named:
                return empty(204), headers
        return None, headers

    def _allow_origin(self, origin: str) -> tuple[str, str]:
        return ("Access-Control-Allow-Origin", "*" if self._all else origin)

    def _origin_allowed(self, origin: str) -> bool:
        if self._all or origin in self._exact:
            return True
        for prefix, suffix in self._wildcards:
            if prefix == "*" and origin.endswith(suffix):
                return True
            if suffix == "*" and origin.startswith(prefix):
                return True
            if origin.startswith(prefix) and origin.endswith(suffix):
                return True
        return False


def _wildcard(origin: str) -> tuple[str, str]:
    """gin-contrib/cors's rule for an origin with a ``*``: (prefix, suffix), ``*`` for open."""
    i = origin.index("*")
    if i == 0:
        return "*", origin[1:]
    if i == len(origin) - 1:
        return origin[:i], "*"
    return origin[:i], origin[i + 1 :]


@functools.lru_cache(maxsize=256)
def _local_host(host: str) -> tuple[bool, bool]:
    """(whether a ``Host`` header is local, whether it is so by name rather than by address)."""
    name = _host_name(host)
    if _local_ip(name):
        return True, False
    return _local_name(name), True


def _host_name(host: str) -> str:
    """The host of a ``Host`` header as Go's ``net.SplitHostPort`` gives it, or all of it."""
    colon = host.rfind(":")
    if colon < 0:
        return host
    start, after = 0, 0  # no '[' may come from start on, no ']' from after on
    if host.startswith("["):
        end = host.find("]")
        if end < 0 or end + 1 != colon:
            return host
        name, start, after = host[1:end], 1, end + 1
    else:
        name = host[:colon]
        if ":" in name:
            return host
    if "[" in host[start:] or "]" in host[after:]:
        return host
    return name


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


_PRIVATE = [
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
]


def _local_ip(name: str) -> bool:
    """A loopback, private or unspecified IP address, as Go's ``netip.Addr`` methods say.

    ``IsLoopback`` and ``IsPrivate`` look through an IPv4-mapped address (``::ffff:a.b.c.d``);
    ``IsUnspecified`` does not, and takes no zoned address either.
    """
    address = _ip(name)
    if address is None:
        return False
    unspecified = address.is_unspecified and getattr(address, "scope_id", None) is None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    private = any(address in net for net in _PRIVATE if net.version == address.version)
    return address.is_loopback or unspecified or private


def _local_name(name: str) -> bool:
    name = name.lower()
    return name in ("", "localhost", socket.gethostname().lower()) or name.endswith(_LOCAL_SUFFIXES)
