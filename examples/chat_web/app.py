"""The Starlette app: the page, and a WebSocket per page wired to its `ChatSession`.

Each connection is bounded: it reads its next message only once the session has handled the
last one, a frame larger than the server's ``ws_max_size`` closes it (see `WebServer`), and
at most ``MAX_UNSENT`` bytes of events wait for a page that does not read them; past that the
page is flooding (or stuck) and its connection is closed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import html
import json
import re
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from examples.chat_web.guard import Guard
from examples.chat_web.session import MAX_QUESTION, Ask, Cancel, ChatSession
from ollama_actor import Ollama

PAGE = Path(__file__).with_name("static") / "index.html"
MAX_UNSENT = 1024 * 1024
"""Bytes of events that may wait for one page to read them before its connection is closed."""
HANDLED_WITHIN = 10.0
"""Seconds a session may take to handle a message (it never blocks) before the page is closed."""


def create_app(client: Ollama, model: str, *, hosts: Iterable[str] = ()) -> Starlette:
    """The chat app for ``model`` on the Ollama that ``client`` talks to.

    ``hosts``: the names the page is served as besides the loopback ones (see `Guard`).
    """
    page = (
        PAGE.read_text(encoding="utf-8")
        .replace("{{MODEL}}", html.escape(model))
        .replace("{{MAX_QUESTION}}", str(MAX_QUESTION))
    )
    headers = {
        "Content-Security-Policy": _policy(page),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page, headers=headers)

    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        loop = asyncio.get_running_loop()
        outbox = Outbox(loop)
        ready = asyncio.Event()

        def handled() -> None:  # the actor's side: its loop thread
            with contextlib.suppress(RuntimeError):  # the server's loop has already closed
                loop.call_soon_threadsafe(ready.set)

        session = ChatSession.start(client, model, outbox.push, handled)
        tasks = [
            asyncio.create_task(_receive(websocket, session.tell, ready)),
            asyncio.create_task(_send(websocket, outbox)),
            asyncio.create_task(outbox.overflowed.wait()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            session.stop(block=False)  # its on_stop cancels a running stream
        for task in done:
            task.result()  # an unexpected error on either side is raised for uvicorn to log
        if outbox.overflowed.is_set():  # tell a slow page why, if it reads within a second
            with contextlib.suppress(Exception):
                await asyncio.wait_for(websocket.close(1008, "too many unread events"), 1.0)

    return Starlette(
        routes=[Route("/", index), WebSocketRoute("/ws", chat)],
        middleware=[Middleware(Guard, hosts=hosts)],
    )


class Outbox:
    """The events a session pushes to its page, waiting to be sent; at most ``MAX_UNSENT`` bytes.

    ``push`` may be called from any thread and never blocks. An event that does not fit sets
    ``overflowed`` (the page is not reading) and is dropped.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._texts: deque[str] = deque()
        self._size = 0
        self._ready = asyncio.Event()
        self.overflowed = asyncio.Event()

    def push(self, event: dict[str, Any]) -> None:
        """Queue an event for the page (from any thread)."""
        with contextlib.suppress(RuntimeError):  # the server's loop has already closed
            self._loop.call_soon_threadsafe(self._put, json.dumps(event))

    def _put(self, text: str) -> None:
        if self._texts and self._size + len(text) > MAX_UNSENT:
            self.overflowed.set()
            return
        self._texts.append(text)
        self._size += len(text)
        self._ready.set()

    async def get(self) -> str:
        """The next event's JSON text, in order."""
        while not self._texts:
            self._ready.clear()
            await self._ready.wait()
        text = self._texts.popleft()
        self._size -= len(text)
        return text


async def _receive(
    websocket: WebSocket, tell: Callable[[Ask | Cancel], None], ready: asyncio.Event
) -> None:
    """Hand the page's messages to its session, one at a time; returns when the page leaves."""
    while True:
        received = await websocket.receive()
        if received["type"] == "websocket.disconnect":
            return
        try:
            event = json.loads(received.get("text") or "")
        except (ValueError, RecursionError):
            continue  # not a message of this page (binary, not JSON, nested too deeply)
        match event:
            case {"type": "ask", "text": str(text)} if text.strip():
                message: Ask | Cancel = Ask(text)
            case {"type": "cancel"}:
                message = Cancel()
            case _:
                continue
        ready.clear()
        tell(message)
        try:
            await asyncio.wait_for(ready.wait(), HANDLED_WITHIN)
        except TimeoutError:
            return  # the session is stuck or gone: end the page's connection


async def _send(websocket: WebSocket, outbox: Outbox) -> None:
    """Forward the session's events to the page, in order."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.send_text(await outbox.get())


def _policy(page: str) -> str:
    """A Content-Security-Policy that lets run only the page's own inline script and style."""

    def hashes(tag: str) -> str:
        found = re.findall(rf"<{tag}>(.*?)</{tag}>", page, re.DOTALL)
        return " ".join(
            f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"
            for text in found
        )

    return (
        f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
        "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
