"""An Ollama client whose streams are delivered to actors.

`Ollama` is the client (``Ollama([url, ...])``: an `OllamaPool`, one client for several
hosts); ``stream=True`` gives a lazy `Streaming`, ``stream=recipient`` a supervised
`StreamHandle`, whose messages a recipient can fold with `StreamReply`. Every failure of a
request is an `OllamaError`; a bounded wait that ends (``handle.result(timeout)``) raises the
builtin `TimeoutError`, and a supervisor of yours that refuses a stream's worker its
`actors.SupervisorError`. As a library it logs to the ``ollama_actor`` loggers and prints nothing
unless the application configures logging.

The names are loaded on first use: ``import ollama_actor`` alone (as the pytest plugin and the
emulator do) imports neither httpx nor the actor runtime. The first use checks that the top-level
``actors`` package is the one installed with this one: if something else named ``actors`` hides
it, an ImportError says what and where. ``__version__`` is the installed distribution's.
"""

import importlib as _importlib
import logging as _logging
from typing import TYPE_CHECKING

from ollama_actor._actors_check import check_actors as _check_actors
from ollama_actor._errors import (
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    DecodeError,
    HTTPError,
    IncompleteStream,
    InternalError,
    LineTooLong,
    NodeLost,
    NoHostUp,
    OllamaError,
    PoolBusy,
    ProtocolError,
    ReadTimeout,
    RecipientBehind,
    RecipientDead,
    RequestTimeout,
    ResponseError,
    StreamCancelled,
    TotalTimeout,
    TransportError,
    UsageError,
    ValidationError,
    is_retryable,
)

if TYPE_CHECKING:
    from ollama_actor._client import Ollama, blob_digest
    from ollama_actor._handle import StreamHandle, default_supervisor, stop_default_supervisor
    from ollama_actor._host import parse_host
    from ollama_actor._pool_client import OllamaPool
    from ollama_actor._retry import RetryPolicy
    from ollama_actor._schemas import UncheckedOptions
    from ollama_actor._status import StatusServer
    from ollama_actor._stream_reply import StreamReply
    from ollama_actor._streaming import Streaming
    from ollama_actor._timeout import Timeout

    __version__: str

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

_LAZY = {
    "Ollama": "_client",
    "blob_digest": "_client",
    "RetryPolicy": "_retry",
    "StreamHandle": "_handle",
    "default_supervisor": "_handle",
    "stop_default_supervisor": "_handle",
    "parse_host": "_host",
    "OllamaPool": "_pool_client",
    "UncheckedOptions": "_schemas",
    "StatusServer": "_status",
    "StreamReply": "_stream_reply",
    "Streaming": "_streaming",
    "Timeout": "_timeout",
}
"""The public names not imported above, and their modules (the same as the imports just above)."""


def _load(name: str) -> object:
    """A public name on first use (module ``__getattr__``), kept for the next.

    Every one of them needs the actor runtime: a stray ``actors`` is refused here, not at
    ``import ollama_actor``, so that it cannot break the pytest plugin in every pytest run.
    """
    if name in _LAZY or name == "__version__":
        _check_actors()
    if name == "__version__":  # one distribution: the actors' version is ours
        module = "actors"
    elif name in _LAZY:
        module = f"{__name__}.{_LAZY[name]}"
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


if not TYPE_CHECKING:  # mypy sees the imports above, and refuses a name that does not exist
    __getattr__ = _load


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "Ollama",
    "OllamaError",
    "OllamaPool",
    "PoolBusy",
    "ProtocolError",
    "ReadTimeout",
    "RecipientBehind",
    "RecipientDead",
    "RequestTimeout",
    "ResponseError",
    "RetryPolicy",
    "StatusServer",
    "StreamCancelled",
    "StreamHandle",
    "StreamReply",
    "Streaming",
    "Timeout",
    "TotalTimeout",
    "TransportError",
    "UncheckedOptions",
    "UsageError",
    "ValidationError",
    "blob_digest",
    "default_supervisor",
    "is_retryable",
    "parse_host",
    "stop_default_supervisor",
]
