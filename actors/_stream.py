"""The streaming protocol between a stream source, its worker and a recipient.

A stream source (such as an Ollama `Streaming`) is started with a `StreamSink` and calls it back
on the shared loop thread: `on_chunk` for each item, then exactly one of `on_done` or `on_error`.
`Delivery` is the sink that turns those calls into the messages a recipient reads::

    (ref, ("data", chunk))
    (ref, ("restart", {"attempt": n, "error": exc, ...}))
    (ref, ("done", result))
    (ref, ("error", exc))

It guarantees one terminal message per ref and nothing after it. A source may say more about a
new attempt in the restart message (an Ollama pool names the host it chose): its optional
``restart_details`` mapping is added to the message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import pykka

from actors._monitor import Recipient
from actors._ref import Ref

__all__ = ["Delivery", "Recipient", "StreamSink", "StreamSource"]

logger = logging.getLogger(__name__)


class StreamSink(Protocol):
    """Hears a running stream on the loop thread; must not block."""

    def on_chunk(self, chunk: Any) -> None: ...

    def on_done(self, result: Any) -> None: ...

    def on_error(self, exc: BaseException) -> None: ...


class StreamSource(Protocol):
    """A stream that can be run once, cancelled from any thread, and run again afresh."""

    @property
    def ref(self) -> Ref: ...

    def start(self, sink: StreamSink) -> None:
        """Begin without blocking; the sink is called back on the loop thread."""

    def cancel(self, reason: str = "caller") -> None:
        """End the stream from any thread; the sink hears `on_error` unless it had ended.

        ``reason`` says who cancelled, as one word the cancelled error the sink hears carries:
        ``"caller"``, ``"recipient_died"`` (the worker's monitor saw the recipient end),
        ``"shutdown"`` (the worker was stopped), ``"worker_failed"``; a source may add its own
        (an Ollama `Streaming`'s are `ollama_actor.StreamCancelled.reason`).
        """

    def again(self) -> StreamSource:
        """A fresh, unstarted run of the same request, with the same ref.

        The fresh run may have a ``restart_details`` mapping (it is optional, so not declared
        here): what the restart message tells about the attempt it begins, besides its number
        and the error that ended the previous one.
        """


class Delivery:
    """A `StreamSink` that tells a recipient the message protocol for one ref.

    `on_chunk` lets `pykka.ActorDeadError` through when the recipient has died, so the source
    stops reading; the terminal messages swallow it, since nobody is left to tell, and log any
    other error of the recipient's ``tell``, so that whatever ends the stream still ends it.
    """

    __slots__ = ("_ended", "_tell", "recipient", "ref")

    def __init__(self, ref: Ref, recipient: Recipient) -> None:
        self.ref = ref
        self.recipient = recipient
        self._tell = recipient.tell
        self._ended = False

    @property
    def ended(self) -> bool:
        """Whether the terminal message has been told."""
        return self._ended

    def on_chunk(self, chunk: Any) -> None:
        if not self._ended:
            self._tell((self.ref, ("data", chunk)))

    def on_restart(
        self, attempt: int, error: BaseException, details: Mapping[str, Any] | None = None
    ) -> None:
        """Tell that a retry begins; the data that follows starts the response again.

        ``details`` (such as the host a pool chose) are added to the message's mapping.
        """
        if not self._ended:
            info = {"attempt": attempt, "error": error}
            for key, value in (details or {}).items():
                info.setdefault(key, value)  # a detail never replaces the number or the error
            self._tell((self.ref, ("restart", info)))

    def on_done(self, result: Any) -> None:
        self._end(("done", result))

    def on_error(self, exc: BaseException) -> None:
        self._end(("error", exc))

    def _end(self, message: tuple[str, Any]) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            self._tell((self.ref, message))
        except pykka.ActorDeadError:
            logger.debug("recipient of %s died before its %s message", self.ref, message[0])
        except Exception:  # the recipient's own bug: the stream has ended all the same
            logger.exception("recipient of %s raised on its %s message", self.ref, message[0])
