"""examples/chat_web against other sites and hostile pages, in Chromium and over raw sockets.

The page runs on the user's machine and spends their model. Another site must not open its chat
WebSocket (cross-site WebSocket hijacking), a foreign host name that resolves to it must not be
served (DNS rebinding), a model name must stay text in the page, and a page that floods its
connection is bounded, then closed. The browser tests serve pages under ``*.test`` names, which
tests/browser.py makes Chromium resolve to 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from pathlib import Path

import httpx
import pytest

from ollama_actor import Ollama, Timeout
from tests.browser import chromium, expect, page_reply
from tests.reliability.test_secure_defaults import tiny_server

pytest.importorskip("starlette", reason="the web extra is not installed")
pytest.importorskip("uvicorn", reason="the web extra is not installed")
websockets_client = pytest.importorskip("websockets.sync.client")
websockets_exceptions = pytest.importorskip("websockets.exceptions")

from examples.chat_web import WebServer, create_app  # noqa: E402
from examples.chat_web.app import MAX_UNSENT  # noqa: E402
from examples.chat_web.session import (  # noqa: E402
    MAX_HISTORY,
    MAX_MESSAGES,
    MAX_QUESTION,
    _forget_oldest,
)
from tests.examples.test_chat_web import _receive_until, open_chat  # noqa: E402

TIMEOUT = Timeout(connect=5, read=30, total=120)
EVIL_MODEL = """<img src=x onerror="document.title='pwned'">llama3.2"""


@pytest.fixture
def serve(ollama_emulator):
    """``serve(model="llama3.2", hosts=())``: the chat app on a free port, on the emulator."""
    servers = []

    def start(model="llama3.2", **options):
        client = Ollama(ollama_emulator.base_url, timeout=TIMEOUT)
        server = WebServer(create_app(client, model, **options)).start()
        servers.append((server, client))
        return server

    yield start
    for server, client in servers:
        server.stop()
        client.close()


def handshake(port, host, origin=None):
    """Open a WebSocket to ``/ws`` with these ``Host`` and ``Origin``; the socket and the status."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /ws HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
    ]  # fmt: skip
    if origin is not None:
        lines.append(f"Origin: {origin}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    return sock, int(head.split(b" ", 2)[1])


def refused(port, host, origin=None):
    """The status of a handshake (101 if accepted)."""
    sock, status = handshake(port, host, origin)
    sock.close()
    return status


# --- cross-site WebSocket hijacking --------------------------------------------------------------

HIJACK = """<script>
  const log = [];
  const socket = new WebSocket("%s");
  socket.onopen = () => {
    log.push("open");
    socket.send(JSON.stringify({type: "ask", text: "hi"}));
  };
  socket.onmessage = (m) => log.push("message " + m.data);
  socket.onerror = () => log.push("error");
  socket.onclose = () => { log.push("close"); document.title = JSON.stringify(log); };
  setTimeout(() => socket.close(), 3000);
</script>"""


@pytest.mark.parametrize("site", ["attacker.test", "localhost"])
def test_a_page_at_another_origin_cannot_open_the_chat(serve, ollama_emulator, site):
    """Another site, or another loopback origin (a different port), in a real browser."""
    chat = serve()
    attack = HIJACK % (chat.url.replace("http", "ws") + "/ws")
    with tiny_server(lambda head: page_reply(attack)) as (port, _), chromium() as browser:
        page = browser.new_page()
        page.goto(f"http://{site}:{port}/")
        page.wait_for_function("document.title.startsWith('[')", timeout=15_000)
        log = json.loads(page.title())
    assert log == ["error", "close"]  # never opened, nothing read
    assert ollama_emulator.request_count("/api/chat") == 0


@pytest.mark.parametrize(
    "origin",
    [None, "null", "http://evil.example", "http://localhost:{port}", "https://127.0.0.1:{port}"],
)
def test_a_handshake_from_any_other_origin_gets_403(serve, ollama_emulator, origin):
    chat = serve()
    origin = None if origin is None else origin.format(port=chat.port)
    assert refused(chat.port, f"127.0.0.1:{chat.port}", origin) == 403
    assert ollama_emulator.request_count("/api/chat") == 0


def test_the_pages_own_origin_opens_it(serve):
    chat = serve()
    assert refused(chat.port, f"127.0.0.1:{chat.port}", chat.url) == 101
    with open_chat(chat) as socket:
        socket.send(json.dumps({"type": "ask", "text": "hi"}))
        assert _receive_until(socket, "done")[-1]["type"] == "done"


# --- DNS rebinding -------------------------------------------------------------------------------


def test_a_rebound_host_name_is_not_served(serve, ollama_emulator):
    chat = serve()
    with chromium() as browser:
        page = browser.new_page()
        response = page.goto(f"http://rebound.test:{chat.port}/")
        assert response.status == 403
        assert "forbidden" in page.content()
        assert page.locator("#question").count() == 0  # no chat page, so no chat
    assert ollama_emulator.request_count("/api/chat") == 0


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:{port}",
        "localhost.evil.example",
        "8.8.8.8",
        "",
        "[::1]evil.example",
        "[::1].evil.example:{port}",  # not a port after the address
    ],
)
def test_a_foreign_host_gets_403_for_the_page_and_the_socket(serve, host):
    chat = serve()
    host = host.format(port=chat.port)
    response = httpx.get(chat.url, headers={"Host": host}, timeout=10)
    assert response.status_code == 403
    assert "model" not in response.text
    origin = f"http://{host}"  # its own origin does not help a foreign name
    assert refused(chat.port, host, origin) == 403


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:{port}", "localhost:{port}", "LocalHost", "app.localhost:{port}", "127.9.9.9"],
)
def test_loopback_names_are_served(serve, host):
    chat = serve()
    response = httpx.get(chat.url, headers={"Host": host.format(port=chat.port)}, timeout=10)
    assert response.status_code == 200


