"""An Ollama client whose streams are delivered to actors.

`Ollama` is the client (``Ollama([url, ...])``: an `OllamaPool`, one client for several
hosts); ``stream=True`` gives a lazy `Streaming`, ``stream=recipient`` a supervised
`StreamHandle`, whose messages a recipient can fold with `StreamReply`. Every error is an
`OllamaError`. As a library it logs to the ``ollama_actor`` loggers and prints nothing
unless the application configures logging.
"""

import logging as _logging

from ollama_actor._client import Ollama, blob_digest
from ollama_actor._errors import (
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    DecodeError,
    HTTPError,
    IncompleteStream,
    LineTooLong,
    NoHostUp,
    OllamaError,
    PoolBusy,
    ProtocolError,
    ReadTimeout,
    RecipientDead,
    RequestTimeout,
    ResponseError,
    StreamCancelled,
    TotalTimeout,
    TransportError,
    ValidationError,
    is_retryable,
)
from ollama_actor._handle import RetryPolicy, StreamHandle, default_supervisor
from ollama_actor._host import parse_host
from ollama_actor._pool_client import OllamaPool
from ollama_actor._schemas import UncheckedOptions
from ollama_actor._stream_reply import StreamReply
from ollama_actor._streaming import Streaming
from ollama_actor._timeout import Timeout

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "ConnectError",
    "ConnectTimeout",
    "ConnectionLost",
    "DecodeError",
    "HTTPError",
    "IncompleteStream",
    "LineTooLong",
    "NoHostUp",
    "Ollama",
    "OllamaError",
    "OllamaPool",
    "PoolBusy",
    "ProtocolError",
    "ReadTimeout",
    "RecipientDead",
    "RequestTimeout",
    "ResponseError",
    "RetryPolicy",
    "StreamCancelled",
    "StreamHandle",
    "StreamReply",
    "Streaming",
    "Timeout",
    "TotalTimeout",
    "TransportError",
    "UncheckedOptions",
    "ValidationError",
    "blob_digest",
    "default_supervisor",
    "is_retryable",
    "parse_host",
]
