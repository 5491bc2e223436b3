"""`StreamReply`: a recipient's view of one stream, folded from the messages it is told.

A supervised stream may be retried: the recipient is then told ``("restart", ...)`` and the chunks
start over from the beginning of the answer. A recipient that shows the text must drop what the
failed attempt said, or it shows the start of the answer twice. `StreamReply` does that
bookkeeping: hand it every message, and read ``text`` (or ``response``) for what to show now.
"""

from __future__ import annotations

from typing import Any, Protocol

from actors import Ref
from ollama_actor._accumulate import Accumulator, Kind

__all__ = ["StreamReply"]


class _Named(Protocol):
    @property
    def ref(self) -> Ref: ...


class StreamReply:
    """What one stream has said so far, for the recipient that shows it.

    ``StreamReply(handle)`` (or a `Streaming`, or the stream's `Ref`); then pass it each
    message the recipient receives. `apply` keeps the messages of its stream and ignores the
    rest, so one actor can hold a `StreamReply` per stream and offer each of them everything::

        def on_receive(self, message):
            if self.reply.apply(message):
                self.render(self.reply.text)

    ``text``, ``thinking`` and ``tool_calls`` are those of the attempt under way: after a
    ``restart`` they start again from nothing. ``response`` is the accumulated response once
    the stream is ``done`` (what ``StreamHandle.result()`` returns), ``error`` the error it
    ended with. Use it from the one thread that receives the messages (it has no lock).
    """

    __slots__ = ("_acc", "attempt", "error", "ref", "response")

    def __init__(self, stream: Ref | _Named) -> None:
        self.ref: Ref = stream if isinstance(stream, Ref) else stream.ref
        self._acc: Accumulator | None = None
        self.attempt = 0
        """Restarts so far."""
        self.response: dict[str, Any] | None = None
        """The accumulated response, once the stream ended with ``done``."""
        self.error: BaseException | None = None
        """The error the stream ended with, if it failed."""

    def __repr__(self) -> str:
        state = "done" if self.done else "failed" if self.error is not None else "running"
        return f"<StreamReply {self.ref} {state}, attempt {self.attempt}: {self.text[:40]!r}>"

    def matches(self, message: Any) -> bool:
        """Whether ``message`` belongs to this stream (for ``Inbox.receive(match=...)``)."""
        return isinstance(message, tuple) and len(message) == 2 and message[0] == self.ref

    def apply(self, message: Any) -> bool:
        """Fold ``message`` in if it is this stream's; return whether it was."""
        if not self.matches(message):
            return False
        match message[1]:
            case ("data", dict(chunk)):
                if self._acc is None:
                    self._acc = Accumulator(_kind(chunk))
                self._acc.add(chunk)
            case ("restart", {"attempt": int(attempt)}):
                self.attempt = attempt
                self._acc = None  # the chunks that follow start the answer again
            case ("done", dict(response)):
                self.response = response
            case ("error", BaseException() as error):
                self.error = error
        return True

    @property
    def done(self) -> bool:
        """Whether the stream ended normally."""
        return self.response is not None

    @property
    def ended(self) -> bool:
        """Whether the stream's terminal message (``done`` or ``error``) has been applied."""
        return self.response is not None or self.error is not None

    @property
    def text(self) -> str:
        """The answer so far: ``response`` (generate) or ``message.content`` (chat)."""
        return "" if self._acc is None else self._acc.text

    @property
    def thinking(self) -> str:
        """The model's thinking so far."""
        return "" if self._acc is None else self._acc.thinking

    @property
    def tool_calls(self) -> list[Any]:
        """The tool calls so far (chat)."""
        return [] if self._acc is None else self._acc.tool_calls

    @property
    def last(self) -> dict[str, Any] | None:
        """The latest chunk of the attempt under way (for pull, push and create: its status)."""
        return None if self._acc is None else self._acc.last

    def result(self) -> dict[str, Any]:
        """The response once ``done``; raises the stream's error (`RuntimeError` if running)."""
        if self.error is not None:
            raise self.error
        if self.response is None:
            raise RuntimeError(f"the stream {self.ref} has not ended yet")
        return self.response


def _kind(chunk: dict[str, Any]) -> Kind:
    """How to fold a stream, told by its first chunk's shape."""
    if "message" in chunk:
        return "chat"
    if "response" in chunk:
        return "generate"
    return "progress"
