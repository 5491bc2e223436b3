"""The typed keyword arguments of each endpoint: an editor offers them, mypy checks them.

GENERATED from `ollama_actor._schemas.ENDPOINTS` by ``python -m ollama_actor._gen_params``
(``make params``); do not edit: a test fails when this file is stale.

``<Name>Params`` is the TypedDict of an endpoint's parameters, Ollama's JSON fields;
``<Name>Call`` types the method (``Ollama.<name>``), with one overload per kind of ``stream``
where the endpoint streams. So ``client.completion(model="m", promt="x")`` is a type error,
and ``client.chat(..., stream=True)`` is a `Streaming`. The annotations are evaluated (no
``from __future__ import annotations``), so that ``Required`` is seen at run time too.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, Required, TypedDict, Unpack, overload

from pykka import ActorRef

from actors._monitor import Recipient
from ollama_actor._handle import StreamHandle
from ollama_actor._retry import RetryPolicy
from ollama_actor._schemas import ImageInput, MessageInput, OptionsInput, ToolInput
from ollama_actor._streaming import Streaming
from ollama_actor._timeout import TimeoutLike

__all__ = [
    "ChatCall",
    "ChatParams",
    "CompletionCall",
    "CompletionParams",
    "CopyModelCall",
    "CopyModelParams",
    "CreateModelCall",
    "CreateModelParams",
    "DeleteModelCall",
    "DeleteModelParams",
    "EmbedCall",
    "EmbedParams",
    "EmbeddingsCall",
    "EmbeddingsParams",
    "ListModelsCall",
    "ListModelsParams",
    "ListRunningCall",
    "ListRunningParams",
    "PreloadCall",
    "PreloadParams",
    "PullModelCall",
    "PullModelParams",
    "PushModelCall",
    "PushModelParams",
    "ShowModelCall",
    "ShowModelParams",
    "UnloadCall",
    "UnloadParams",
    "VersionCall",
    "VersionParams",
    "WebFetchCall",
    "WebFetchParams",
    "WebSearchCall",
    "WebSearchParams",
]


class CompletionParams(TypedDict, total=False):
    """The parameters of ``Ollama.completion``: Ollama's JSON fields."""

    model: Required[str]
    """model name, e.g. 'llama3.2'"""

    format: Literal["json", ""] | Mapping[str, Any] | None
    """'json' or a JSON schema the reply must follow ('' for none)"""

    options: OptionsInput | None
    """runtime options such as temperature, num_ctx, seed"""

    keep_alive: float | str | None
    """how long the model stays loaded: seconds or '5m'"""

    think: bool | Literal["low", "medium", "high", "max"] | None
    """think before answering: true/false or 'low'/'medium'/'high'/'max'"""

    truncate: bool | None
    """truncate input that exceeds the context"""

    shift: bool | None
    """shift the context window when it fills"""

    logprobs: bool | None
    """return log probabilities of the tokens"""

    top_logprobs: int | None
    """how many alternatives per token (0-20)"""

    prompt: Required[str]
    """the prompt"""

    suffix: str | None
    """text after the completion (fill in the middle)"""

    images: Sequence[ImageInput] | None
    """images for vision models: base64, bytes, or a file's path"""

    system: str | None
    """system message, overriding the model's"""

    template: str | None
    """prompt template, overriding the model's"""

    context: Sequence[int] | None
    """context from an earlier completion"""

    raw: bool | None
    """send the prompt without a template"""

    width: int | None
    """image width in pixels (image generation models)"""

    height: int | None
    """image height in pixels (image generation models)"""

    steps: int | None
    """diffusion steps (image generation models)"""


class CompletionCall(Protocol):
    """The type of ``Ollama.completion``."""

    @overload
    def __call__(
        self,
        *,
        stream: Literal[False] = False,
        timeout: TimeoutLike = ...,
        **params: Unpack[CompletionParams],
    ) -> dict[str, Any]: ...
    @overload
    def __call__(
        self,
        *,
        stream: Literal[True],
        timeout: TimeoutLike = ...,
        **params: Unpack[CompletionParams],
    ) -> Streaming: ...
    @overload
    def __call__(
        self,
        *,
        stream: Recipient,
        timeout: TimeoutLike = ...,
        supervisor: ActorRef[Any] | None = ...,
        retry: RetryPolicy | None = ...,
        **params: Unpack[CompletionParams],
    ) -> StreamHandle: ...
    @overload
    def __call__(
        self,
        *,
        stream: bool,
        timeout: TimeoutLike = ...,
        **params: Unpack[CompletionParams],
    ) -> dict[str, Any] | Streaming: ...