def test_names_the_page_is_served_as_are_allowed(serve):
    chat = serve(hosts=["chat.lan", "192.168.1.5"])
    for host in ("chat.lan:8000", "CHAT.LAN", "192.168.1.5:8000"):
        assert httpx.get(chat.url, headers={"Host": host}, timeout=10).status_code == 200
    assert httpx.get(chat.url, headers={"Host": "other.lan"}, timeout=10).status_code == 403
    assert refused(chat.port, "chat.lan:8000", "http://chat.lan:8000") == 101
    assert refused(chat.port, "chat.lan:8000", "http://other.lan:8000") == 403
    sock = socket.create_connection(("127.0.0.1", chat.port), timeout=10)
    with websockets_client.connect(
        "ws://chat.lan:8000/ws", sock=sock, open_timeout=10, origin="http://chat.lan:8000"
    ) as chat_socket:
        chat_socket.send(json.dumps({"type": "ask", "text": "hi"}))
        assert _receive_until(chat_socket, "done")[-1]["type"] == "done"


# --- values in the page's HTML -------------------------------------------------------------------


def test_the_model_name_is_text_in_the_page(serve):
    chat = serve(model=EVIL_MODEL)
    html = httpx.get(chat.url, timeout=10).text
    assert "&lt;img src=x onerror=&quot;document.title=&#x27;pwned&#x27;&quot;&gt;" in html
    assert "<img" not in html
    with chromium() as browser:
        page = browser.new_page()
        page.goto(chat.url)
        expect(page.locator("#status")).to_have_text("connected")
        assert f"model {EVIL_MODEL}" in page.locator("header").text_content()
        assert page.locator("header img").count() == 0
        assert page.title() == "ollama-actor chat"


