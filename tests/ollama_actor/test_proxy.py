"""Proxies, through a real forward proxy (tests/ollama_actor/forward_proxy.py) and real TLS.

The emulator is reached under the name ``ollama.internal``, which only the proxy can resolve: a
request that did not go through the proxy fails to connect, so each test proves the route.
"""

from __future__ import annotations

import base64
import ssl
import time
from contextlib import ExitStack

import pytest
import trustme

from ollama_actor import ConnectError, HTTPError, Ollama, ProtocolError, Timeout
from ollama_actor._proxy import environment_proxy
from ollama_actor.emulator import expected_tokens
from tests.ollama_actor.forward_proxy import ForwardProxy
from tests.ollama_actor.rawserver import RawServer

BOUNDS = Timeout(connect=5, read=10, total=30)
NAME = "ollama.internal"  # a name Ollama (and the emulator) takes as local
PROXY_VARS = [
    f"{name}{suffix}" for name in ("http", "https", "all", "no") for suffix in ("_proxy", "_PROXY")
]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in PROXY_VARS + [n.upper() for n in PROXY_VARS] + ["REQUEST_METHOD"]:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def client_tls(ca):
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def server_tls(ca, *names):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


@pytest.fixture
def route(emu, ca):
    """``route(origin_scheme, proxy_scheme, credentials)``: (base URL, proxy); closed after."""
    stack = ExitStack()

    def make(origin_scheme, proxy_scheme, credentials=None):
        target = ("127.0.0.1", emu.port)
        if origin_scheme == "https":
            front = ForwardProxy(front=target, ssl_context=server_tls(ca, NAME))
            stack.enter_context(front)
            target = ("127.0.0.1", front.port)
        proxy_context = server_tls(ca, "127.0.0.1") if proxy_scheme == "https" else None
        proxy = ForwardProxy(
            names={NAME: target}, credentials=credentials, ssl_context=proxy_context
        )
        stack.enter_context(proxy)
        return f"{origin_scheme}://{NAME}:{target[1]}", proxy

    with stack:
        yield make


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("credentials", [None, ("alice", "s3cr:t@/x")])
@pytest.mark.parametrize("proxy_scheme", ["http", "https"])
@pytest.mark.parametrize("origin_scheme", ["http", "https"])
def test_the_proxy_matrix(route, emu, client_tls, origin_scheme, proxy_scheme, *, credentials):
    base, proxy = route(origin_scheme, proxy_scheme, credentials)
    quoted = None
    if credentials:
        user, password = credentials
        quoted = proxy.url(
            user, password.replace(":", "%3A").replace("@", "%40").replace("/", "%2F")
        )
    with Ollama(base, proxy=quoted or proxy.url(), verify=client_tls, timeout=BOUNDS) as client:
        assert client.version()["version"]
        chunks = list(client.completion(model="llama3.2", prompt="hi", stream=True))
        assert [c["response"] for c in chunks if not c["done"]] == expected_tokens("llama3.2", "hi")
    port = base.rsplit(":", 1)[1]
    if origin_scheme == "http":  # absolute form, one request per proxy connection here
        assert [(s.method, s.target) for s in proxy.seen] == [
            ("GET", f"http://{NAME}:{port}/api/version"),
            ("POST", f"http://{NAME}:{port}/api/generate"),
        ]
    else:  # one CONNECT, the TLS tunnel kept alive for both requests
        assert [(s.method, s.target) for s in proxy.seen] == [("CONNECT", f"{NAME}:{port}")]
    for seen in proxy.seen:
        assert seen.headers["host"] == f"{NAME}:{port}"
        assert seen.headers.get("proxy-authorization") == (
            basic(*credentials) if credentials else None
        )
    assert [r.path for r in emu.requests] == ["/api/version", "/api/generate"]
    assert all("proxy-authorization" not in r.headers for r in emu.requests)


@pytest.mark.parametrize(
    ("variables", "origin_scheme"),
    [
        ({"HTTP_PROXY": "{proxy}"}, "http"),
        ({"http_proxy": "{proxy}", "HTTP_PROXY": "http://127.0.0.1:9"}, "http"),
        ({"HTTPS_PROXY": "{proxy}"}, "https"),
        ({"https_proxy": "{proxy}"}, "https"),
        ({"ALL_PROXY": "{proxy}"}, "http"),
        ({"all_proxy": "{proxy}", "HTTP_PROXY": ""}, "https"),
        ({"HTTP_PROXY": "{bare}"}, "http"),  # no scheme: http://
    ],
)
def test_the_environment_names_the_proxy(route, client_tls, monkeypatch, variables, origin_scheme):
    base, proxy = route(origin_scheme, "http")
    for name, value in variables.items():
        monkeypatch.setenv(name, value.format(proxy=proxy.url(), bare=proxy.url()[7:]))
    with Ollama(base, verify=client_tls, timeout=BOUNDS) as client:
        assert client.version()["version"]
    assert len(proxy.seen) == 1


