"""Parameter schemas: one declaration per endpoint, checked before any I/O.

Each endpoint lists its parameters by Ollama's JSON field names, with a check, whether it is
required, and older names it also accepts (the seed library's ``name`` for ``model``). A check
knows the Python type it accepts (`Check.hint`), so the same table documents the client, types its
keyword arguments (`ollama_actor._params` is generated from it), and drives the command line.
`validate` returns the JSON body to send or raises `ValidationError` naming the parameter and what
is wrong with it.

Besides JSON-like values the checks take what ollama-python users pass: any object with a
``model_dump()`` method (``ollama.Message``, ``ollama.Tool``, ``ollama.Options``, ``ollama.Image``,
found by duck typing: pydantic is never imported), Python functions as tools (`_tools`), and images
as bytes, a path or a file name (a string naming an existing file is read, as ollama-python does).
"""

from __future__ import annotations

import base64
import difflib
import math
import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeAlias

from ollama_actor._accumulate import Kind
from ollama_actor._errors import ValidationError
from ollama_actor._tools import function_tool

__all__ = [
    "ENDPOINTS",
    "NEWER_OPTIONS_HINT",
    "OPTION_NAMES",
    "Check",
    "Endpoint",
    "ImageInput",
    "MessageInput",
    "ModelDumps",
    "OptionsInput",
    "Param",
    "ToolInput",
    "UncheckedOptions",
    "option_type",
    "validate",
]


class ModelDumps(Protocol):
    """An object that turns itself into plain data: a pydantic model such as ``ollama.Message``."""

    def model_dump(self) -> Any: ...


MessageInput: TypeAlias = Mapping[str, Any] | ModelDumps
"""A chat message: a dict (``{"role": "user", "content": "hi"}``) or an ``ollama.Message``."""
ToolInput: TypeAlias = Mapping[str, Any] | ModelDumps | Callable[..., Any]
"""A tool: its JSON schema as a dict, an ``ollama.Tool``, or a Python function (`_tools`)."""
ImageInput: TypeAlias = str | bytes | bytearray | memoryview | os.PathLike[str] | ModelDumps
"""An image: base64 text, the bytes, a file's path or name, or an ``ollama.Image``."""
OptionsInput: TypeAlias = Mapping[str, Any] | ModelDumps
"""Runtime options: a dict or an ``ollama.Options``."""


class Check:
    """Checks a value at a path: returns the value to send (possibly converted) or raises _Bad.

    ``hint`` is the Python type it accepts, as source text (for `ollama_actor._params`).
    """

    __slots__ = ("_run", "hint")

    def __init__(self, run: Callable[[Any, str], Any], hint: str) -> None:
        self._run = run
        self.hint = hint

    def __call__(self, value: Any, path: str) -> Any:
        return self._run(value, path)


def typed(hint: str) -> Callable[[Callable[[Any, str], Any]], Check]:
    """Declare a check function with the Python type it accepts."""

    def wrap(run: Callable[[Any, str], Any]) -> Check:
        return Check(run, hint)

    return wrap


class _Bad(Exception):
    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value: int | float, path: str) -> int | float:
    """``value`` if JSON can carry it: NaN, infinities and ints beyond a float are not numbers
    to JSON (Python would write ``NaN``, which Ollama refuses as invalid JSON)."""
    try:
        finite = math.isfinite(value)
    except OverflowError:
        finite = False
    if not finite:
        raise _Bad(path, f"must be a finite number, not {value!r:.40}")
    return value


@typed("str")
def string(value: Any, path: str) -> Any:
    if not isinstance(value, str):
        raise _Bad(path, f"must be a string, not {_type_name(value)}")
    return value


@typed("str")
def model_name(value: Any, path: str) -> Any:
    string(value, path)
    if not value.strip():
        raise _Bad(path, "must be a non-empty model name")
    return value


@typed("bool")
def boolean(value: Any, path: str) -> Any:
    if not isinstance(value, bool):
        raise _Bad(path, f"must be true or false, not {_type_name(value)}")
    return value


@typed("int")
def integer(value: Any, path: str) -> Any:
    if not _is_int(value):
        raise _Bad(path, f"must be an integer, not {_type_name(value)}")
    return value


@typed("float")
def number(value: Any, path: str) -> Any:
    if not _is_number(value):
        raise _Bad(path, f"must be a number, not {_type_name(value)}")
    return _finite(value, path)


