"""Secure defaults: TLS checked, no redirect followed, keys never shown, loopback, no eval."""

import asyncio
import logging
import re
import ssl
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme

from ollama_actor import ConnectError, HTTPError, Ollama, OllamaError, ReadTimeout, Timeout
from ollama_actor.emulator import Emulator, EmulatorProcess, delay, status

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def tiny_server(respond, ssl_context=None):
    """A one-route HTTP(S) server on loopback: ``respond(request_head) -> bytes``; logs heads."""
    seen = []
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box = {}

    async def handle(reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()
            return
        seen.append(head.decode("latin-1"))
        writer.write(respond(head))
        await writer.drain()
        writer.close()

    async def main():
        box["server"] = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ssl_context)
        box["port"] = box["server"].sockets[0].getsockname()[1]
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(main()), loop.run_forever()))
    thread.start()
    ready.wait(5)
    try:
        yield box["port"], seen
    finally:
        loop.call_soon_threadsafe(box["server"].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def version_reply(_head):
    body = b'{"version":"9.9.9"}'
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (
        len(body),
        body,
    )


@pytest.fixture(scope="module")
def tls():
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return server_context, client_context


def test_tls_certificates_are_verified_by_default(tls):
    server_context, client_context = tls
    with tiny_server(version_reply, server_context) as (port, _):
        url = f"https://127.0.0.1:{port}/api"
        with Ollama(url, timeout=5) as c, pytest.raises(ConnectError, match="CERTIFICATE_VERIFY"):
            c.version()
        with Ollama(url, timeout=5, verify=client_context) as c:
            assert c.version() == {"version": "9.9.9"}
        with Ollama(url, timeout=5, verify=False) as c:  # turning it off is explicit
            assert c.version() == {"version": "9.9.9"}


def test_redirects_are_not_followed_so_credentials_never_leave(monkeypatch):
    with tiny_server(version_reply) as (other_port, other_seen):

        def redirect(_head):
            location = f"http://127.0.0.1:{other_port}/api/version"
            return (
                b"HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\nContent-Length: 0\r\n"
                b"Connection: close\r\n\r\n" % location.encode()
            )

        with tiny_server(redirect) as (port, seen):
            client = Ollama(f"http://127.0.0.1:{port}", api_key="sk-very-secret", timeout=5)
            with client, pytest.raises(HTTPError) as info:
                client.version()
            assert info.value.status == 307
            assert "authorization: bearer sk-very-secret" in seen[0].lower()
    assert other_seen == []  # the other origin never heard from us, let alone the key


def test_api_keys_never_appear_in_reprs_logs_or_errors(caplog):
    secret = "sk-" + "s3cr3t" * 4
    texts = []
    with Emulator() as emu:
        emu.inject(status(500))
        emu.inject(delay(2.0))
        with caplog.at_level(logging.DEBUG):
            with Ollama(emu.base_url, api_key=secret, timeout=Timeout(read=0.3)) as c:
                texts += [repr(c), str(vars(c))]
                for call in (
                    c.version,
                    c.version,
                    lambda: c.completion(model="nope", prompt="x"),
                    lambda: list(c.chat(model="llama3.2", messages=[], think="hard", stream=True)),
                ):
                    try:
                        call()
                    except (OllamaError, ReadTimeout) as exc:
                        texts += [str(exc), repr(exc), repr(vars(exc))]
            with Ollama("http://127.0.0.1:9", api_key=secret, timeout=1) as c:
                with pytest.raises(ConnectError) as info:
                    c.version()
                texts += [str(info.value), repr(info.value)]
        assert emu.requests[0].headers["authorization"] == f"Bearer {secret}"  # it was sent
    texts += [r.getMessage() for r in caplog.records]
    assert len(texts) > 8
    assert not [t for t in texts if secret in t]


def test_the_emulator_binds_to_loopback_unless_told_otherwise():
    with Emulator() as emu:
        assert emu.host == "127.0.0.1"
    assert EmulatorProcess().host == "127.0.0.1"
    main = (ROOT / "ollama_actor/emulator/__main__.py").read_text()
    assert re.search(r"--host.*default=\"127\.0\.0\.1\"", main, re.S)


def test_nothing_from_the_server_is_evaluated_or_unpickled():
    risky = re.compile(r"\b(pickle|marshal|shelve|eval|exec)\b\s*[.(]|yaml\.load\(")
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for package in ("actors", "ollama_actor")
        for path in (ROOT / package).rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if risky.search(line)
    ]
    assert hits == []
