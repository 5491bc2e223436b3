"""The request writer: the engine alone frames requests; no secret in any error, log or repr.

Covers issue 12's client findings: framing headers from ``headers=`` (1), the API key inside an
exception and non-ASCII on the wire (2), URL userinfo in errors (5), control characters and
non-token names in headers (6), and the rule that no exception, message, log line or repr
carries the API key or URL credentials, whatever fails.
"""

from __future__ import annotations

import base64
import json
import logging
import string
import subprocess
import sys
import traceback

import pytest

from ollama_actor import Ollama, OllamaError, Timeout, ValidationError
from tests.ollama_actor.forward_proxy import ForwardProxy
from tests.ollama_actor.rawserver import CLOSE, RawServer, response

BOUNDS = Timeout(connect=3, read=3, total=10)
VERSION = response(b'{"version":"1"}')


def lines_of(request, name):
    return [value for key, value in request.raw_headers if key.lower() == name]


@pytest.mark.parametrize(
    "name", ["Content-Length", "content-length", "Transfer-Encoding", "CONNECTION"]
)
def test_framing_headers_are_refused_naming_the_header(name):
    with pytest.raises(ValidationError) as info:
        Ollama("http://h", headers={name: "0"})
    assert info.value.field == "headers"
    assert repr(name) in str(info.value)


def test_a_callers_host_replaces_the_default_with_one_line():
    with (
        RawServer(lambda r: [VERSION]) as server,
        Ollama(server.url, headers={"hOST": "ollama.internal"}, timeout=BOUNDS) as client,
    ):
        client.version()
        client.show_model(model="m")
    for request in server.requests:
        assert lines_of(request, "host") == ["ollama.internal"]
        assert len(lines_of(request, "content-length")) <= 1
        assert lines_of(request, "transfer-encoding") == []


def test_one_content_length_and_the_engines_own():
    with (
        RawServer(lambda r: [response(b'{"model":"m"}')]) as server,
        Ollama(server.url, headers={"X-Extra": "1"}, timeout=BOUNDS) as client,
    ):
        client.show_model(model="m")
    (request,) = server.requests
    assert lines_of(request, "content-length") == [str(len(request.body))]
    assert lines_of(request, "host") == [f"127.0.0.1:{server.port}"]


SECRET_VALUE = "Café ☕ s3cr3t"


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"X-User": SECRET_VALUE}, "outside ASCII"),
        ({"X-User": "é-s3cr3t"}, "outside ASCII"),
        ({"X-A": "a\x0bs3cr3t"}, "control character"),  # VT
        ({"X-A": "a\x0cs3cr3t"}, "control character"),  # FF
        ({"X-A": "a\x1bs3cr3t"}, "control character"),  # ESC
        ({"X-A": "a\x7fs3cr3t"}, "control character"),  # DEL
        ({"X-A": "a\x00s3cr3t"}, "control character"),
        ({"X-A": "a\r\nX-Injected: s3cr3t"}, "control character"),
        ({"X(Y)": "s3cr3t"}, "not a valid header name"),
        ({"X Y": "s3cr3t"}, "not a valid header name"),
        ({"": "s3cr3t"}, "not a valid header name"),
        ({"Naïve": "s3cr3t"}, "not a valid header name"),
    ],
)
def test_headers_are_checked_when_the_client_is_built(headers, problem):
    with pytest.raises(ValidationError, match=problem) as info:
        Ollama("http://h", headers=headers)
    assert "s3cr3t" not in str(info.value) + repr(info.value.args)


@pytest.mark.parametrize(
    "name",
    [
        "Authorization: Bearer sk-s3cr3t",  # a whole header line passed as the name
        "Authorization=Bearer sk-s3cr3t",
        "Bearer sk-s3cr3t",
        "X-Key\ts3cr3t",
    ],
)
def test_a_bad_header_name_is_shown_only_up_to_where_it_goes_wrong(name):
    """A name that is not a token is often a whole header line, secret included: the error
    names the valid start and the character that is not allowed, never what follows."""
    with pytest.raises(ValidationError, match="not a valid header name") as info:
        Ollama("http://h", headers={name: "x"})
    assert "s3cr3t" not in all_text(info.value)
    start = name[: len(name) - len(name.lstrip("-!#$%&'*+.^_`|~" + string.ascii_letters))]
    assert repr(start) in str(info.value)


def test_a_callers_authorization_header_is_sent_and_never_shown():
    headers = {"Authorization": "Bearer HDR-SECRET", "Proxy-Authorization": "Basic PRX-SECRET"}
    with (
        RawServer(lambda r: [VERSION]) as server,
        Ollama(server.url, headers=headers, api_key="KEY-SECRET", timeout=BOUNDS) as client,
    ):
        client.version()
        shown = repr(client) + repr(vars(client)) + str(vars(client))
    assert "SECRET" not in shown
    (request,) = server.requests
    assert lines_of(request, "authorization") == ["Bearer HDR-SECRET"]  # the caller's wins
    assert lines_of(request, "proxy-authorization") == ["Basic PRX-SECRET"]