class ChatParams(TypedDict, total=False):
    """The parameters of ``Ollama.chat``: Ollama's JSON fields."""

    model: Required[str]
    """model name, e.g. 'llama3.2'"""

    format: Literal["json", ""] | Mapping[str, Any] | None
    """'json' or a JSON schema the reply must follow ('' for none)"""

    options: OptionsInput | None
    """runtime options such as temperature, num_ctx, seed"""

    keep_alive: float | str | None
    """how long the model stays loaded: seconds or '5m'"""

    think: bool | Literal["low", "medium", "high", "max"] | None
    """think before answering: true/false or 'low'/'medium'/'high'/'max'"""

    truncate: bool | None
    """truncate input that exceeds the context"""

    shift: bool | None
    """shift the context window when it fills"""

    logprobs: bool | None
    """return log probabilities of the tokens"""

    top_logprobs: int | None
    """how many alternatives per token (0-20)"""

    messages: Required[Sequence[MessageInput]]
    """the conversation so far"""

    tools: Sequence[ToolInput] | None
    """tools the model may call"""


class ChatCall(Protocol):
    """The type of ``Ollama.chat``."""

    @overload
    def __call__(
        self,
        *,
        stream: Literal[False] = False,
        timeout: TimeoutLike = ...,
        **params: Unpack[ChatParams],
    ) -> dict[str, Any]: ...
    @overload
    def __call__(
        self,
        *,
        stream: Literal[True],
        timeout: TimeoutLike = ...,
        **params: Unpack[ChatParams],
    ) -> Streaming: ...
    @overload
    def __call__(
        self,
        *,
        stream: Recipient,
        timeout: TimeoutLike = ...,
        supervisor: ActorRef[Any] | None = ...,
        retry: RetryPolicy | None = ...,
        **params: Unpack[ChatParams],
    ) -> StreamHandle: ...
    @overload
    def __call__(
        self,
        *,
        stream: bool,
        timeout: TimeoutLike = ...,
        **params: Unpack[ChatParams],
    ) -> dict[str, Any] | Streaming: ...


class EmbedParams(TypedDict, total=False):
    """The parameters of ``Ollama.embed``: Ollama's JSON fields."""

    model: Required[str]
    """model name, e.g. 'llama3.2'"""

    input: Required[str | Sequence[str]]
    """text or texts to embed"""

    truncate: bool | None
    """truncate input that exceeds the context"""

    dimensions: int | None
    """size of the returned vectors"""

    options: OptionsInput | None
    """runtime options such as temperature, num_ctx, seed"""

    keep_alive: float | str | None
    """how long the model stays loaded: seconds or '5m'"""


class EmbedCall(Protocol):
    """The type of ``Ollama.embed``."""

    def __call__(
        self, *, timeout: TimeoutLike = ..., **params: Unpack[EmbedParams]
    ) -> dict[str, Any]: ...


class EmbeddingsParams(TypedDict, total=False):
    """The parameters of ``Ollama.embeddings``: Ollama's JSON fields."""

    model: Required[str]
    """model name, e.g. 'llama3.2'"""

    prompt: Required[str]
    """text to embed"""

    options: OptionsInput | None
    """runtime options such as temperature, num_ctx, seed"""

    keep_alive: float | str | None
    """how long the model stays loaded: seconds or '5m'"""


class EmbeddingsCall(Protocol):
    """The type of ``Ollama.embeddings``."""

    def __call__(
        self, *, timeout: TimeoutLike = ..., **params: Unpack[EmbeddingsParams]
    ) -> dict[str, Any]: ...


class ListModelsParams(TypedDict, total=False):
    """The parameters of ``Ollama.list_models``: Ollama's JSON fields."""


class ListModelsCall(Protocol):
    """The type of ``Ollama.list_models``."""

    def __call__(
        self, *, timeout: TimeoutLike = ..., **params: Unpack[ListModelsParams]
    ) -> dict[str, Any]: ...


class ListRunningParams(TypedDict, total=False):
    """The parameters of ``Ollama.list_running``: Ollama's JSON fields."""


