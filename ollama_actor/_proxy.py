"""Which proxy a request goes through: ``proxy=``, or the environment as httpx and Go read it.

- ``proxy=URL`` sends every request through that proxy, loopback included.
- Otherwise, unless ``trust_env=False``: ``http_proxy``/``HTTP_PROXY`` for http origins,
  ``https_proxy``/``HTTPS_PROXY`` for https ones, else ``all_proxy``/``ALL_PROXY``; the lower-case
  name wins when both are set, even set empty (as httpx and urllib read them). ``HTTP_PROXY``
  in upper case is ignored under CGI (``REQUEST_METHOD`` set), where a client could set it
  through a ``Proxy:`` request header ("httpoxy"). ``no_proxy``/``NO_PROXY`` lists the hosts
  reached directly: ``*`` (all), host names (the name and its subdomains; a leading dot, its
  subdomains only), IP addresses and CIDR networks, each optionally with ``:port``. Loopback
  (``localhost``, ``*.localhost``, 127.0.0.0/8, ``::1``, ``::ffff:127.0.0.1``) is never proxied
  from the environment (Go's rule).

A proxy URL without a scheme is ``http://``. Credentials in it (``http://user:pass@proxy:3128``)
are sent as ``Proxy-Authorization: Basic ...`` and never shown: the `Proxy`'s repr and every
error quote the URL without them.
"""

from __future__ import annotations

import base64
import ipaddress
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from ollama_actor._errors import ValidationError
from ollama_actor._host import AT_AFTER_HOST, at_after_host, without_userinfo

__all__ = ["Proxy", "environment_proxy", "parse_proxy"]


@dataclass(frozen=True, slots=True)
class Proxy:
    """An HTTP proxy: http origins go through it in absolute form, https ones through CONNECT."""

    scheme: str
    host: str  # as sent on the wire: IDNA, IPv6 in brackets
    port: int
    authorization: str | None = field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    @property
    def url(self) -> str:
        """The proxy's URL, without credentials."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"Proxy({self.url!r})"


def parse_proxy(url: str, verify: bool | ssl.SSLContext = True, trust_env: bool = True) -> Proxy:
    """A `Proxy` from its URL; `ValidationError` (quoting the URL without credentials) if bad."""
    if not isinstance(url, str):
        raise ValidationError("Ollama", "proxy", f"must be a URL string, not {type(url).__name__}")
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    shown = without_userinfo(text)
    if at_after_host(text):
        raise ValidationError("Ollama", "proxy", f"{AT_AFTER_HOST}: {shown!r}")
    parsed = _url(text)
    if parsed is None:  # raised here, not while handling httpx's error, which may quote it
        raise ValidationError("Ollama", "proxy", f"is not a valid URL: {shown!r}")
    if parsed.scheme not in ("http", "https"):
        raise ValidationError(
            "Ollama", "proxy", f"must be an http:// or https:// proxy, not {shown!r}"
        )
    if not parsed.host:
        raise ValidationError("Ollama", "proxy", f"has no host: {shown!r}")
    host = parsed.raw_host.decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    authorization = None
    if parsed.userinfo:
        user, _, password = parsed.userinfo.decode("ascii").partition(":")
        pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    context = None
    if parsed.scheme == "https":
        context = httpx.create_ssl_context(verify=verify, trust_env=trust_env)
    return Proxy(parsed.scheme, host, port, authorization, context)


def _url(text: str) -> httpx.URL | None:
    try:
        return httpx.URL(text)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None


def environment_proxy(scheme: str, host: str, port: int, environ: Mapping[str, str]) -> str | None:
    """The proxy URL the environment names for an origin, or ``None`` to connect directly."""
    if _is_loopback(host):
        return None
    if _bypassed(host, port, _env(environ, "no_proxy") or ""):
        return None
    url = _env(environ, f"{scheme}_proxy") or _env(environ, "all_proxy")
    return url or None


def _env(environ: Mapping[str, str], name: str) -> str | None:
    """The lower-case variable if set, even empty (it then turns the other off, as urllib and
    httpx read it), else the upper-case one."""
    if name in environ:
        return environ[name] or None
    if name == "http_proxy" and "REQUEST_METHOD" in environ:
        return None  # httpoxy: under CGI, HTTP_PROXY may come from a request's Proxy header
    return environ.get(name.upper()) or None


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    ip = _ip(host)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too, as Go's IsLoopback says
    return ip is not None and ip.is_loopback


def _bypassed(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` names this host (and port)."""
    name = host.lower().rstrip(".")
    ip = _ip(host)
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry, entry_port = _split_port(entry)
        entry = entry.rstrip(".")  # "example.com." is "example.com", as for the host
        if not entry or (entry_port is not None and entry_port != port):
            continue
        if ip is not None:
            try:
                if ip in ipaddress.ip_network(entry.strip("[]"), strict=False):
                    return True
            except ValueError:
                pass
            continue
        if entry.startswith("*."):
            entry = entry[1:]
        if entry.startswith("."):
            if name.endswith(entry):
                return True
        elif name == entry or name.endswith("." + entry):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    """``host:port`` or ``[v6]:port`` into its parts; a bare IPv6 address keeps its colons."""
    if entry.startswith("["):
        inside, _, after = entry[1:].partition("]")
        port = after[1:] if after.startswith(":") else ""
        return inside, int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        if port.isdigit():
            return name, int(port)
    return entry, None