def test_a_tab_inside_a_value_is_allowed():
    with (
        RawServer(lambda r: [VERSION]) as server,
        Ollama(server.url, headers={"X-A": "a\tb c"}, timeout=BOUNDS) as client,
    ):
        client.version()
    assert lines_of(server.requests[0], "x-a") == ["a\tb c"]


@pytest.mark.parametrize("key", ["Café ☕", "k\x1bey", "k\r\ney"])
def test_an_api_key_that_cannot_be_sent_is_refused_without_showing_it(key):
    with pytest.raises(ValidationError, match="api_key") as info:
        Ollama("http://h", api_key=key)
    assert key not in str(info.value)


def test_a_non_ascii_host_goes_out_idna_encoded():
    """No DNS needed: the raw server stands as the proxy and sees exactly what was sent."""
    with (
        RawServer(lambda r: [VERSION]) as server,
        Ollama("http://例え.jp:11434", proxy=server.url, timeout=BOUNDS) as client,
    ):
        client.version()
    (request,) = server.requests
    assert request.target == "http://xn--r8jz45g.jp:11434/api/version"
    assert lines_of(request, "host") == ["xn--r8jz45g.jp:11434"]
    assert request.head.isascii()


@pytest.mark.parametrize(
    "url",
    [
        "http://alice:PASSWORD@host:notaport",
        "alice:PASSWORD@host:notaport",
        "http://alice:PASS/WORD@host:notaport",
        "http://alice:PASSWORD@[::1",
    ],
)
def test_url_userinfo_never_reaches_a_validation_error(url):
    with pytest.raises(ValidationError) as info:
        Ollama(url)
    text = str(info.value) + repr(info.value.args) + repr(vars(info.value))
    assert "PASSWORD" not in text
    assert "PASS" not in text


def test_url_userinfo_never_reaches_the_clis_error_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ollama_actor.cli", "--host", "http://alice:PASSWORD@h:x", "list"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: --host")
    assert "PASSWORD" not in result.stdout + result.stderr


def test_url_userinfo_is_dropped_from_the_client_and_its_requests():
    with RawServer(lambda r: [VERSION]) as server:
        url = f"http://alice:PASSWORD@127.0.0.1:{server.port}"
        with Ollama(url, timeout=BOUNDS) as client:
            assert "PASSWORD" not in repr(client) + client.base_url + repr(vars(client))
            client.version()
    assert b"PASSWORD" not in server.requests[0].head


