"""examples/chat_web: a page per browser connection, an actor per page, tokens pushed live.

The WebSocket and command tests need the ``web`` extra; the browser test also needs Debian's
Chromium at /usr/bin/chromium (``.ci/run`` installs it) and Playwright's Python package, and is
skipped with a message when either is missing (see tests/browser.py). It saves a screenshot to
docs/chat_web.png. What other sites and hostile pages cannot do is in test_chat_web_security.
"""

import json
import os
import selectors
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ollama_actor import Ollama, Timeout
from ollama_actor.emulator import expected_reply
from tests.browser import chromium, expect

pytest.importorskip("starlette", reason="the web extra is not installed")
pytest.importorskip("uvicorn", reason="the web extra is not installed")
websockets_client = pytest.importorskip("websockets.sync.client")

from examples.chat_web import WebServer, create_app  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "chat_web.png"
FIRST = "Why is the sky blue?"
SECOND = "Tell me a long story about it"
ON_THE_PAGE = "Why is the sky blue during the day?"  # its answer has quotes and x>y, no CJK


def _user(text):
    return {"role": "user", "content": text}


@pytest.fixture
def chat_server(ollama_emulator):
    """The chat app on a free port, talking to the emulator."""
    timeout = Timeout(connect=5, read=30, total=120)
    with (
        Ollama(ollama_emulator.base_url, timeout=timeout) as client,
        WebServer(create_app(client, "llama3.2")) as server,
    ):
        yield server


def open_chat(server, **options):
    """The chat WebSocket, opened as the page does (its own origin)."""
    url = server.url.replace("http", "ws") + "/ws"
    return websockets_client.connect(url, open_timeout=10, origin=server.url, **options)


def _receive_until(socket, kind):
    events = []
    while True:
        event = json.loads(socket.recv(timeout=15))
        events.append(event)
        if event["type"] == kind:
            return events


def test_websocket_session_streams_each_token_then_cancels(chat_server, ollama_emulator):
    with open_chat(chat_server) as socket:
        socket.send(json.dumps({"type": "ask", "text": FIRST}))
        events = _receive_until(socket, "done")
        tokens = [e["text"] for e in events if e["type"] == "token"]
        reply = expected_reply("llama3.2", [_user(FIRST)])
        assert tokens == list(reply.content)  # one event per chunk, as the actor received it
        assert events[0]["type"] == "start"
        assert events[-1] == {"type": "done", "tokens": reply.eval_count}

        ollama_emulator.set_pacing(token_rate=5)
        socket.send(json.dumps({"type": "ask", "text": SECOND}))
        _receive_until(socket, "token")
        socket.send(json.dumps({"type": "cancel"}))
        ended = _receive_until(socket, "error")[-1]
        assert ended["error"] == "StreamCancelled"
        request = ollama_emulator.last_request("/api/chat")
        assert ollama_emulator.wait_until_ended(request.id).outcome == "client_closed"
        # the cancelled question was forgotten: the next one follows the first answer only
        ollama_emulator.set_pacing(token_rate=None)
        socket.send(json.dumps({"type": "ask", "text": "Thanks"}))
        _receive_until(socket, "done")
        history = ollama_emulator.last_request("/api/chat").body["messages"]
        assert [m["content"] for m in history] == [FIRST, reply.text, "Thanks"]


def test_closing_the_page_ends_its_stream(chat_server, ollama_emulator):
    ollama_emulator.set_pacing(token_rate=5)
    with open_chat(chat_server) as socket:
        socket.send(json.dumps({"type": "ask", "text": SECOND}))
        _receive_until(socket, "token")
    request = ollama_emulator.last_request("/api/chat")
    assert ollama_emulator.wait_until_ended(request.id, timeout=10).outcome == "client_closed"


def without_ollama_host():
    return {name: value for name, value in os.environ.items() if name != "OLLAMA_HOST"}


def test_the_command_serves_the_page_against_the_emulator():
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.chat_web", "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**without_ollama_host(), "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        lines = []
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while not any(line.startswith("chat page on ") for line in lines):
                assert selector.select(20), f"no address printed: {lines}"
                lines += os.read(process.stdout.fileno(), 4096).decode().splitlines()
        assert lines[0].startswith("no --ollama given: using the bundled emulator at http://")
        url = next(line for line in lines if line.startswith("chat page on ")).split()[3]
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200
        assert 'id="cancel"' in page.text
        assert "model llama3.2" in page.text
        assert httpx.get(url, headers={"Host": "evil.example"}, timeout=10).status_code == 403
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


# Records every state the streaming answer's text goes through, to see tokens arrive one by one.
_WATCH = """() => {
  window.snapshots = [];
  new MutationObserver(() => {
    const texts = document.querySelectorAll('.answer .text');
    const text = texts.length ? texts[texts.length - 1].textContent : '';
    if (window.snapshots[window.snapshots.length - 1] !== text) window.snapshots.push(text);
  }).observe(document.getElementById('conversation'),
             {subtree: true, childList: true, characterData: true});
}"""


def test_browser_streams_tokens_and_cancels(chat_server, ollama_emulator):
    ollama_emulator.set_pacing(token_rate=40)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 900, "height": 620})
        page.goto(chat_server.url)
        expect(page.locator("#status")).to_have_text("connected")
        page.evaluate(_WATCH)

        page.fill("#question", ON_THE_PAGE)
        page.click("#ask")
        first = page.locator(".answer").nth(0)
        expect(first).to_have_attribute("data-state", "done", timeout=15_000)
        reply = expected_reply("llama3.2", [_user(ON_THE_PAGE)])
        assert first.locator(".text").text_content() == reply.text
        snapshots = page.evaluate("window.snapshots")
        tokens = list(reply.content)
        assert snapshots[1:] == ["".join(tokens[:n]) for n in range(1, len(tokens) + 1)]
        expect(page.locator("#status")).to_have_text(f"done: {reply.eval_count} tokens")

        ollama_emulator.set_pacing(token_rate=2)  # slow: time to press Cancel
        page.fill("#question", SECOND)
        page.click("#ask")
        second = page.locator(".answer").nth(1)
        expect(second).to_have_attribute("data-state", "streaming")
        page.wait_for_function(
            "() => document.querySelectorAll('.answer .text')[1].textContent.split(' ')"
            ".length >= 3",
            timeout=15_000,
        )
        page.click("#cancel")
        expect(second).to_have_attribute("data-state", "cancelled", timeout=10_000)
        expect(second.locator(".note")).to_contain_text("StreamCancelled")
        expect(page.locator("#status")).to_have_text("cancelled")
        expect(page.locator("#ask")).to_be_enabled()
        expect(page.locator("#cancel")).to_be_disabled()
        request = ollama_emulator.last_request("/api/chat")
        assert ollama_emulator.wait_until_ended(request.id).outcome == "client_closed"
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