def plain(value: Any, path: str) -> Any:
    """An object with ``model_dump()`` (a pydantic model) as the plain data it dumps, without
    the fields it leaves unset (None) and with pydantic's aliases (``$defs``); else ``value``."""
    dump = getattr(value, "model_dump", None)
    if not callable(dump) or isinstance(value, type):
        return value
    try:
        try:
            return dump(exclude_none=True, by_alias=True)
        except TypeError:  # a model_dump of its own, without pydantic's arguments
            return _without_none(dump())
    except Exception as exc:
        raise _Bad(path, f"cannot be turned into data: its model_dump() raised {exc}") from None


def _without_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_without_none(v) for v in value]
    return value


@typed("Mapping[str, Any]")
def mapping(value: Any, path: str) -> Any:
    value = plain(value, path)
    if not isinstance(value, Mapping):
        raise _Bad(path, f"must be a dict with string keys, not {_type_name(value)}")
    for key in value:
        if not isinstance(key, str):
            raise _Bad(path, f"must have string keys, not {key!r:.40} ({_type_name(key)})")
    return dict(value)


@typed("Any")
def anything(value: Any, path: str) -> Any:
    """Any JSON value, passed on as it is (a field Ollama reads without a fixed type)."""
    return value


def list_of(item: Check) -> Check:
    @typed(f"Sequence[{item.hint}]")
    def check(value: Any, path: str) -> Any:
        if not isinstance(value, list | tuple):
            raise _Bad(path, f"must be a list, not {_type_name(value)}")
        return [item(v, f"{path}[{i}]") for i, v in enumerate(value)]

    return check


def one_of(*checks: Check, expected: str) -> Check:
    @typed(" | ".join(dict.fromkeys(c.hint for c in checks)))
    def check(value: Any, path: str) -> Any:
        for candidate in checks:
            try:
                return candidate(value, path)
            except _Bad:
                continue
        raise _Bad(path, f"must be {expected}, not {_type_name(value)}")

    return check


def int_range(low: int, high: int | None = None) -> Check:
    @typed("int")
    def check(value: Any, path: str) -> Any:
        integer(value, path)
        if high is None and value < low:
            raise _Bad(path, f"must be {low} or more, not {value}")
        if high is not None and not low <= value <= high:
            raise _Bad(path, f"must be between {low} and {high}, not {value}")
        return value

    return check


_DURATION = re.compile(r"-?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+|0")


@typed("float | str")
def keep_alive(value: Any, path: str) -> Any:
    """Seconds as a number, or a Go duration with units such as ``"5m"`` or ``"-1s"``."""
    if _is_number(value):
        return _finite(value, path)
    if isinstance(value, str) and _DURATION.fullmatch(value):
        return value
    raise _Bad(path, f"must be seconds or a duration with a unit such as '5m', not {value!r}")


@typed('bool | Literal["low", "medium", "high", "max"]')
def think(value: Any, path: str) -> Any:
    if isinstance(value, bool) or value in ("low", "medium", "high", "max"):
        return value
    raise _Bad(path, f"must be true, false, 'low', 'medium', 'high' or 'max', not {value!r}")


@typed('Literal["json", ""] | Mapping[str, Any]')
def response_format(value: Any, path: str) -> Any:
    if value in ("json", ""):
        return value
    if isinstance(value, Mapping):
        return mapping(value, path)
    raise _Bad(path, f"must be 'json' or a JSON schema dict, not {value!r:.60}")


_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@typed("ImageInput")
def image(value: Any, path: str) -> Any:
    """Base64 text as Ollama expects it, from what ollama-python takes for an image.

    Bytes are encoded. A path (`os.PathLike`) is read. A string naming an existing file is
    read too: a file name wins over base64 text, as in ollama-python, so a file named
    ``tmpabcdefgh`` is sent as its contents, not as those letters; a string ending in
    .png, .jpg, .jpeg or .webp that names no file is refused. Any other string must be base64.
    So a string from an untrusted source must not be passed as an image (it may name any file
    the process can read): decode it to bytes first.
    """
    value = plain(value, path)  # an ollama.Image dumps as its base64 text
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, os.PathLike):
        return _read_image(Path(value), path)
    if not isinstance(value, str):
        raise _Bad(path, f"must be base64 text, bytes or a file's path, not {_type_name(value)}")
    try:
        exists = Path(value).is_file()
    except (OSError, ValueError):  # too long for a file name, or a NUL: not a path
        exists = False
    if exists:
        return _read_image(Path(value), path)
    if value.lower().endswith(_IMAGE_SUFFIXES):
        raise _Bad(path, f"names no file: {value!r:.200}")
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        raise _Bad(path, "must be base64-encoded image data, bytes or a file's path") from None
    return value