def all_text(exc: BaseException) -> str:
    """Everything an error tracker could record of an exception, its chain included."""
    parts = ["".join(traceback.format_exception(exc))]
    seen = exc
    while seen is not None:
        parts += [str(seen), repr(seen), repr(seen.args), repr(getattr(seen, "__dict__", {}))]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def test_no_failure_shows_the_api_key_or_any_credentials(caplog):
    key = "sk-" + "k3y" * 8
    proxy_password = "PrOxYpAsS"
    url_password = "UrLpAsS"
    texts: list[str] = []

    def attempt(make, call=lambda c: c.version()):
        try:
            with make() as client:
                texts.append(repr(client) + repr(vars(client)) + repr(client._origin))
                call(client)
        except (OllamaError, ValueError) as exc:
            texts.append(all_text(exc))

    def misbehave(request):
        if request.target.endswith("/api/version"):
            return [b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n"]
        if request.target.endswith("/api/tags"):
            return [b"garbage\r\n\r\n"]
        if request.target.endswith("/api/ps"):
            return [CLOSE]
        return [response(b'{"error":"nope"}', "500 Internal Server Error")]

    with (
        caplog.at_level(logging.DEBUG),
        RawServer(misbehave) as server,
        ForwardProxy(credentials=("u", "right")) as proxy,
    ):
        for call in (
            lambda c: c.version(),
            lambda c: c.list_models(),
            lambda c: c.list_running(),
            lambda c: c.show_model(model="m"),
            lambda c: list(c.chat(model="m", messages=[], stream=True)),
            lambda c: c.create_blob(b"x"),
        ):
            attempt(lambda: Ollama(server.url, api_key=key, timeout=BOUNDS), call)
        bad_proxy = proxy.url("u", proxy_password)
        attempt(lambda: Ollama("http://ollama.test", api_key=key, proxy=bad_proxy))
        attempt(lambda: Ollama("https://ollama.test", api_key=key, proxy=bad_proxy))
        attempt(lambda: Ollama(f"http://a:{url_password}@127.0.0.1:9", api_key=key))
        attempt(lambda: Ollama(f"http://a:{url_password}@h:port", api_key=key))
        attempt(lambda: Ollama("http://h", api_key=key, proxy=f"socks5://u:{proxy_password}@p"))
        attempt(lambda: Ollama("http://h", api_key=key, headers={"X": "é"}))
        attempt(lambda: Ollama("http://127.0.0.1:9", api_key=key, timeout=0.5, proxy=bad_proxy))
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append("".join(traceback.format_exception(*record.exc_info)))
    assert len(texts) >= 14
    assert [r.headers for r in server.requests if r.headers.get("authorization")]  # it was sent
    for secret in (key, proxy_password, url_password):
        assert not [t for t in texts if secret in t], secret


SLASHED = [
    # a password with "/", "?" or "#" left unencoded: every URL parser takes "a" for the host
    # and the password, or its start, for the port or the path
    "http://a:SeCrEt/x@h:11434",
    "http://a:SeCrEt?x@h:11434",
    "http://a:SeCrEt#x@h:11434",
    "http://a:12/SeCrEt@h:11434",
    "a:SeCrEt/x@h",
]


@pytest.mark.parametrize("url", SLASHED)
@pytest.mark.parametrize("where", ["base_url", "proxy", "HTTP_PROXY"])
def test_a_password_with_a_slash_never_reaches_an_error_or_the_client(url, where, monkeypatch):
    """Refused, naming the problem, and the password is nowhere: not in the message, not in
    the exception the error was raised while handling, not in the client had it been built."""
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    if where == "base_url":
        make = lambda: Ollama(url)  # noqa: E731
    elif where == "proxy":
        make = lambda: Ollama("http://ollama.test", proxy=url)  # noqa: E731
    else:
        monkeypatch.setenv("HTTP_PROXY", url)
        make = lambda: Ollama("http://ollama.test")  # noqa: E731
    with pytest.raises(ValidationError, match="percent-encoded") as info:
        make()
    assert "SeCrEt" not in all_text(info.value)
    assert info.value.__context__ is None


@pytest.mark.parametrize("url", ["http://a:SeCrEt@h:notaport", "http://a:SeCrEt@[::1"])
def test_no_credentials_in_the_exception_a_bad_url_was_raised_from(url):
    for make in (lambda: Ollama(url), lambda: Ollama("http://h", proxy=url)):
        with pytest.raises(ValidationError) as info:
            make()
        assert "SeCrEt" not in all_text(info.value)
        assert info.value.__context__ is None


def echo_the_head(request):
    """A server (a debugging proxy, an echo endpoint, some error pages) that quotes the request
    it got, credentials included, in its answer: as an error, an error line, or not JSON."""
    head = request.head.decode("latin-1")
    credentials = " ".join(line for line in head.split("\r\n") if "Authorization" in line)
    if request.target.endswith("/api/version"):
        return [response(json.dumps({"error": head}).encode(), "400 Bad Request")]
    if request.target.endswith("/api/tags"):
        return [response(json.dumps({"error": head}).encode())]  # a whole 200 {"error": ...}
    if request.target.endswith("/api/ps"):
        return [response(credentials.encode())]  # not JSON: its start is quoted
    if request.target.endswith("/api/show"):
        return [
            response(head.encode(), "500 Internal Server Error", "Content-Type: text/plain\r\n")
        ]
    if request.target.endswith("/api/chat"):  # a streamed error line
        return [response(json.dumps({"error": head}).encode() + b"\n")]
    return [response(credentials.encode() + b"\n")]  # a streamed line that is not JSON


def test_credentials_a_server_echoes_back_are_hidden_in_the_error():
    key, header, proxy_password = "sk-EcHoKeY1", "Bearer HdRsEcReT", "PxYpAsS9"
    calls = {
        "version": lambda c: c.version(),
        "list": lambda c: c.list_models(),
        "ps": lambda c: c.list_running(),
        "show": lambda c: c.show_model(model="m"),
        "chat": lambda c: list(c.chat(model="m", messages=[], stream=True)),
        "generate": lambda c: list(c.completion(model="m", prompt="x", stream=True)),
    }
    with RawServer(echo_the_head) as server:
        clients = {
            "api_key": Ollama(server.url, api_key=key, timeout=BOUNDS),
            "header": Ollama(server.url, headers={"Authorization": header}, timeout=BOUNDS),
            # the raw server stands as the proxy: it gets the requests in absolute form
            "proxy": Ollama(
                "http://ollama.test", proxy=f"http://u:{proxy_password}@127.0.0.1:{server.port}"
            ),
        }
        secrets = (key, "HdRsEcReT", base64.b64encode(f"u:{proxy_password}".encode()).decode())
        for who, client in clients.items():
            with client:
                for name, call in calls.items():
                    with pytest.raises(OllamaError) as info:
                        call(client)
                    text = all_text(info.value)
                    assert "<hidden>" in text, (who, name, text)
                    assert not [s for s in secrets if s in text], (who, name, text)
