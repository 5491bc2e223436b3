"""`ChatSession`: one browser connection's actor, as a LiveView process is in Elixir."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import actors
from ollama_actor import Ollama, StreamHandle

Push = Callable[[dict[str, Any]], None]
"""Sends one event to the page; callable from any thread, never blocks."""

MAX_QUESTION = 32_000
"""Characters in one question; a longer one is refused (the page's input stops there too)."""
MAX_HISTORY = 200_000
"""Characters of conversation (contents and thinking) sent with a question; the oldest turns
beyond are forgotten..."""
MAX_MESSAGES = 200
"""... as are the oldest messages beyond this many."""


@dataclass(frozen=True)
class Ask:
    """The page asked a question."""

    text: str


@dataclass(frozen=True)
class Cancel:
    """The page pressed Cancel."""


class ChatSession(actors.LoopActor):
    """Keeps one page's conversation and streams each answer into it.

    A loop actor: it owns no thread, so a server with many pages open does not hold a thread
    per page. Its handlers never block: ``client.chat(..., stream=self.actor_ref)`` returns a
    `StreamHandle` at once, and the stream's messages arrive in this actor's mailbox after the
    handler that started it has returned, so ``self.streaming`` is always set when they come.
    Messages of an earlier stream (a late one after Cancel) are ignored by their ref.

    Bounded whatever the page sends: a question of more than ``MAX_QUESTION`` characters is
    refused, and the conversation sent with a question is its last ``MAX_MESSAGES`` messages
    and ``MAX_HISTORY`` characters. ``handled`` is called (on the loop thread) after each `Ask`
    and `Cancel`, so that the page's connection reads its next message only then: a page cannot
    pile up messages in this actor's mailbox.
    """

    def __init__(
        self, client: Ollama, model: str, push: Push, handled: Callable[[], None] = lambda: None
    ) -> None:
        super().__init__()
        self.client = client
        self.model = model
        self.push = push
        self.handled = handled
        self.messages: list[dict[str, Any]] = []
        self.streaming: StreamHandle | None = None

    def on_receive(self, message: Any) -> Any:
        current = self.streaming.ref if self.streaming is not None else None
        match message:
            case Ask(text=text):
                self._ask(text)
                self.handled()
            case Cancel():
                if self.streaming is not None:
                    self.streaming.cancel()
                self.handled()
            case (ref, ("data", chunk)) if ref == current:
                self._token(chunk)
            case (ref, ("restart", {"attempt": attempt, "error": error})) if ref == current:
                self.push({"type": "restart", "attempt": attempt, "error": str(error)})
            case (ref, ("done", response)) if ref == current:
                self.messages.append(response["message"])
                self.streaming = None
                self.push({"type": "done", "tokens": response.get("eval_count")})
            case (ref, ("error", error)) if ref == current:
                self.messages.pop()  # the question goes unanswered: forget it
                self.streaming = None
                self.push({"type": "error", "error": type(error).__name__, "message": str(error)})
            case (_ref, (str(), _)):
                pass  # a late message of an earlier stream
            case _:
                return super().on_receive(message)
        return None

    def _ask(self, text: str) -> None:
        if self.streaming is not None:
            self.push({"type": "busy", "message": "wait for the answer, or cancel it"})
            return
        if len(text) > MAX_QUESTION:
            message = f"a question of {len(text)} characters (at most {MAX_QUESTION})"
            self.push({"type": "error", "error": "TooLong", "message": message})
            return
        self.messages.append({"role": "user", "content": text})
        _forget_oldest(self.messages)
        self.streaming = self.client.chat(
            model=self.model, messages=list(self.messages), stream=self.actor_ref
        )
        self.push({"type": "start", "ref": str(self.streaming.ref)})

    def _token(self, chunk: dict[str, Any]) -> None:
        message = chunk.get("message") or {}
        thinking, content = message.get("thinking"), message.get("content")
        if thinking:
            self.push({"type": "thinking", "text": thinking})
        if content:
            self.push({"type": "token", "text": content})

    def on_stop(self) -> None:
        """The page went away: end its stream, if one runs (the connection closes)."""
        if self.streaming is not None:
            self.streaming.cancel()


def _size(message: dict[str, Any]) -> int:
    """The characters a message adds to the conversation: its content and its thinking."""
    return len(str(message.get("content", ""))) + len(str(message.get("thinking", "")))


def _forget_oldest(messages: list[dict[str, Any]]) -> None:
    """Drop the oldest messages until the conversation is within bounds (the last one stays)."""
    size = sum(map(_size, messages))
    while len(messages) > 1 and (size > MAX_HISTORY or len(messages) > MAX_MESSAGES):
        size -= _size(messages.pop(0))
    while len(messages) > 1 and messages[0].get("role") == "assistant":
        messages.pop(0)  # an answer without its question
