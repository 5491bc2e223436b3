"""Ollama's Origin (CORS) and Host (DNS rebinding) rules, for every path, control API included.

Without them any web page could program the emulator's faults with a ``text/plain`` POST (a
"simple" request the browser sends without asking), and a page served under a rebound host name
could read its request log, ``Authorization`` headers included. The rules and their quirks follow
Ollama's ``GenerateRoutes`` (gin-contrib/cors 1.7.2) and ``allowedHostsMiddleware``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from ollama_actor.emulator import Emulator, EmulatorProcess, cut
from ollama_actor.emulator._access import split_origins
from tests.browser import chromium, page_reply
from tests.reliability.test_secure_defaults import tiny_server

from .wire import connect, exchange, read_response

EVIL = "http://evil.example"
PREFLIGHT_HEADERS = (
    "Authorization,Content-Type,User-Agent,Accept,X-Requested-With,Openai-Beta,"
    "X-Stainless-Arch,X-Stainless-Async,X-Stainless-Custom-Poll-Interval,"
    "X-Stainless-Helper-Method,X-Stainless-Lang,X-Stainless-Os,X-Stainless-Package-Version,"
    "X-Stainless-Poll-Helper,X-Stainless-Retry-Count,X-Stainless-Runtime,"
    "X-Stainless-Runtime-Version,X-Stainless-Timeout"
)
FAULT = {"fault": cut(after=0).to_json(), "path": "/api/tags", "times": 1}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/", None),
        ("GET", "/api/tags", None),
        ("POST", "/api/chat", {"model": "llama3.2", "messages": []}),
        ("GET", "/no/such/route", None),
        ("POST", "/_emulator/faults", FAULT),
        ("GET", "/_emulator/requests", None),
        ("PUT", "/_emulator/pacing", {"token_rate": 1}),
    ],
)
def test_a_foreign_origin_gets_403_with_no_body(ollama_emulator, method, path, body):
    headers = {"Origin": EVIL, "Content-Type": "text/plain"}
    response = exchange(ollama_emulator.port, method, path, body, headers=headers)
    assert response.status == 403
    assert response.body == b""
    assert response.header_names == ["Date", "Content-Length"]
    assert response.header("Content-Length") == "0"
    # nothing was changed: no fault programmed, pacing as it was
    assert exchange(ollama_emulator.port, "GET", "/api/tags").status == 200
    assert exchange(ollama_emulator.port, "GET", "/_emulator/pacing").json()["token_rate"] is None


def test_a_foreign_page_cannot_program_faults_from_a_browser(ollama_emulator):
    """A page on another site POSTs ``text/plain`` to the control API, as an attacker would."""
    attack = f"""<script>
      fetch("{ollama_emulator.url}/_emulator/faults", {{method: "POST", mode: "no-cors",
        headers: {{"Content-Type": "text/plain"}}, body: {json.dumps(json.dumps(FAULT))}}})
        .then(() => document.title = "sent", () => document.title = "sent");
    </script>"""
    with tiny_server(lambda head: page_reply(attack)) as (port, _), chromium() as browser:
        page = browser.new_page()
        page.goto(f"http://attacker.test:{port}/")
        page.wait_for_function("document.title === 'sent'", timeout=15_000)
    refused = ollama_emulator.requests  # control requests are not logged; nothing else came
    assert refused == []
    assert exchange(ollama_emulator.port, "GET", "/api/tags").status == 200  # no cut programmed


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost",
        "https://localhost:3000",
        "http://127.0.0.1:8080",
        "http://0.0.0.0:1",
        "app://anything",
        "file://",
        "tauri://localhost",
        "vscode-webview://abc",
        "vscode-file://vscode-app",
    ],
)
def test_default_allowed_origins_get_cors_headers(ollama_emulator, origin):
    response = exchange(ollama_emulator.port, "GET", "/api/version", headers={"Origin": origin})
    assert response.status == 200
    assert response.headers[:3] == [
        ("Access-Control-Allow-Origin", origin),
        ("Content-Type", "application/json; charset=utf-8"),
        ("Vary", "Origin"),
    ]
    assert response.header_names[3:] == ["Date", "Content-Length"]


def test_the_servers_own_origin_is_not_a_cross_origin_request(ollama_emulator):
    own = f"http://127.0.0.1:{ollama_emulator.port}"
    response = exchange(ollama_emulator.port, "GET", "/api/version", headers={"Origin": own})
    assert response.status == 200
    assert response.header("Access-Control-Allow-Origin") is None


def test_an_allowed_preflight_is_answered_204_at_once(ollama_emulator):
    headers = {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}
    response = exchange(ollama_emulator.port, "OPTIONS", "/api/chat", headers=headers)
    assert response.status == 204
    assert response.headers[:7] == [
        ("Access-Control-Allow-Headers", PREFLIGHT_HEADERS),
        ("Access-Control-Allow-Methods", "GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS"),
        ("Access-Control-Allow-Origin", "http://localhost:5173"),
        ("Access-Control-Max-Age", "43200"),
        ("Vary", "Origin"),
        ("Vary", "Access-Control-Request-Method"),
        ("Vary", "Access-Control-Request-Headers"),
    ]
    assert response.header_names[7:] == ["Date"]  # no Content-Length on a 204


def test_ollama_origins_entries_extend_the_allow_list():
    origins = ["https://app.example.com", "https://*.trusted.dev", "chrome-extension://abc"]
    with Emulator(origins=origins) as emulator:

        def status(origin):
            return exchange(emulator.port, "GET", "/", headers={"Origin": origin}).status

        assert status("https://app.example.com") == 200
        assert status("https://a.b.trusted.dev") == 200
        assert status("chrome-extension://abc") == 200
        assert status("https://trusted.dev.evil.com") == 403
        assert status("https://app.example.com.evil.com") == 403
        assert status("http://localhost:1234") == 200  # the defaults stay
        assert status("null") == 403


def test_a_star_allows_every_origin_with_a_star_header():
    with Emulator(origins=["*"]) as emulator:
        response = exchange(emulator.port, "GET", "/api/version", headers={"Origin": EVIL})
    assert response.status == 200
    assert response.header("Access-Control-Allow-Origin") == "*"
    assert response.header("Vary") is None


@pytest.mark.parametrize(
    ("origins", "message"),
    [
        (["evil.example"], r"bad origin: origins must contain '\*' or include http://,https://"),
        ([" http://spaced.example"], "bad origin"),
        (["http://*.a.*"], r"only one \* is allowed"),
    ],
)
def test_an_entry_ollama_refuses_to_start_with_is_an_error(origins, message):
    with pytest.raises(ValueError, match=message):
        Emulator(origins=origins)


def test_ollama_origins_is_read_as_ollama_reads_it():
    assert split_origins(' "http://a.example,https://*.b.example" ') == [
        "http://a.example",
        "https://*.b.example",
    ]
    assert split_origins("") == []
    assert split_origins(None) == []


def test_the_command_takes_ollama_origins_from_the_environment():
    env = {**os.environ, "OLLAMA_ORIGINS": "http://from-env.example"}
    command = [sys.executable, "-m", "ollama_actor.emulator", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True) as process:
        try:
            line = process.stdout.readline()
            port = int(line.rsplit(":", 1)[1])
            origin = {"Origin": "http://from-env.example"}
            assert exchange(port, "GET", "/", headers=origin).status == 200
            assert exchange(port, "GET", "/", headers={"Origin": EVIL}).status == 403
        finally:
            process.terminate()
            process.wait(10)
    bad = subprocess.run(
        [*command, "--origins", "evil.example"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert bad.returncode == 2
    assert "error: OLLAMA_ORIGINS entry 'evil.example': bad origin" in bad.stderr


def test_a_process_emulator_applies_its_origins():
    with EmulatorProcess(origins=["http://mine.example"]) as emulator:
        mine = exchange(emulator.port, "GET", "/", headers={"Origin": "http://mine.example"})
        evil = exchange(emulator.port, "GET", "/_emulator/requests", headers={"Origin": EVIL})
        assert (mine.status, evil.status) == (200, 403)
        assert [r.path for r in emulator.requests] == ["/"]


LOCAL_HOSTS = [
    "127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "localhost", "[::1]:{port}", "::1",
    "127.8.9.10", "10.1.2.3:80", "172.16.0.1", "192.168.1.20:{port}", "0.0.0.0", "[fd00::1]:1",
    "[::ffff:127.0.0.1]:1", "app.localhost", "printer.local:631", "svc.internal", "",
    socket.gethostname(),
]  # fmt: skip
FOREIGN_HOSTS = [
    "evil.example", "evil.example:{port}", "8.8.8.8", "[2001:db8::1]:1", "localhost.evil.example",
    "[::1]", "172.32.0.1", "local", "evil.localhost.example",
]  # fmt: skip


@pytest.mark.parametrize("host", LOCAL_HOSTS)
def test_local_host_names_are_served(ollama_emulator, host):
    headers = {"Host": host.format(port=ollama_emulator.port)}
    assert exchange(ollama_emulator.port, "GET", "/api/tags", headers=headers).status == 200


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
@pytest.mark.parametrize("path", ["/", "/api/tags", "/_emulator/requests"])
def test_a_foreign_host_gets_403_with_no_body(ollama_emulator, host, path):
    headers = {"Host": host.format(port=ollama_emulator.port)}
    response = exchange(ollama_emulator.port, "GET", path, headers=headers)
    assert response.status == 403
    assert response.body == b""


def test_a_rebound_page_cannot_read_the_request_log(ollama_emulator):
    """The page is served under a foreign name that resolves to the emulator (DNS rebinding)."""
    exchange(ollama_emulator.port, "GET", "/api/tags", headers={"Authorization": "Bearer sk-1"})
    url = f"http://rebound.test:{ollama_emulator.port}/_emulator/requests"
    with chromium() as browser:
        page = browser.new_page()
        statuses = []
        page.on("response", lambda response: statuses.append(response.status))
        try:
            read = page.goto(url).text()
        except Exception as exc:  # Chromium fails the navigation to an empty 403
            assert "ERR_HTTP_RESPONSE_CODE_FAILURE" in str(exc)  # noqa: PT017
            read = ""
    assert statuses == [403]
    assert "sk-1" not in read


def test_an_options_request_to_a_local_host_name_gets_204(ollama_emulator):
    response = exchange(ollama_emulator.port, "OPTIONS", "/api/tags", headers={"Host": "localhost"})
    assert response.status == 204
    ip = exchange(ollama_emulator.port, "OPTIONS", "/api/tags")  # an IP: routed, gin's 405
    assert ip.status == 405


def test_a_cross_origin_refusal_by_host_keeps_the_cors_headers(ollama_emulator):
    headers = {"Host": "evil.example", "Origin": "http://localhost:3000"}
    response = exchange(ollama_emulator.port, "GET", "/api/tags", headers=headers)
    assert response.status == 403
    assert response.header("Access-Control-Allow-Origin") == "http://localhost:3000"


def test_the_host_is_not_checked_when_not_listening_on_loopback():
    with Emulator(host="0.0.0.0") as emulator:
        response = exchange(emulator.port, "GET", "/api/tags", headers={"Host": "evil.example"})
    assert response.status == 200


def test_refused_requests_are_logged_with_their_status(ollama_emulator):
    exchange(ollama_emulator.port, "GET", "/api/tags", headers={"Origin": EVIL})
    exchange(ollama_emulator.port, "GET", "/api/ps", headers={"Host": "evil.example"})
    logged = ollama_emulator.requests
    assert [(r.path, r.status, r.fault) for r in logged] == [
        ("/api/tags", 403, None),
        ("/api/ps", 403, None),
    ]


# --- the Host as Go's server reads it ------------------------------------------------------------


def raw_exchange(port, head: bytes):
    """Send a request head as written (two Host lines, an absolute target) and read the answer."""
    with connect(port) as conn:
        conn.sendall(head)
        response = read_response(conn)
        rest = conn.rest() if response.status == 400 else b""
    return response, rest


@pytest.mark.parametrize(
    ("hosts", "text"),
    [
        (["localhost", "evil.example"], b"400 Bad Request: too many Host headers"),
        (["localhost", "localhost"], b"400 Bad Request: too many Host headers"),
        (["local host"], b"400 Bad Request: malformed Host header"),
        (["localhost/evil"], b"400 Bad Request: malformed Host header"),
        (["evil.example@localhost"], b"400 Bad Request: malformed Host header"),
    ],
)
def test_a_host_header_go_refuses_is_a_400(ollama_emulator, hosts, text):
    """Go's server refuses these before any handler: no Host rule is asked to pick one."""
    lines = "".join(f"Host: {host}\r\n" for host in hosts)
    head = f"GET /_emulator/requests HTTP/1.1\r\n{lines}\r\n".encode()
    response, rest = raw_exchange(ollama_emulator.port, head)
    assert response.status == 400
    assert rest == text
    assert exchange(ollama_emulator.port, "GET", "/_emulator/pacing").status == 200