class ListRunningCall(Protocol):
    """The type of ``Ollama.list_running``."""

    def __call__(
        self, *, timeout: TimeoutLike = ..., **params: Unpack[ListRunningParams]
    ) -> dict[str, Any]: ...


class ShowModelParams(TypedDict, total=False):
    """The parameters of ``Ollama.show_model``: Ollama's JSON fields."""

    model: Required[str]
    """model name, e.g. 'llama3.2'"""

    verbose: bool | None
    """include large model details"""

    system: str | None
    """a system message to show the model with"""

    template: str | None
    """a template to show the model with (deprecated)"""

    options: OptionsInput | None
    """options to show the model with"""


class ShowModelCall(Protocol):
    """The type of ``Ollama.show_model``."""

    def __call__(
        self, *, timeout: TimeoutLike = ..., **params: Unpack[ShowModelParams]
    ) -> dict[str, Any]: ...


class CreateModelParams(TypedDict, total=False):
    """The parameters of ``Ollama.create_model``: Ollama's JSON fields."""

    model: Required[str]
    """model name, e.g. 'llama3.2'"""

    from_: str | None
    """the model to start from"""

    files: Mapping[str, Any] | None
    """file names mapped to blob digests"""

    adapters: Mapping[str, Any] | None
    """adapter names mapped to blob digests"""

    template: str | None
    """prompt template"""

    license: str | Sequence[str] | None
    """license text"""

    system: str | None
    """system message"""

    parameters: OptionsInput | None
    """model parameters"""

    messages: Sequence[MessageInput] | None
    """messages to start chats with"""

    quantize: str | None
    """quantization, e.g. 'q4_K_M'"""

    renderer: str | None
    """the renderer that builds the model's prompts"""

    parser: str | None
    """the parser that reads the model's output"""

    requires: str | None
    """the oldest Ollama version the model runs on"""

    remote_host: str | None
    """the URL of the Ollama the model runs on, if remote"""

    draft_files: Mapping[str, Any] | None
    """draft model file names mapped to blob digests"""

    draft_quantize: str | None
    """quantization of the draft model"""

    info: Mapping[str, Any] | None
    """more information about the model"""

    modelfile: str | None
    """Modelfile contents (older Ollama versions)"""


class CreateModelCall(Protocol):
    """The type of ``Ollama.create_model``."""

    @overload
    def __call__(
        self,
        *,
        stream: Literal[False] = False,
        timeout: TimeoutLike = ...,
        **params: Unpack[CreateModelParams],
    ) -> dict[str, Any]: ...
    @overload
    def __call__(
        self,
        *,
        stream: Literal[True],
        timeout: TimeoutLike = ...,
        **params: Unpack[CreateModelParams],
    ) -> Streaming: ...
    @overload
    def __call__(
        self,
        *,
        stream: Recipient,
        timeout: TimeoutLike = ...,
        supervisor: ActorRef[Any] | None = ...,
        retry: RetryPolicy | None = ...,
        **params: Unpack[CreateModelParams],
    ) -> StreamHandle: ...
    @overload
    def __call__(
        self,
        *,
        stream: bool,
        timeout: TimeoutLike = ...,
        **params: Unpack[CreateModelParams],
    ) -> dict[str, Any] | Streaming: ...


class CopyModelParams(TypedDict, total=False):
    """The parameters of ``Ollama.copy_model``: Ollama's JSON fields."""

    source: Required[str]
    """existing model"""

    destination: Required[str]
    """new name"""


class CopyModelCall(Protocol):
    """The type of ``Ollama.copy_model``."""

    def __call__(
        self, *, timeout: TimeoutLike = ..., **params: Unpack[CopyModelParams]
    ) -> bool: ...


class DeleteModelParams(TypedDict, total=False):
    """The parameters of ``Ollama.delete_model``: Ollama's JSON fields."""

    model: Required[str]
    """model name, e.g. 'llama3.2'"""


class DeleteModelCall(Protocol):
    """The type of ``Ollama.delete_model``."""

    def __call__(
        self, *, timeout: TimeoutLike = ..., **params: Unpack[DeleteModelParams]
    ) -> bool: ...


class PullModelParams(TypedDict, total=False):
    """The parameters of ``Ollama.pull_model``: Ollama's JSON fields."""

    model: Required[str]
    """model name, e.g. 'llama3.2'"""

    insecure: bool | None
    """allow an insecure registry"""