def test_under_cgi_upper_case_http_proxy_is_ignored(route, monkeypatch):
    base, proxy = route("http", "http")
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    monkeypatch.setenv("REQUEST_METHOD", "GET")  # httpoxy: a client could have set it
    with Ollama(base, timeout=BOUNDS) as client, pytest.raises(ConnectError, match=NAME):
        client.version()
    assert proxy.seen == []


@pytest.mark.parametrize(
    "no_proxy", ["ollama.internal", ".internal", "*", "OLLAMA.INTERNAL , other"]
)
def test_no_proxy_goes_direct(route, monkeypatch, no_proxy):
    base, proxy = route("http", "http")
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    monkeypatch.setenv("NO_PROXY", no_proxy)
    with Ollama(base, timeout=BOUNDS) as client, pytest.raises(ConnectError, match=NAME):
        client.version()  # direct: the name does not resolve
    assert proxy.seen == []


def test_trust_env_false_ignores_the_environment(route, monkeypatch):
    base, proxy = route("http", "http")
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    with (
        Ollama(base, timeout=BOUNDS, trust_env=False) as client,
        pytest.raises(ConnectError, match=NAME),
    ):
        client.version()
    assert proxy.seen == []


def test_loopback_is_never_proxied_from_the_environment(emu, monkeypatch):
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url())
        monkeypatch.setenv("ALL_PROXY", proxy.url())
        for base in (emu.base_url, f"http://localhost:{emu.port}"):
            with Ollama(base, timeout=BOUNDS) as client:
                assert client.version()["version"]
        assert proxy.seen == []
        with Ollama(emu.base_url, timeout=BOUNDS, proxy=proxy.url()) as client:
            assert client.version()["version"]  # an explicit proxy= takes loopback too
        assert [s.method for s in proxy.seen] == ["GET"]


@pytest.mark.parametrize("origin_scheme", ["http", "https"])
def test_wrong_proxy_credentials_are_reported_without_them(route, client_tls, origin_scheme):
    base, proxy = route(origin_scheme, "http", ("alice", "right"))
    url = proxy.url("alice", "WRONG-PASSWORD")
    with Ollama(base, proxy=url, verify=client_tls, timeout=BOUNDS) as client:
        if origin_scheme == "http":
            with pytest.raises(HTTPError) as info:
                client.version()
            assert info.value.status == 407
        else:
            with pytest.raises(ConnectError, match=r"refused to CONNECT.*407") as info:
                client.version()
        assert "WRONG-PASSWORD" not in str(info.value) + repr(info.value) + repr(client)
        assert "WRONG-PASSWORD" not in repr(client._origin)


def test_a_refused_connect_is_a_connect_error(emu, client_tls):
    with ForwardProxy(refuse_connect=True) as proxy:
        base = f"https://{NAME}:443"
        with (
            Ollama(base, proxy=proxy.url(), verify=client_tls, timeout=BOUNDS) as client,
            pytest.raises(
                ConnectError, match=r"refused to CONNECT to ollama\.internal:443: 403"
            ) as info,
        ):
            client.version()
    assert str(info.value).startswith("the proxy ")  # said once, not wrapped as an OSError


def test_an_unreachable_proxy_is_named_without_credentials():
    with (
        Ollama("http://ollama.test", proxy="http://bob:HUSH@127.0.0.1:9", timeout=BOUNDS) as client,
        pytest.raises(ConnectError, match=r"the proxy http://127\.0\.0\.1:9") as info,
    ):
        client.version()
    assert "HUSH" not in str(info.value)


@pytest.mark.parametrize(
    "url", ["socks5://127.0.0.1:1080", "ftp://p", "http://", "http://u:SECRET@h:port"]
)
def test_a_bad_proxy_url_is_a_validation_error_without_credentials(url):
    with pytest.raises(Exception) as info:  # noqa: PT011 - the type is checked below
        Ollama("http://h", proxy=url)
    assert type(info.value).__name__ == "ValidationError"
    assert info.value.field == "proxy"
    assert "SECRET" not in str(info.value)