def test_the_content_security_policy_stops_injected_script(serve):
    """Defence in depth: were a value ever pasted unescaped, its inline script would not run."""
    chat = serve()
    response = httpx.get(chat.url, timeout=10)
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'sha256-" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    with chromium() as browser:
        page = browser.new_page()
        page.goto(chat.url)
        expect(page.locator("#status")).to_have_text("connected")  # the page's own script runs
        page.evaluate(
            """() => document.querySelector('header').insertAdjacentHTML('beforeend',
                 `<img src="data:," onerror="document.title='pwned'">`)"""
        )
        page.wait_for_timeout(300)  # the image would have failed and its handler run by now
        assert page.title() == "ollama-actor chat"


# --- bounds --------------------------------------------------------------------------------------


def test_a_question_over_the_limit_never_reaches_the_model(serve, ollama_emulator):
    chat = serve()
    with open_chat(chat) as socket:
        socket.send(json.dumps({"type": "ask", "text": "x" * (MAX_QUESTION + 1)}))
        event = _receive_until(socket, "error")[-1]
        assert event["error"] == "TooLong"
        assert f"{MAX_QUESTION + 1} characters" in event["message"]
        socket.send(json.dumps({"type": "ask", "text": "x" * MAX_QUESTION}))
        assert _receive_until(socket, "done")[-1]["type"] == "done"
    sent = ollama_emulator.last_request("/api/chat").body["messages"]
    assert [len(m["content"]) for m in sent] == [MAX_QUESTION]
    assert ollama_emulator.request_count("/api/chat") == 1


def test_a_huge_message_closes_the_connection_unread(serve, ollama_emulator):
    chat = serve()
    with open_chat(chat, max_size=None) as socket:
        socket.send(json.dumps({"type": "ask", "text": "x" * (4 * 1024 * 1024)}))  # 4 MiB
        with pytest.raises(websockets_exceptions.ConnectionClosed) as info:
            socket.recv(timeout=10)
    assert info.value.rcvd.code == 1009  # message too big
    assert ollama_emulator.request_count("/api/chat") == 0


def test_the_page_sees_the_question_limit():
    page = (Path(__file__).parents[2] / "examples/chat_web/static/index.html").read_text()
    assert 'maxlength="{{MAX_QUESTION}}"' in page


def test_the_conversation_sent_is_bounded(serve, ollama_emulator):
    chat = serve()
    question = "q" * (MAX_QUESTION - 10)
    turns = MAX_HISTORY // MAX_QUESTION + 2  # more than the history holds
    with open_chat(chat) as socket:
        for _ in range(turns):
            socket.send(json.dumps({"type": "ask", "text": question}))
            _receive_until(socket, "done")
    sent = ollama_emulator.last_request("/api/chat").body["messages"]
    assert sum(len(m["content"]) for m in sent) <= MAX_HISTORY
    assert sent[0]["role"] == "user"  # whole turns are forgotten, oldest first
    assert sent[-1] == {"role": "user", "content": question}
    assert len(sent) < 2 * turns - 1


def test_forgetting_keeps_whole_recent_turns():
    def turn(i):
        return [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]

    question = {"role": "user", "content": "q"}
    messages = [m for i in range(MAX_MESSAGES) for m in turn(i)] + [question]
    _forget_oldest(messages)
    assert len(messages) == MAX_MESSAGES - 1  # the oldest answer without its question goes too
    assert messages[0] == {"role": "user", "content": f"q{MAX_MESSAGES // 2 + 1}"}
    assert messages[-1] == question
    alone = [{"role": "assistant", "content": "a" * (2 * MAX_HISTORY)}, question]
    _forget_oldest(alone)
    assert alone == [question]