class PullModelCall(Protocol):
    """The type of ``Ollama.pull_model``."""

    @overload
    def __call__(
        self,
        *,
        stream: Literal[False] = False,
        timeout: TimeoutLike = ...,
        **params: Unpack[PullModelParams],
    ) -> dict[str, Any]: ...
    @overload
    def __call__(
        self,
        *,
        stream: Literal[True],
        timeout: TimeoutLike = ...,
        **params: Unpack[PullModelParams],
    ) -> Streaming: ...
    @overload
    def __call__(
        self,
        *,
        stream: Recipient,
        timeout: TimeoutLike = ...,
        supervisor: ActorRef[Any] | None = ...,
        retry: RetryPolicy | None = ...,
        **params: Unpack[PullModelParams],
    ) -> StreamHandle: ...
    @overload
    def __call__(
        self,
        *,
        stream: bool,
        timeout: TimeoutLike = ...,
        **params: Unpack[PullModelParams],
    ) -> dict[str, Any] | Streaming: ...


class PushModelParams(TypedDict, total=False):
    """The parameters of ``Ollama.push_model``: Ollama's JSON fields."""

    model: Required[str]
    """model name, e.g. 'llama3.2'"""

    insecure: bool | None
    """allow an insecure registry"""


class PushModelCall(Protocol):
    """The type of ``Ollama.push_model``."""

    @overload
    def __call__(
        self,
        *,
        stream: Literal[False] = False,
        timeout: TimeoutLike = ...,
        **params: Unpack[PushModelParams],
    ) -> dict[str, Any]: ...
    @overload
    def __call__(
        self,
        *,
        stream: Literal[True],
        timeout: TimeoutLike = ...,
        **params: Unpack[PushModelParams],
    ) -> Streaming: ...
    @overload
    def __call__(
        self,
        *,
        stream: Recipient,
        timeout: TimeoutLike = ...,
        supervisor: ActorRef[Any] | None = ...,
        retry: RetryPolicy | None = ...,
        **params: Unpack[PushModelParams],
    ) -> StreamHandle: ...
    @overload
    def __call__(
        self,
        *,
        stream: bool,
        timeout: TimeoutLike = ...,
        **params: Unpack[PushModelParams],
    ) -> dict[str, Any] | Streaming: ...


class PreloadParams(TypedDict, total=False):
    """The parameters of ``Ollama.preload``: Ollama's JSON fields."""

    model: Required[str]
    """model name, e.g. 'llama3.2'"""

    keep_alive: float | str | None
    """how long the model stays loaded: seconds or '5m'"""


class PreloadCall(Protocol):
    """The type of ``Ollama.preload``."""

    def __call__(self, *, timeout: TimeoutLike = ..., **params: Unpack[PreloadParams]) -> bool: ...


class UnloadParams(TypedDict, total=False):
    """The parameters of ``Ollama.unload``: Ollama's JSON fields."""

    model: Required[str]
    """model name, e.g. 'llama3.2'"""


class UnloadCall(Protocol):
    """The type of ``Ollama.unload``."""

    def __call__(self, *, timeout: TimeoutLike = ..., **params: Unpack[UnloadParams]) -> bool: ...


class VersionParams(TypedDict, total=False):
    """The parameters of ``Ollama.version``: Ollama's JSON fields."""


class VersionCall(Protocol):
    """The type of ``Ollama.version``."""

    def __call__(
        self, *, timeout: TimeoutLike = ..., **params: Unpack[VersionParams]
    ) -> dict[str, Any]: ...


class WebSearchParams(TypedDict, total=False):
    """The parameters of ``Ollama.web_search``: Ollama's JSON fields."""

    query: Required[str]
    """what to search the web for"""

    max_results: int | None
    """how many results at most (ollama.com: 1-10)"""


class WebSearchCall(Protocol):
    """The type of ``Ollama.web_search``."""

    def __call__(
        self, *, timeout: TimeoutLike = ..., **params: Unpack[WebSearchParams]
    ) -> dict[str, Any]: ...


class WebFetchParams(TypedDict, total=False):
    """The parameters of ``Ollama.web_fetch``: Ollama's JSON fields."""

    url: Required[str]
    """the page to fetch"""


class WebFetchCall(Protocol):
    """The type of ``Ollama.web_fetch``."""

    def __call__(
        self, *, timeout: TimeoutLike = ..., **params: Unpack[WebFetchParams]
    ) -> dict[str, Any]: ...
