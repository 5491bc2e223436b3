"""Every failure of a request, and every misuse, as one shallow tree under `OllamaError`.

Two things are not: a bounded wait that ends (``StreamHandle.result(timeout)``) raises the
builtin `TimeoutError`, since the stream goes on; and a supervisor of the caller's that refuses
a stream's worker ends the stream with its own `actors.SupervisorError`.

Foreign exceptions (socket errors, JSON errors, httpx's URL errors) are mapped to these types where
they enter the package, so callers only ever catch our own. Where Python has a builtin for the same
failure, ours subclass it too, so that code written for the official client keeps working: a
failure to connect is a `ConnectionError` (as ollama-python raises), a lost connection too, a
timeout a `TimeoutError`, a bad parameter a `ValueError`. Each error says whether sending the
same request again may help (`retryable`, read through `is_retryable`, the predicate the supervised
streams' `RetryPolicy` uses by default) and whether the server refused the request as written
(`refused`: an unknown model, a missing capability, invalid input, no access), so that the caller
must change it. docs/protocol.md has the whole classification as a table.
"""

from __future__ import annotations

import builtins
import re

__all__ = [
    "ConnectError",
    "ConnectTimeout",
    "ConnectionLost",
    "DecodeError",
    "HTTPError",
    "IncompleteStream",
    "InternalError",
    "LineTooLong",
    "NoHostUp",
    "NodeLost",
    "OllamaError",
    "PoolBusy",
    "ProtocolError",
    "ReadTimeout",
    "RecipientBehind",
    "RecipientDead",
    "RequestTimeout",
    "ResponseError",
    "StreamCancelled",
    "TotalTimeout",
    "TransportError",
    "UsageError",
    "ValidationError",
    "is_retryable",
]

# Ollama's words for a request that can never succeed as sent, in HTTP error bodies and in
# ``{"error": ...}`` lines: "model 'x' not found", "pull model manifest: file does not exist",
# "open .../manifests/...: no such file or directory" (push), "unauthorized: access denied",
# '"bert" does not support chat', "invalid model name", ...
_REFUSAL = re.compile(
    r"not found|does not exist|no such file|unauthori[sz]ed|access denied|not authori[sz]ed"
    r"|forbidden|does not support|\binvalid\b|is required|must be of type|insecure protocol",
    re.IGNORECASE,
)
# A crashed or stopped runner may quote any text of its own, but loading it again can mend it.
_RUNNER_FAILURE = re.compile(
    r"error was encountered while running the model|model runner has unexpectedly stopped"
    r"|unexpected eof",
    re.IGNORECASE,
)


# A name Ollama quotes in its texts (a model, a URL, a path, the caller's own value) is not its
# verdict: a model named "invalid", or a registry URL holding "forbidden", must not make a failure
# final. Names have no spaces; a quoted phrase is kept. Go's %q writes "...", models come in '...'
# (an apostrophe inside a word is not a quote).
_QUOTED_NAME = re.compile(r'"[^"\s]*"|(?<!\w)\'[^\'\s]*\'(?!\w)')


def _refusal(text: str) -> bool:
    """Whether Ollama's error text says that the request itself cannot succeed."""
    said = _QUOTED_NAME.sub('""', text)
    return _REFUSAL.search(said) is not None and _RUNNER_FAILURE.search(said) is None


def is_retryable(exc: BaseException) -> bool:
    """Whether sending the same request again, to this server or to another, may succeed.

    The default of `RetryPolicy` (``retryable=``) and the table in docs/protocol.md: transport
    failures, timeouts and cut streams, HTTP 5xx, 408 and 429, and ``{"error": ...}`` lines are
    retryable, unless Ollama's text says the request cannot succeed (a model, file or manifest
    that does not exist, no access, an unsupported capability, invalid input; the words of a
    name it quotes, such as a model called "invalid", do not count). A runner crash
    ("an error was encountered while running the model", "unexpected EOF") is retryable. Other
    4xx, malformed lines, a stream that ends without its final line, cancel, a dead recipient
    and anything that is not an `OllamaError` are not. Pure: reads only ``exc``.
    """
    return isinstance(exc, OllamaError) and exc.retryable


class OllamaError(Exception):
    """Base class of every error raised by `ollama_actor`."""

    retryable: bool = False
    """Whether sending the same request again may succeed (read it with `is_retryable`)."""

    refused: bool = False
    """Whether the request as written cannot succeed: the caller has to change it."""

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle by arguments and attributes, whatever ``__init__`` takes: an error crosses
        processes (a Ray recipient is told it) with its type, text and fields intact."""
        return (_restore, (type(self), self.args, self.__dict__))


def _restore(cls: type[OllamaError], args: tuple[object, ...], state: dict[str, object]) -> object:
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class ValidationError(OllamaError, ValueError):
    """A parameter is missing, unknown or of the wrong type; raised before any I/O."""

    refused = True

    def __init__(self, endpoint: str, field: str, problem: str) -> None:
        self.endpoint = endpoint
        self.field = field
        self.problem = problem
        super().__init__(f"{endpoint}: {field!r} {problem}")


class HTTPError(OllamaError):
    """Ollama answered with a non-success status; `error` is Ollama's own error text."""

    def __init__(self, status: int, error: str, *, method: str = "", path: str = "") -> None:
        self.status = status
        self.error = error
        self.method = method
        self.path = path
        where = f" from {method} {path}" if method else ""
        super().__init__(f"{error} (HTTP {status}{where})")

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        """408 (timeout) and 429 (rate limited) may pass, and 5xx unless the text refuses."""
        if self.status in (408, 429):
            return True
        return self.status >= 500 and not _refusal(self.error)

    @property
    def refused(self) -> bool:  # type: ignore[override]
        """Other 4xx, and a 5xx whose text says the request cannot succeed."""
        if self.status in (408, 429):
            return False
        return 400 <= self.status < 500 or (self.status >= 500 and _refusal(self.error))


