"""`Guard`: who may use the chat page, checked before the app sees a request.

The page runs on the user's machine and spends their model; any web page they visit can make
their browser talk to it. Two checks stop that, as Ollama's own server does:

- **Host** (DNS rebinding): an attacker's name that resolves to 127.0.0.1 would make the page
  theirs, same-origin. Only loopback names (``localhost``, ``*.localhost``, 127.0.0.0/8, ``::1``)
  and the names the server was told it is served as are answered; any other ``Host`` gets 403.
- **Origin** (cross-site WebSocket hijacking): browsers let any page open a WebSocket anywhere,
  cookies or not. ``/ws`` accepts only a handshake whose ``Origin`` is the page's own, the scheme
  and ``Host`` it was served with; anything else, a missing ``Origin`` included, gets 403.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["Guard", "host_name"]

FORBIDDEN = b"forbidden: this page answers only its own host names and its own origin\n"


class Guard:
    """ASGI middleware: 403 for a foreign ``Host``, or a WebSocket from a foreign ``Origin``."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str] = ()) -> None:
        """``hosts``: names (or addresses) the page is served as, besides the loopback ones."""
        self.app = app
        self.hosts = frozenset(host_name(host) for host in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value for key, value in scope["headers"]}
        host = headers.get("host", b"").decode("latin-1")
        allowed = self.allowed(host)
        if allowed and scope["type"] == "websocket":
            scheme = "https" if scope.get("scheme") == "wss" else "http"
            origin = headers.get("origin", b"").decode("latin-1")
            allowed = origin.lower() == f"{scheme}://{host}".lower()
        if allowed:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": FORBIDDEN})

    def allowed(self, host: str) -> bool:
        """Whether a ``Host`` header names this page: a loopback name, or one it is served as."""
        name = host_name(host)
        if name == "localhost" or name.endswith(".localhost") or name in self.hosts:
            return True
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False


def host_name(host: str) -> str:
    """The name in a ``Host`` header (or an address), lower-cased, without port or brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        address, _, port = host[1:].partition("]")
        return address if port in ("", ":") or (port[0] == ":" and port[1:].isdigit()) else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host  # a name without a port, or a bare IPv6 address