def _read_image(file: Path, path: str) -> str:
    """The file's bytes as base64; only a regular file is read (opened without waiting, so a
    pipe is refused rather than waited on, and a device is not read for ever)."""
    try:
        descriptor = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                problem = "is not a regular file (a directory, a device or a pipe)"
                raise _Bad(path, f"{problem}: {str(file)!r:.200}")
            with open(descriptor, "rb", closefd=False) as opened:
                data = opened.read()
        finally:
            os.close(descriptor)
    except OSError as exc:
        raise _Bad(path, f"cannot be read: {exc.strerror or exc}: {str(file)!r:.200}") from None
    return base64.b64encode(data).decode("ascii")


_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@typed("str")
def digest(value: Any, path: str) -> Any:
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        raise _Bad(path, f"must be 'sha256:' and 64 lowercase hex digits, not {value!r:.80}")
    return value


def record(
    fields: Mapping[str, Check],
    *,
    required: tuple[str, ...] = (),
    open_: bool = False,
    hint: str = "Mapping[str, Any]",
) -> Check:
    """A dict with known keys; unknown keys are an error unless ``open_``."""

    @typed(hint)
    def check(value: Any, path: str) -> Any:
        value = mapping(value, path)
        for key in required:
            if key not in value:
                raise _Bad(f"{path}.{key}", "is required")
        out = {}
        for key, item in value.items():
            sub = fields.get(key)
            if sub is None:
                if not open_:
                    known = ", ".join(sorted(fields))
                    raise _Bad(f"{path}.{key}", f"is not a known field (known: {known})")
                out[key] = item
            else:
                out[key] = sub(item, f"{path}.{key}")
        return out

    return check


_GO_INT = range(-(1 << 63), 1 << 63)
"""The values of Go's ``int`` on the 64-bit machines Ollama runs on."""


@typed("int")
def integer_option(value: Any, path: str) -> Any:
    """An integer, or a float with an integral value (JSON has only numbers, and Ollama's
    ``Options.FromMap`` takes ``10.0`` for 10); sent as an integer. It must fit Go's ``int``,
    the type of Ollama's field (Go converts a larger number to nonsense, silently)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_int(value):
        raise _Bad(path, f"must be an integer, not {value!r:.40}")
    if value not in _GO_INT:
        raise _Bad(path, f"must fit in a 64-bit integer, not {value}")
    return value


# Ollama's own list: the JSON fields of its Go ``api.Options`` and ``api.Runner`` types
# (api/types.go, Ollama 0.33), with the checks its ``Options.FromMap`` applies to each.
# fmt: off
_OPTIONS: dict[str, Check] = {
    **dict.fromkeys((
        "num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "num_ctx", "num_batch",
        "num_gpu", "main_gpu", "num_thread", "draft_num_predict",
    ), integer_option),
    **dict.fromkeys((
        "top_p", "min_p", "typical_p", "temperature", "repeat_penalty", "presence_penalty",
        "frequency_penalty",
    ), number),
    "use_mmap": boolean,
    "stop": list_of(string),
}
# Options Ollama had and removed (by 0.7); today's servers ignore them.
_REMOVED_OPTIONS = frozenset((
    "mirostat", "mirostat_tau", "mirostat_eta", "tfs_z", "penalize_newline", "numa", "low_vram",
    "f16_kv", "logits_all", "vocab_only", "use_mlock", "embedding_only",
))
# fmt: on

OPTION_NAMES = frozenset(_OPTIONS)
"""The runtime options this release knows: Ollama's ``Options`` and ``Runner`` fields."""


def option_type(name: str) -> type | None:
    """The type of a runtime option's value, ``int``, ``float``, ``bool`` or ``list`` (of
    strings), as Ollama's Go ``Options`` field has it; None for a name not on Ollama's list."""
    check = _OPTIONS.get(name)
    if check is None:
        return None
    return {integer_option: int, number: float, boolean: bool}.get(check, list)


NEWER_OPTIONS_HINT = "send it anyway with UncheckedOptions(...)"
"""How the error for an unknown option name says to send one newer than this release."""