class ResponseError(OllamaError):
    """The server sent an ``{"error": ...}`` line in the middle of a stream (or as the whole of
    a successful reply that is not streamed)."""

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(error)

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        """Yes, unless the text says the request cannot succeed (see `is_retryable`)."""
        return not _refusal(self.error)

    @property
    def refused(self) -> bool:  # type: ignore[override]
        """Whether the text says the request cannot succeed (an unknown model, no access...)."""
        return _refusal(self.error)


class TransportError(OllamaError):
    """The connection failed: nothing, or only part of the response, arrived."""

    retryable = True


class ConnectError(TransportError, builtins.ConnectionError):
    """No connection could be made (refused, unreachable, name not resolved, TLS failed)."""


class NoHostUp(ConnectError):
    """No host of a pool could take the request: each is down, or refused this request's
    connection. Nothing was sent; the message names each host and why."""


class ConnectionLost(TransportError, builtins.ConnectionError):
    """The server closed or reset the connection before the response was complete."""


class ProtocolError(TransportError):
    """The server's reply broke HTTP/1.1 (bad status line, headers or chunk framing)."""


class IncompleteStream(ProtocolError):
    """A stream's body ended cleanly without Ollama's final line (``done: true``, or the
    ``success`` status of pull, push and create): a server defect, so it is not retried."""

    retryable = False


# What each bound's error message says to change, after what happened.
READ_FIX = "; Timeout(read=...) waits longer (for a model slow to load or to answer)"
CONNECT_FIX = "; is the host reachable? Timeout(connect=...) waits longer"
TOTAL_FIX = "; Timeout(total=...) allows more (it bounds each attempt)"
LINE_FIX = "; Ollama(max_line=...) allows longer lines"


class RequestTimeout(TransportError, builtins.TimeoutError):
    """A time bound set by `Timeout` passed."""


class ConnectTimeout(RequestTimeout, builtins.ConnectionError):
    """Connecting took longer than the connect bound (so no connection was made either)."""


class ReadTimeout(RequestTimeout):
    """No byte arrived for longer than the read bound (a stalled server or stream)."""


class TotalTimeout(RequestTimeout):
    """The whole request took longer than the total bound."""


class PoolBusy(OllamaError):
    """Every host of a pool that is up has its limit of requests in flight, and the pool's
    queue is full, or the request waited in it past its time bound. Nothing was sent."""

    retryable = True


class DecodeError(OllamaError):
    """A response line or body is not valid UTF-8 JSON; retrying the same request will not help."""


class LineTooLong(DecodeError):
    """A streamed line exceeded the client's maximum line length."""


class UsageError(OllamaError, builtins.RuntimeError):
    """The package was called in a way it does not support: a `Streaming` started twice, a
    call that blocks made on the shared loop thread (where it would wait for itself). A bug
    in the calling code; the message says what to call instead. Raised before any I/O."""


class InternalError(OllamaError):
    """A defect: code that ran for the stream raised where it must not (the package's own, or
    a stream sink's). The original exception is chained (``__cause__``) and was logged; the
    stream ended rather than hang. Not retried: please report it."""


CANCEL_REASONS = {
    "caller": "the stream was cancelled",
    "dropped": "the Streaming was dropped before it ended",
    "recipient_died": "the recipient has stopped",
    "shutdown": "the stream's worker was stopped",
    "worker_failed": "the stream's worker failed",
    "closed": "the client was closed",
    "interrupted": "the call was interrupted",
}
"""The `StreamCancelled.reason` of each cancel the package makes, and its message."""


class StreamCancelled(OllamaError):
    """The stream was ended before its end; `reason` says who ended it.

    ``"caller"``: ``cancel()`` on its handle, `Streaming` or worker (or leaving a ``with
    streaming:`` block, or cancelling the task of an ``async for``); ``"dropped"``: a running
    `Streaming` was garbage-collected; ``"recipient_died"``: its recipient stopped (always a
    `RecipientDead`); ``"shutdown"``: its worker, or the supervisor it was given, was stopped;
    ``"worker_failed"``: its worker crashed; ``"closed"``: the client was closed;
    ``"interrupted"``: Ctrl-C during a call that blocks. ``cancel(reason)`` with another
    word keeps that word. A timeout is never a cancel: a `Timeout` bound ends the stream with
    a `RequestTimeout`.
    """

    def __init__(self, reason: str = "caller", message: str | None = None) -> None:
        self.reason = reason
        self._message = message
        super().__init__(message or CANCEL_REASONS.get(reason, reason))


class RecipientDead(StreamCancelled):
    """The actor receiving a stream has stopped, so the stream was ended (``reason`` is
    ``"recipient_died"``), however it was noticed: its monitor, or a ``tell`` that failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__("recipient_died", message)


def cancelled(reason: str, message: str | None = None) -> StreamCancelled:
    """The error a stream cancelled for ``reason`` ends with: a `RecipientDead` when its
    recipient died, however that was noticed, so the outcome does not depend on timing."""
    if reason == "recipient_died":
        return RecipientDead(message)
    return StreamCancelled(reason, message)


class RecipientBehind(OllamaError):
    """A recipient in another process (a Ray actor) fell too far behind the stream: more of
    its messages were waiting to be delivered than its limit allows, so the stream was ended
    rather than let them pile up in memory. Not retried: the recipient is still slow."""


class NodeLost(TransportError):
    """The Ray actor running a stream (a `StreamCluster` node) died or became unreachable
    before the stream ended. Retryable: another node may run it."""
