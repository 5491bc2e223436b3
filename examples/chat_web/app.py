"""The Starlette app: the page, and a WebSocket per page wired to its `ChatSession`."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from examples.chat_web.session import Ask, Cancel, ChatSession
from ollama_actor import Ollama

PAGE = Path(__file__).with_name("static") / "index.html"


def create_app(client: Ollama, model: str) -> Starlette:
    """The chat app for ``model`` on the Ollama that ``client`` talks to."""
    page = PAGE.read_text(encoding="utf-8").replace("{{MODEL}}", model)

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        loop = asyncio.get_running_loop()
        outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        def push(event: dict[str, Any]) -> None:  # the actor's side: any thread, never blocks
            with contextlib.suppress(RuntimeError):  # the server's loop has already closed
                loop.call_soon_threadsafe(outbox.put_nowait, event)

        session = ChatSession.start(client, model, push)
        sender = asyncio.create_task(_send(websocket, outbox))
        try:
            while True:
                event = await websocket.receive_json()
                match event:
                    case {"type": "ask", "text": str(text)} if text.strip():
                        session.tell(Ask(text))
                    case {"type": "cancel"}:
                        session.tell(Cancel())
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()
            session.stop(block=False)  # its on_stop cancels a running stream

    return Starlette(routes=[Route("/", index), WebSocketRoute("/ws", chat)])


async def _send(websocket: WebSocket, outbox: asyncio.Queue[dict[str, Any]]) -> None:
    """Forward the actor's events to the page, in order."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.send_json(await outbox.get())