def test_an_upload_goes_through_the_proxy_too(route, client_tls, tmp_path):
    base, proxy = route("https", "http")
    blob = tmp_path / "weights.bin"
    blob.write_bytes(b"w" * (3 << 20))
    with Ollama(base, proxy=proxy.url(), verify=client_tls, timeout=BOUNDS) as client:
        digest = client.create_blob(blob)
        assert client.check_blob(digest) is True


NO_PROXY_CASES = [
    # (host, port, NO_PROXY, goes direct)
    ("ollama.test", 80, "ollama.test", True),
    ("a.ollama.test", 80, "ollama.test", True),
    ("xollama.test", 80, "ollama.test", False),
    ("ollama.test", 80, ".ollama.test", False),
    ("a.ollama.test", 80, ".ollama.test", True),
    ("a.ollama.test", 80, "*.ollama.test", True),
    ("anything", 80, "*", True),
    ("ollama.test", 80, "  OLLAMA.test  ,x", True),
    ("ollama.test", 8080, "ollama.test:8080", True),
    ("ollama.test", 80, "ollama.test:8080", False),
    ("10.1.2.3", 80, "10.0.0.0/8", True),
    ("11.1.2.3", 80, "10.0.0.0/8", False),
    ("192.168.1.5", 80, "192.168.1.5", True),
    ("192.168.1.6", 80, "192.168.1.5", False),
    ("[2001:db8::1]", 80, "2001:db8::/32", True),
    ("[2001:db8::1]", 443, "[2001:db8::1]:443", True),
    ("[2001:db9::1]", 80, "2001:db8::/32", False),
    ("ollama.test", 80, "", False),
    ("ollama.test", 80, ",,", False),
    ("ollama.test", 80, "ollama.test.", True),  # a trailing dot, on either side, is the same name
    ("ollama.test.", 80, "ollama.test", True),
    ("a.ollama.test", 80, ".ollama.test.", True),
    ("ollama.test", 80, ".", False),
    # loopback never goes through a proxy from the environment
    ("localhost", 80, "", True),
    ("api.localhost", 80, "", True),
    ("127.0.0.2", 80, "", True),
    ("[::1]", 80, "", True),
    ("[::ffff:127.0.0.1]", 80, "", True),  # IPv4-mapped loopback (Go's IsLoopback says yes)
    ("localhost.", 80, "", True),
]


@pytest.mark.parametrize(("host", "port", "no_proxy", "direct"), NO_PROXY_CASES)
def test_no_proxy_rules(host, port, no_proxy, direct):
    environ = {"HTTP_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy}
    chosen = environment_proxy("http", host, port, environ)
    assert chosen == (None if direct else "http://proxy:3128")
    lower = {"http_proxy": "http://proxy:3128", "no_proxy": no_proxy}
    assert environment_proxy("http", host, port, lower) == chosen


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 Connection established\r\n\r\nnot TLS",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n\x16\x03\x01",
    ],
)
def test_bytes_after_a_granted_connect_end_the_call_at_once(answer):
    """TLS has the client speak first, so nothing may follow the proxy's 2xx: bytes that do are
    a `ProtocolError` at once, not dropped to leave the handshake waiting for the connect bound."""
    with (
        RawServer(lambda r: [answer, 30.0]) as proxy,
        Ollama(
            "https://ollama.test", proxy=proxy.url, timeout=Timeout(connect=20, read=20)
        ) as client,
    ):
        started = time.monotonic()
        with pytest.raises(ProtocolError, match="after its 2xx answer to CONNECT"):
            client.version()
        assert time.monotonic() - started < 10
    assert [r.method for r in proxy.requests] == ["CONNECT"]


@pytest.mark.parametrize(
    ("environ", "proxied"),
    [
        ({"http_proxy": "", "HTTP_PROXY": "http://proxy:3128"}, False),  # lower case unsets
        ({"no_proxy": "", "NO_PROXY": "ollama.test", "HTTP_PROXY": "http://proxy:3128"}, True),
        ({"http_proxy": "http://proxy:3128", "HTTP_PROXY": ""}, True),
        ({"all_proxy": "", "ALL_PROXY": "http://proxy:3128"}, False),
    ],
)
def test_an_empty_lower_case_variable_wins_as_in_httpx(environ, proxied):
    """urllib's and so httpx's reading: a lower-case variable set, even to nothing, is the one
    that counts (an empty ``http_proxy`` turns off an inherited ``HTTP_PROXY``)."""
    chosen = environment_proxy("http", "ollama.test", 80, environ)
    assert chosen == ("http://proxy:3128" if proxied else None)