class UncheckedOptions(dict[str, Any]):
    """``options`` whose names are sent without checking them against Ollama's list.

    The escape hatch for a runtime option newer than this release: ``options=UncheckedOptions(
    temperature=0.2, new_knob=1)``. A name on the list still has its value checked; any other
    is sent as given (Ollama ignores names it does not know).
    """

    __slots__ = ()


def _unknown_option(name: str) -> str:
    if name in _REMOVED_OPTIONS:
        problem = "is no longer one of Ollama's options (Ollama 0.7 and later ignore it)"
    else:
        problem = "is not one of Ollama's options"
        near = difflib.get_close_matches(name, OPTION_NAMES, n=1, cutoff=0.6)
        if near:
            problem += f" (did you mean {near[0]!r}?)"
    return f"{problem}; {NEWER_OPTIONS_HINT}"


@typed("OptionsInput")
def options(value: Any, path: str) -> Any:
    """Runtime options, checked by name and value as Ollama's ``Options.FromMap`` reads them.

    A ``None`` value is passed on (Ollama skips it). Names not on Ollama's list are refused
    with the nearest known name, unless ``value`` is an `UncheckedOptions`. An
    ``ollama.Options`` gives the options it sets.
    """
    unchecked = isinstance(value, UncheckedOptions)
    value = mapping(value, path)
    out: dict[str, Any] = {}
    for name, item in value.items():
        check = _OPTIONS.get(name)
        if check is None:
            if not unchecked:
                raise _Bad(f"{path}.{name}", _unknown_option(name))
            out[name] = item
        elif item is None:
            out[name] = None
        else:
            out[name] = check(item, f"{path}.{name}")
    return out


tool_call = record(
    {
        "id": string,
        "type": string,
        "function": record(
            {"index": integer, "name": string, "arguments": mapping}, required=("name",)
        ),
    },
    required=("function",),
)

message = record(
    {
        "role": string,
        "content": string,
        "thinking": string,
        "images": list_of(image),
        "tool_calls": list_of(tool_call),
        "tool_name": string,
        "tool_call_id": string,
    },
    required=("role",),
    hint="MessageInput",
)

_function_tool = record(
    {
        "type": string,
        "items": anything,
        "function": record(
            {"name": string, "description": string, "parameters": mapping},
            required=("name",),
            open_=True,
        ),
    },
    required=("type", "function"),
)


@typed("ToolInput")
def tool(value: Any, path: str) -> Any:
    """A tool as Ollama's ``api.Tool`` reads it: a ``function`` tool is checked (its name
    required); a tool of another type is passed on as given (Ollama reads its ``type`` and
    ``items``, and more as it grows). A Python function becomes the tool that describes it, an
    ``ollama.Tool`` the tool it dumps."""
    value = plain(value, path)
    endpoint = getattr(value, "endpoint", None)
    if callable(value) and isinstance(endpoint, Endpoint):
        return _endpoint_tool(endpoint)
    if callable(value) and not isinstance(value, Mapping):
        try:
            return function_tool(value)
        except TypeError as exc:
            raise _Bad(path, str(exc)) from None
    value = mapping(value, path)
    kind = value.get("type")
    if not isinstance(kind, str):
        problem = "is required" if kind is None else f"must be a string, not {_type_name(kind)}"
        raise _Bad(f"{path}.type", problem)
    if kind == "function":
        return _function_tool(value, path)
    return value


_JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_JSON_TYPES |= {"Sequence": "array", "Mapping": "object"}


def _endpoint_tool(endpoint: Endpoint) -> dict[str, Any]:
    """A client method as a tool, as ollama-python's web search example passes its
    ``web_search``: its parameters, Ollama's JSON fields, each typed as its check's first
    type, described and required as the schema says."""
    properties = {
        name: {"type": _JSON_TYPES.get(re.split(r"[\[ |]", param.check.hint)[0], "string")}
        | {"description": param.doc}
        for name, param in endpoint.params.items()
    }
    required = [name for name, param in endpoint.params.items() if param.required]
    parameters: dict[str, Any] = {"type": "object"} | ({"required": required} if required else {})
    parameters["properties"] = properties
    function = {"name": endpoint.name, "description": endpoint.doc, "parameters": parameters}
    return {"type": "function", "function": function}


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: its check, whether it is required, and what it means."""

    check: Check
    required: bool = False
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How a client method maps to Ollama: method, path, parameters, and its result."""

    name: str
    method: Literal["GET", "POST", "DELETE", "HEAD"]
    path: str
    params: Mapping[str, Param] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    stream: Kind | None = None
    """How a stream of this endpoint accumulates; None if it cannot stream."""
    streams_by_default: bool = False
    """Ollama streams this route unless the body says ``"stream": false``."""
    result: Literal["json", "bool"] = "json"
    hosted: bool = False
    """Sent to ollama.com's hosted API (``Ollama(cloud_url=...)``) with the API key, not to the
    Ollama server of the client."""
    doc: str = ""