def test_forgetting_counts_the_thinking_kept_with_an_answer():
    """An answer is kept with its thinking and sent back with the next question: a model that
    thinks at length grew the conversation past ``MAX_HISTORY``, counted by content alone."""
    thought = "t" * (MAX_HISTORY // 4)
    messages = []
    for i in range(8):
        messages += [
            {"role": "user", "content": f"q{i}"},
            {"role": "assistant", "content": f"a{i}", "thinking": thought},
        ]
    messages.append({"role": "user", "content": "q"})
    _forget_oldest(messages)
    kept = sum(len(m["content"]) + len(m.get("thinking", "")) for m in messages)
    assert kept <= MAX_HISTORY
    assert messages[0] == {"role": "user", "content": "q5"}  # whole turns, the newest
    assert messages[-1] == {"role": "user", "content": "q"}


def rss_mib():
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("needs Linux's /proc to measure memory")
    line = next(line for line in status.read_text().splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _masked_frame(text: bytes) -> bytes:
    """One client text frame (clients must mask), for a payload under 126 bytes."""
    mask = b"\x5a\x17\xc3\x81"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(text))
    return bytes([0x81, 0x80 | len(text)]) + mask + masked


def test_a_page_that_floods_and_never_reads_is_closed(serve, ollama_emulator):
    """Asks as fast as the socket takes them and reads nothing: the replies pile up, up to the
    bound; then the page is closed. Unbounded, the server read every message and queued every
    reply: +106 MiB for 600,000 of them."""
    ollama_emulator.set_pacing(token_rate=1)  # the first answer keeps the session busy
    chat = serve()
    sock, status = handshake(chat.port, f"127.0.0.1:{chat.port}", chat.url)
    assert status == 101
    before = rss_mib()
    burst = memoryview(_masked_frame(json.dumps({"type": "ask", "text": "hi"}).encode()) * 1000)
    sent, limit, offset, stopped = 0, 300_000, 0, False
    sock.settimeout(2)
    started = time.monotonic()
    # Nothing is read until the server closes the page: reading earlier (on a loaded machine the
    # server may not have reached its bound yet) would let it answer the messages still queued.
    while sent < limit and time.monotonic() - started < 90:
        try:
            offset += sock.send(burst[offset:])
        except TimeoutError:
            continue  # the server is not reading us: it is answering, or closing the page
        except ConnectionError:
            stopped = True  # the server closed the page
            break
        if offset == len(burst):
            sent, offset = sent + 1000, 0
    grown = rss_mib() - before
    sock.settimeout(10)
    received = 0
    try:
        while data := sock.recv(1 << 20):
            received += len(data)
    except ConnectionResetError:
        pass  # closed with our unread messages still in its buffer
    finally:
        sock.close()
    assert stopped, (
        f"the page was not closed after {sent} messages, {time.monotonic() - started:.0f}s"
    )
    assert grown < 48, f"the server grew by {grown:.0f} MiB"
    assert received < MAX_UNSENT + 8 * 1024 * 1024  # what was queued, and what the kernel held
    assert ollama_emulator.request_count("/api/chat") == 1  # one answer; the rest were busy


def _masked_ping(payload: bytes) -> bytes:
    """One client ping frame (masked), for a payload under 126 bytes."""
    return bytes([0x89]) + _masked_frame(payload)[1:]


def test_a_client_that_pings_and_never_reads_is_closed(serve):
    """Each ping is owed a pong, written whether or not the client reads: unbounded, 600,000
    pings of 125 bytes grew the server by 68 MiB. A browser never sends pings; a script does."""
    chat = serve()
    sock, status = handshake(chat.port, f"127.0.0.1:{chat.port}", chat.url)
    assert status == 101
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    before = rss_mib()
    burst = _masked_ping(b"p" * 125) * 1000
    sent, limit, stopped = 0, 300_000, False
    sock.settimeout(2)
    started = time.monotonic()
    try:
        while sent < limit:
            sock.sendall(burst)
            sent += 1000
    except (TimeoutError, ConnectionError):
        stopped = True  # closed, or no longer read
    grown = rss_mib() - before
    sock.close()
    assert stopped, f"the server answered all {sent} pings in {time.monotonic() - started:.0f}s"
    assert grown < 24, f"the server grew by {grown:.0f} MiB"
