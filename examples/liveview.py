"""The seed library's LiveView example, in Python: an actor that streams a chat into its state.

In Elixir, a LiveView process starts a streaming completion and handles ``{ref, {:data, chunk}}``
messages in ``handle_info``. Here a `ChatView` actor does the same: it starts the stream with
itself as the recipient, matches each message by the stream's ref, appends tokens to the text it
shows, and handles the final message. Run it against any Ollama (or the emulator)::

    python examples/liveview.py [BASE_URL] [MODEL]
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import actors
from ollama_actor import Ollama, StreamHandle


class ChatView(actors.Actor):
    """One user's chat view: its state is what the page would render."""

    def __init__(self, client: Ollama, model: str) -> None:
        super().__init__()
        self.client = client
        self.model = model
        self.messages: list[dict[str, Any]] = []
        self.streaming: StreamHandle | None = None
        self.draft = ""
        self.idle = threading.Event()
        self.idle.set()

    def submit(self, question: str) -> None:
        """Like a ``handle_event("submit", ...)``: start streaming the answer into this actor."""
        self.messages.append({"role": "user", "content": question})
        self.draft = ""
        self.idle.clear()
        self.streaming = self.client.chat(
            model=self.model, messages=list(self.messages), stream=self.actor_ref
        )

    def on_receive(self, message: Any) -> None:
        """Like ``handle_info``: only messages of the current stream's ref are taken."""
        current = self.streaming.ref if self.streaming else None
        match message:
            case (ref, ("data", {"message": {"content": str(token)}})) if ref == current:
                self.draft += token
            case (ref, ("restart", _)) if ref == current:
                self.draft = ""  # the answer starts again from its beginning
            case (ref, ("done", response)) if ref == current:
                self.messages.append(response["message"])
                self.streaming = None
                self.idle.set()
            case (ref, ("error", error)) if ref == current:
                self.messages.append({"role": "assistant", "content": f"[error: {error}]"})
                self.streaming = None
                self.idle.set()
            case _:
                pass  # a late message of an earlier stream: ignore it, as a LiveView would


def converse(
    base_url: str, model: str, questions: list[str], timeout: float = 30.0
) -> list[dict[str, Any]]:
    """Ask each question in turn and return the conversation the view ends with."""
    with Ollama(base_url) as client:
        view_ref = ChatView.start(client, model)
        view = view_ref.proxy()
        try:
            for question in questions:
                view.submit(question).get(timeout=timeout)
                if not view.idle.get(timeout=timeout).wait(timeout):
                    raise TimeoutError(f"no answer to {question!r} within {timeout} s")
            return list(view.messages.get(timeout=timeout))
        finally:
            view_ref.stop()


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:11434/api"
    name = sys.argv[2] if len(sys.argv) > 2 else "llama3.2"
    for entry in converse(url, name, ["Why is the sky blue?", "And why are sunsets red?"]):
        print(f"{entry['role']:>9}: {entry['content']}")