@pytest.mark.parametrize(
    ("target", "host", "status"),
    [
        ("http://evil.example/api/tags", "localhost", 403),
        ("http://localhost:1/api/tags", "evil.example", 200),
        ("http://evil.example/_emulator/requests", "127.0.0.1", 403),
    ],
)
def test_an_absolute_target_names_the_host_as_go_reads_it(ollama_emulator, target, host, status):
    """RFC 9112 3.2.2: with an absolute-form target the Host line is ignored, as Go ignores it."""
    head = f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    response, _ = raw_exchange(ollama_emulator.port, head)
    assert response.status == status


def test_the_origin_is_compared_with_the_host_go_reads(ollama_emulator):
    """gin-contrib/cors compares the Origin with ``Request.Host``: the absolute target's host."""
    head = (
        b"GET http://localhost:9/api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Origin: http://localhost:9\r\n\r\n"
    )
    response, _ = raw_exchange(ollama_emulator.port, head)
    assert response.status == 200
    assert response.header("Access-Control-Allow-Origin") is None  # its own origin: not CORS


@pytest.mark.parametrize(
    "host",
    [
        "[::1]:80:90",  # Go's SplitHostPort: too many colons, so the whole value is the name
        "[::1]x:80",  # missing port
        "[::ffff:0.0.0.0]:1",  # netip's IsUnspecified does not unmap (IsLoopback does)
        "[::%25lo]:1",  # nor is a zoned :: unspecified
        "a[b].localhost:1",  # an unexpected bracket: not split, so not a .localhost name
    ],
)
def test_hosts_go_does_not_take_as_local(ollama_emulator, host):
    headers = {"Host": host}
    assert exchange(ollama_emulator.port, "GET", "/api/tags", headers=headers).status == 403


@pytest.mark.parametrize("path", ["/api/web_search", "/api/web_fetch"])
def test_ollama_coms_hosted_routes_answer_to_the_name_ollama_com(ollama_emulator, path):
    port = ollama_emulator.port
    hosted = exchange(port, "POST", path, {}, headers={"Host": "ollama.com"})
    assert hosted.status == 401  # answered (no Bearer token), not refused by the Host check
    assert hosted.json() == {"error": "unauthorized"}
    assert exchange(port, "GET", "/api/tags", headers={"Host": "ollama.com"}).status == 403
    foreign = {"Host": "ollama.com", "Origin": EVIL}  # the CORS rule still applies
    assert exchange(port, "POST", path, {}, headers=foreign).status == 403