def _p(check: Check, doc: str = "", *, required: bool = False) -> Param:
    return Param(check, required, doc)


_MODEL = _p(model_name, "model name, e.g. 'llama3.2'", required=True)
_KEEP_ALIVE = _p(keep_alive, "how long the model stays loaded: seconds or '5m'")
_OPTIONS_PARAM = _p(options, "runtime options such as temperature, num_ctx, seed")
_FORMAT = _p(response_format, "'json' or a JSON schema the reply must follow ('' for none)")
_THINK = _p(think, "think before answering: true/false or 'low'/'medium'/'high'/'max'")
_LEGACY_NAME = {"name": "model"}

_IMAGES = _p(list_of(image), "images for vision models: base64, bytes, or a file's path")
_GENERATION = {
    "model": _MODEL,
    "format": _FORMAT,
    "options": _OPTIONS_PARAM,
    "keep_alive": _KEEP_ALIVE,
    "think": _THINK,
    "truncate": _p(boolean, "truncate input that exceeds the context"),
    "shift": _p(boolean, "shift the context window when it fills"),
    "logprobs": _p(boolean, "return log probabilities of the tokens"),
    "top_logprobs": _p(int_range(0, 20), "how many alternatives per token (0-20)"),
}

ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint(
            "completion",
            "POST",
            "/generate",
            {
                **_GENERATION,
                "prompt": _p(string, "the prompt", required=True),
                "suffix": _p(string, "text after the completion (fill in the middle)"),
                "images": _IMAGES,
                "system": _p(string, "system message, overriding the model's"),
                "template": _p(string, "prompt template, overriding the model's"),
                "context": _p(list_of(integer), "context from an earlier completion"),
                "raw": _p(boolean, "send the prompt without a template"),
                "width": _p(int_range(1), "image width in pixels (image generation models)"),
                "height": _p(int_range(1), "image height in pixels (image generation models)"),
                "steps": _p(int_range(1), "diffusion steps (image generation models)"),
            },
            stream="generate",
            streams_by_default=True,
            doc="Generate a completion for a prompt.",
        ),
        Endpoint(
            "chat",
            "POST",
            "/chat",
            {
                **_GENERATION,
                "messages": _p(list_of(message), "the conversation so far", required=True),
                "tools": _p(list_of(tool), "tools the model may call"),
            },
            stream="chat",
            streams_by_default=True,
            doc="Generate the next message of a chat.",
        ),
        Endpoint(
            "embed",
            "POST",
            "/embed",
            {
                "model": _MODEL,
                "input": _p(
                    one_of(string, list_of(string), expected="a string or a list of strings"),
                    "text or texts to embed",
                    required=True,
                ),
                "truncate": _p(boolean, "truncate input that exceeds the context"),
                "dimensions": _p(integer, "size of the returned vectors"),
                "options": _OPTIONS_PARAM,
                "keep_alive": _KEEP_ALIVE,
            },
            doc="Embed one text or a list of texts.",
        ),
        Endpoint(
            "embeddings",
            "POST",
            "/embeddings",
            {
                "model": _MODEL,
                "prompt": _p(string, "text to embed", required=True),
                "options": _OPTIONS_PARAM,
                "keep_alive": _KEEP_ALIVE,
            },
            doc="Embed a text (legacy endpoint; prefer embed).",
        ),
        Endpoint("list_models", "GET", "/tags", doc="List local models."),
        Endpoint("list_running", "GET", "/ps", doc="List models loaded in memory."),
        Endpoint(
            "show_model",
            "POST",
            "/show",
            {
                "model": _MODEL,
                "verbose": _p(boolean, "include large model details"),
                "system": _p(string, "a system message to show the model with"),
                "template": _p(string, "a template to show the model with (deprecated)"),
                "options": _p(options, "options to show the model with"),
            },
            aliases=_LEGACY_NAME,
            doc="Show a model's details.",
        ),
        Endpoint(
            "create_model",
            "POST",
            "/create",
            {
                "model": _MODEL,
                "from": _p(string, "the model to start from"),
                "files": _p(record({}, open_=True), "file names mapped to blob digests"),
                "adapters": _p(record({}, open_=True), "adapter names mapped to blob digests"),
                "template": _p(string, "prompt template"),
                "license": _p(
                    one_of(string, list_of(string), expected="a string or a list of strings"),
                    "license text",
                ),
                "system": _p(string, "system message"),
                "parameters": _p(Check(mapping, "OptionsInput"), "model parameters"),
                "messages": _p(list_of(message), "messages to start chats with"),
                "quantize": _p(string, "quantization, e.g. 'q4_K_M'"),
                "renderer": _p(string, "the renderer that builds the model's prompts"),
                "parser": _p(string, "the parser that reads the model's output"),
                "requires": _p(string, "the oldest Ollama version the model runs on"),
                "remote_host": _p(string, "the URL of the Ollama the model runs on, if remote"),
                "draft_files": _p(
                    record({}, open_=True), "draft model file names mapped to blob digests"
                ),
                "draft_quantize": _p(string, "quantization of the draft model"),
                "info": _p(mapping, "more information about the model"),
                "modelfile": _p(string, "Modelfile contents (older Ollama versions)"),
            },
            aliases={**_LEGACY_NAME, "from_": "from", "quantization": "quantize"},
            stream="progress",
            streams_by_default=True,
            doc="Create a model.",
        ),
        Endpoint(
            "copy_model",
            "POST",
            "/copy",
            {
                "source": _p(model_name, "existing model", required=True),
                "destination": _p(model_name, "new name", required=True),
            },
            result="bool",
            doc="Copy a model; False if the source does not exist.",
        ),
        Endpoint(
            "delete_model",
            "DELETE",
            "/delete",
            {"model": _MODEL},
            aliases=_LEGACY_NAME,
            result="bool",
            doc="Delete a model; False if it does not exist.",
        ),
        Endpoint(
            "pull_model",
            "POST",
            "/pull",
            {"model": _MODEL, "insecure": _p(boolean, "allow an insecure registry")},
            aliases=_LEGACY_NAME,
            stream="progress",
            streams_by_default=True,
            doc="Download a model from the registry.",
        ),
        Endpoint(
            "push_model",
            "POST",
            "/push",
            {"model": _MODEL, "insecure": _p(boolean, "allow an insecure registry")},
            aliases=_LEGACY_NAME,
            stream="progress",
            streams_by_default=True,
            doc="Upload a model to the registry.",
        ),
        Endpoint(
            "preload",
            "POST",
            "/generate",
            {"model": _MODEL, "keep_alive": _KEEP_ALIVE},
            streams_by_default=True,
            result="bool",
            doc="Load a model into memory; False if it does not exist.",
        ),
        Endpoint(
            "unload",
            "POST",
            "/generate",
            {"model": _MODEL},
            streams_by_default=True,
            result="bool",
            doc="Unload a model from memory; False if it does not exist.",
        ),
        Endpoint("version", "GET", "/version", doc="The server's version."),
        Endpoint(
            "web_search",
            "POST",
            "/web_search",
            {
                "query": _p(string, "what to search the web for", required=True),
                "max_results": _p(int_range(1), "how many results at most (ollama.com: 1-10)"),
            },
            hosted=True,
            doc="Search the web with ollama.com's hosted API (needs an API key).",
        ),
        Endpoint(
            "web_fetch",
            "POST",
            "/web_fetch",
            {"url": _p(string, "the page to fetch", required=True)},
            hosted=True,
            doc="Fetch a web page's title, text and links with ollama.com's hosted API "
            "(needs an API key).",
        ),
    )
}


def validate(endpoint: Endpoint, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``params`` against the endpoint's schema and return the JSON body to send."""
    body: dict[str, Any] = {}
    for given, value in params.items():
        name = endpoint.aliases.get(given, given)
        param = endpoint.params.get(name)
        if param is None:
            known = ", ".join(endpoint.params) or "none"
            raise ValidationError(endpoint.name, given, f"is not a parameter (known: {known})")
        if name in body:
            raise ValidationError(endpoint.name, name, f"was given twice (as {given!r} too)")
        if value is None and not param.required:
            continue
        try:
            body[name] = param.check(value, name)
        except _Bad as bad:
            raise ValidationError(endpoint.name, bad.path, bad.problem) from None
    for name, param in endpoint.params.items():
        if param.required and name not in body:
            raise ValidationError(endpoint.name, name, "is required")
    return body
