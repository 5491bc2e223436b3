"""Turning ``OLLAMA_HOST`` (or a host argument) into a base URL, as the official client does.

The rules follow ollama-python's ``_parse_host`` and pass its test vectors. Where that function
is known to go wrong, Ollama's Go server is followed instead: surrounding spaces and quotes are
trimmed, the scheme is case-insensitive, a bare IPv6 address needs no brackets, a bind-all
address (``0.0.0.0``, ``::``) means this machine, and a bare ``ollama.com`` means its HTTPS API.
"""

from __future__ import annotations

import ipaddress
import urllib.parse

from ollama_actor._errors import ValidationError

__all__ = ["AT_AFTER_HOST", "DEFAULT_PORT", "at_after_host", "parse_host", "without_userinfo"]

DEFAULT_PORT = 11434
AT_AFTER_HOST = (
    "has an '@' after its host: a password holding '/', '?' or '#' must be percent-encoded"
)
_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def parse_host(value: str | None) -> str:
    """Return ``scheme://host:port[/path]`` for a host string such as ``OLLAMA_HOST``.

    ``None`` or an empty string gives ``http://127.0.0.1:11434``. Credentials in the URL
    (``user:password@``) are dropped, as the official client drops them. Raises
    `ValidationError` for a port that is not a number, an address that cannot be parsed (an
    unclosed ``[``), or an ``@`` after the host (see `at_after_host`), quoting the value
    without credentials.
    """
    text = (value or "").strip().strip("\"'").strip()
    if text.lower() == "ollama.com":
        return "https://ollama.com:443"
    port = DEFAULT_PORT
    scheme, sep, hostport = text.partition("://")
    if not sep:
        scheme, hostport = "http", text
    else:
        scheme = scheme.lower()
        port = {"http": 80, "https": 443}.get(scheme, DEFAULT_PORT)
    shown = without_userinfo(text)
    if at_after_host(hostport):
        raise ValidationError("Ollama", "host", f"{AT_AFTER_HOST}: {shown!r}")
    hostport = _bracket_bare_ipv6(hostport)
    # Errors are raised outside the `except` blocks: the parser's own message would ride along
    # as __context__, and the "port" it quotes may be part of a password.
    split = _urlsplit(f"{scheme}://{hostport}")
    if split is None:
        raise ValidationError(
            "Ollama", "host", f"is not a valid address: {shown!r} (Invalid IPv6 URL)"
        )
    given = _port(split, port)
    if given is None:
        raise ValidationError("Ollama", "host", f"has a port that is not a number: {shown!r}")
    host = split.hostname or "127.0.0.1"
    host = _LOOPBACK.get(host, host)
    if _is_ipv6(host):
        host = f"[{host}]"
    path = split.path.strip("/")
    return f"{scheme}://{host}:{given}/{path}" if path else f"{scheme}://{host}:{given}"


def without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` removed, for quoting it in a message or a log.

    Everything up to the last ``@`` after the scheme goes: a password may hold any character,
    so this errs on the side of cutting too much of a URL that has ``@`` in its path.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    at = rest.rfind("@")
    return url if at < 0 else f"{scheme}{sep}{rest[at + 1 :]}"


def at_after_host(url: str) -> bool:
    """Whether an ``@`` comes after where the host ends (the first ``/``, ``?`` or ``#``).

    That is a password holding one of those characters unencoded (``user:pa/ss@host``): every
    URL parser reads ``user`` as the host and the password as a port or a path, to be shown in
    errors and reprs. Such a URL is refused instead.
    """
    rest = url.partition("://")[2] if "://" in url else url
    ends = [at for at in (rest.find(mark) for mark in "/?#") if at >= 0]
    return "@" in rest[min(ends, default=len(rest)) :]


def _urlsplit(url: str) -> urllib.parse.SplitResult | None:
    try:
        return urllib.parse.urlsplit(url)
    except ValueError:  # "Invalid IPv6 URL"
        return None


def _port(split: urllib.parse.SplitResult, default: int) -> int | None:
    try:
        return split.port or default
    except ValueError:
        return None


def _is_ipv6(host: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address)
    except ValueError:
        return False


def _bracket_bare_ipv6(hostport: str) -> str:
    """``::1`` or ``::1/path`` becomes ``[::1]``; anything else is left alone."""
    host, slash, path = hostport.partition("/")
    if _is_ipv6(host):
        return f"[{host}]{slash}{path}"
    return hostport
