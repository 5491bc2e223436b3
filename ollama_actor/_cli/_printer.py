"""A stream delivered to an actor that prints it, retries that never repeat it, and Ctrl-C.

The command starts the request with ``stream=<a StreamPrinter's ActorRef>``, so what is printed
travels the library's supervised path: the `StreamWorker` on the shared loop tells the printer
``(ref, ("data", chunk))`` ... ``(ref, ("done", response))`` or ``(ref, ("error", exc))``, and
the printer's own thread shows each message through a `View` the moment it arrives. The main
thread only waits for the terminal message, in short slices so that Ctrl-C is felt at once: it
then cancels the stream (the connection closes, the server sees it) and waits, bounded, for the
``("error", StreamCancelled)`` that ends it.

Where the view writes what cannot be taken back (an answer to a file or a pipe), a failure is
retried only until the first chunk with text was told: a retry would write the answer again
after the part already written. The error then says so, and how to get a retry anyway.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pykka

import actors
from actors import Recipient, Ref
from ollama_actor._cli._exit import PartialAnswer
from ollama_actor._cli._views import View, shows_text
from ollama_actor._errors import is_retryable
from ollama_actor._handle import StreamHandle
from ollama_actor._retry import DEFAULT_RETRY, RetryPolicy

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


class _Watch:
    """The recipient of a stream written for good: passes every message on to the printer,
    noting whether a chunk with text was told. `tell` runs on the loop thread, before the
    retry predicate is asked about the failure that ends the attempt, so no race."""

    __slots__ = ("_printer", "_thinking", "told_text")

    def __init__(self, printer: pykka.ActorRef[Any], *, thinking: bool) -> None:
        self._printer = printer
        self._thinking = thinking
        self.told_text = False

    def tell(self, message: Any) -> None:
        if not self.told_text:
            _ref, (kind, payload) = message
            self.told_text = kind == "data" and shows_text(payload, thinking=self._thinking)
        self._printer.tell(message)


def run_stream(
    start: Callable[[Recipient, RetryPolicy], StreamHandle],
    view: View,
    retry: RetryPolicy = DEFAULT_RETRY,
    *,
    written_for_good: bool = False,
    thinking_shown: bool = True,
) -> dict[str, Any]:
    """Run one stream to a fresh `StreamPrinter` and return its accumulated response.

    ``start(recipient, retry)`` sends the request (``client.chat(..., stream=recipient,
    retry=retry)``). With ``written_for_good`` (the view writes a generation where nothing can
    be taken back), a failure after the first chunk with text is not retried, and is raised as
    `PartialAnswer` when a retry would otherwise have been made (``thinking_shown``: whether
    thinking counts as text). Raises the stream's error; on Ctrl-C cancels the stream, waits for
    its end and raises KeyboardInterrupt.
    """
    outcome = Outcome()
    printer = StreamPrinter.start(view, outcome)
    recipient: Recipient = printer
    watch: _Watch | None = None
    if written_for_good and retry.restart == "transient":
        watch = recipient = _Watch(printer, thinking=thinking_shown)
        allowed = retry.retryable
        retry = dataclasses.replace(
            retry, retryable=lambda exc: not watch.told_text and allowed(exc)
        )
    try:
        handle = start(recipient, retry)
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
        error = outcome.error
        if error is not None:
            if watch is not None and watch.told_text and is_retryable(error):
                raise PartialAnswer(error) from error
            raise error
        assert outcome.response is not None
        return outcome.response
    finally:
        with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
            printer.stop(timeout=CANCEL_WAIT)
