"""The seed library's LiveView example, in Python: an actor that streams a chat into its state.

In Elixir, a LiveView process starts a streaming completion and handles ``{ref, {:data, chunk}}``
messages in ``handle_info``. Here a `ChatView` actor does the same: it starts the stream with
itself as the recipient and hands each message to a `StreamReply`, which keeps the messages of
the current stream (by ref) and folds them into the text to show. A retry after a cut connection
(``("restart", ...)``) starts that text again, so the view never shows half an answer followed
by the whole one. Run it against the Ollama at ``OLLAMA_HOST`` (or the emulator)::

    python examples/liveview.py [--host URL] [--model NAME]

It exits with 1 and one line on stderr if an answer fails.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

import actors
from ollama_actor import Ollama, OllamaError, StreamReply


class ChatView(actors.Actor):
    """One user's chat view: its state is what the page would render."""

    def __init__(self, client: Ollama, model: str) -> None:
        super().__init__()
        self.client = client
        self.model = model
        self.messages: list[dict[str, Any]] = []
        self.reply: StreamReply | None = None
        self.renders: list[str] = []
        """Every text the view rendered, in order (what a page would have shown)."""
        self.failure: BaseException | None = None
        self.idle = threading.Event()
        self.idle.set()

    @property
    def draft(self) -> str:
        """The answer being streamed, as it stands now."""
        return self.reply.text if self.reply is not None else ""

    def submit(self, question: str) -> None:
        """Like a ``handle_event("submit", ...)``: start streaming the answer into this actor."""
        self.messages.append({"role": "user", "content": question})
        self.idle.clear()
        handle = self.client.chat(
            model=self.model, messages=list(self.messages), stream=self.actor_ref
        )
        self.reply = StreamReply(handle)

    def on_receive(self, message: Any) -> None:
        """Like ``handle_info``: the current stream's messages update the view; a late message
        of an earlier stream is ignored, as a LiveView would."""
        reply = self.reply
        if reply is None or not reply.apply(message):
            return
        if reply.done:
            self.messages.append(reply.result()["message"])
        elif reply.error is not None:
            self.failure = reply.error
            self.messages.append({"role": "assistant", "content": f"[error: {reply.error}]"})
        else:
            self.renders.append(reply.text)
            return
        self.reply = None
        self.idle.set()


def converse(
    client: Ollama, model: str, questions: list[str], timeout: float = 30.0
) -> list[dict[str, Any]]:
    """Ask each question in turn and return the conversation the view ends with.

    Raises the error of an answer that failed.
    """
    view_ref = ChatView.start(client, model)
    view = view_ref.proxy()
    try:
        for question in questions:
            view.submit(question).get(timeout=timeout)
            if not view.idle.get(timeout=timeout).wait(timeout):
                raise TimeoutError(f"no answer to {question!r} within {timeout} s")
            failure = view.failure.get(timeout=timeout)
            if failure is not None:
                raise failure
        return list(view.messages.get(timeout=timeout))
    finally:
        view_ref.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the LiveView example")
    parser.add_argument("--host", help="the Ollama server (default: OLLAMA_HOST)")
    parser.add_argument("--model", default="llama3.2")
    args = parser.parse_args(argv)
    try:
        with Ollama(args.host) as client:
            questions = ["Why is the sky blue?", "And why are sunsets red?"]
            for entry in converse(client, args.model, questions):
                print(f"{entry['role']:>9}: {entry['content']}")
    except (OllamaError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
