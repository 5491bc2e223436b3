"""A stream delivered to an actor that prints it, and Ctrl-C that cancels it.

The command starts the request with ``stream=<a StreamPrinter's ActorRef>``, so what is printed
travels the library's supervised path: the `StreamWorker` on the shared loop tells the printer
``(ref, ("data", chunk))`` ... ``(ref, ("done", response))`` or ``(ref, ("error", exc))``, and
the printer's own thread shows each message through a `View` the moment it arrives. The main
thread only waits for the terminal message, in short slices so that Ctrl-C is felt at once: it
then cancels the stream (the connection closes, the server sees it) and waits, bounded, for the
``("error", StreamCancelled)`` that ends it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pykka

import actors
from actors import Recipient, Ref
from ollama_actor._cli._views import View
from ollama_actor._handle import StreamHandle

__all__ = ["CANCEL_WAIT", "Outcome", "StreamPrinter", "run_stream"]

CANCEL_WAIT = 5.0
"""Seconds to wait for a cancelled stream's terminal message before giving up on it."""
_SLICE = 0.1


class Outcome:
    """How one stream ended, set once by the printer's thread."""

    def __init__(self) -> None:
        self.ended = threading.Event()
        self.response: dict[str, Any] | None = None
        self.error: BaseException | None = None

    def succeed(self, response: dict[str, Any]) -> None:
        if not self.ended.is_set():
            self.response = response
            self.ended.set()

    def fail(self, error: BaseException) -> None:
        if not self.ended.is_set():
            self.error = error
            self.ended.set()


class StreamPrinter(actors.Actor):
    """Shows the messages of one stream through a `View`, in order, on its own thread.

    One printer serves one stream. If showing fails (the output was closed), the outcome
    records that error and later messages are dropped; the caller then cancels the stream.
    """

    use_daemon_thread = True  # never keeps the process alive

    def __init__(self, view: View, outcome: Outcome) -> None:
        super().__init__()
        self.view = view
        self.outcome = outcome

    def on_receive(self, message: Any) -> None:
        if self.outcome.ended.is_set():
            return
        match message:
            case (Ref(), (str(kind), payload)):
                try:
                    self._show(kind, payload)
                except Exception as exc:
                    self.outcome.fail(exc)
            case _:
                pass

    def _show(self, kind: str, payload: Any) -> None:
        match kind, payload:
            case "data", dict(chunk):
                self.view.data(chunk)
            case "restart", {"attempt": int(attempt), "error": BaseException() as error}:
                self.view.restart(attempt, error)
            case "done", dict(response):
                self.view.done(response)
                self.outcome.succeed(response)
            case "error", BaseException() as error:
                self.view.error(error)
                self.outcome.fail(error)


def run_stream(start: Callable[[Recipient], StreamHandle], view: View) -> dict[str, Any]:
    """Run one stream to a fresh `StreamPrinter` and return its accumulated response.

    ``start(recipient)`` sends the request (``client.chat(..., stream=recipient)``). Raises the
    stream's error; on Ctrl-C cancels the stream, waits for its end and raises KeyboardInterrupt.
    """
    outcome = Outcome()
    printer = StreamPrinter.start(view, outcome)
    try:
        handle = start(printer)
        try:
            while not outcome.ended.wait(_SLICE):
                if not printer.is_alive():  # cannot happen short of a bug: do not hang on it
                    outcome.fail(RuntimeError("the printing actor stopped"))
        except KeyboardInterrupt:
            handle.cancel()
            outcome.ended.wait(CANCEL_WAIT)
            raise
        if not handle.done:  # the printer failed before the stream ended
            handle.cancel()
        if outcome.error is not None:
            raise outcome.error
        assert outcome.response is not None
        return outcome.response
    finally:
        with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
            printer.stop(timeout=CANCEL_WAIT)
