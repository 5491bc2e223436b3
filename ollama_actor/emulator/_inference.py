"""The inference endpoints: ``/api/generate``, ``/api/chat``, ``/api/embed``, ``/api/embeddings``.

Validation follows the order of Ollama's handlers (so the same request gets the same first error);
generation follows ``_model``'s plan, written with pre-encoded line templates because these lines
are the emulator's hot path.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator, Mapping
from typing import Any

from . import _gojson
from ._bind import CHAT, EMBED, EMBEDDINGS, GENERATE, read_fields
from ._clock import Clock
from ._gojson import go_quote
from ._http import Request
from ._model import ExpectedReply, context_tokens, embedding, expected_reply
from ._names import Name
from ._reply import JSON, NDJSON, ApiError, Reply, Signal, Step, json_reply
from ._store import Model, Store

_INT_OPTIONS = frozenset((
    "num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "num_ctx", "num_batch", "num_gpu",
    "num_thread", "draft_num_predict", "main_gpu", "mirostat",
))  # fmt: skip
_FLOAT_OPTIONS = frozenset((
    "top_p", "min_p", "typical_p", "temperature", "repeat_penalty", "presence_penalty",
    "frequency_penalty", "tfs_z", "mirostat_tau", "mirostat_eta",
))  # fmt: skip
_BOOL_OPTIONS = frozenset(
    {"use_mmap", "numa", "low_vram", "f16_kv", "vocab_only", "use_mlock", "penalize_newline"}
)
_MS = 1_000_000


@functools.lru_cache(maxsize=8192)
def _text(token: str) -> bytes:
    return _gojson.string(token)


def _token_lines(
    head: bytes, clock: Clock, plan: ExpectedReply, *, thinking: bytes, content: bytes, tail: bytes
) -> Iterator[Step]:
    """One streamed line per thinking token, then one per content token, stamped as written."""
    for prefix, tokens in ((thinking, plan.thinking), (content, plan.content)):
        for token in tokens:
            yield head + clock.created_at() + prefix + _text(token) + tail


def _check_options(options: Mapping[str, Any]) -> None:
    """Ollama's ``Options.FromMap`` type checks (its errors surface as 500 from the scheduler);
    like it, a null value is skipped."""
    for key, value in options.items():
        if value is None:
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if key in _INT_OPTIONS and not number:
            raise ApiError(500, f"option {go_quote(key)} must be of type integer")
        if key in _FLOAT_OPTIONS and not number:
            raise ApiError(500, f"option {go_quote(key)} must be of type float32")
        if key in _BOOL_OPTIONS and not isinstance(value, bool):
            raise ApiError(500, f"option {go_quote(key)} must be of type boolean")
        if key == "stop" and not (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
        ):
            raise ApiError(500, f"option {go_quote(key)} must be of type array of strings")


def _check_format(fields: Mapping[str, Any]) -> Any:
    """The ``format`` value if the runner accepts it ("json", a schema object, or unset)."""
    value = fields.get("format")
    if value is None or value in ("", "json") or isinstance(value, dict):
        return value or None
    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    raise ApiError(
        500, f'invalid format: {go_quote(raw)}; expected "json" or a valid JSON Schema object'
    )


def _check_top_logprobs(fields: Mapping[str, Any]) -> None:
    if not 0 <= fields.get("top_logprobs", 0) <= 20:
        raise ApiError(400, "top_logprobs must be between 0 and 20")


def _thinking(fields: Mapping[str, Any], model: Model, model_text: str) -> bool | str:
    """The effective ``think`` value: thinking models think by default, others refuse to."""
    think = fields.get("think")
    if "thinking" in model.capabilities:
        return True if think is None else think
    if think is not None and think is not False:
        raise ApiError(400, f"{go_quote(model_text)} does not support thinking")
    return False


class _Timing:
    """Loads the model when generation starts and turns elapsed time into Ollama's metrics."""

    def __init__(self, store: Store, model: Model, keep_alive: int | None) -> None:
        self.started = time.monotonic_ns()
        warm = store.load(model, keep_alive)
        self.load = (1 if warm else 250) * _MS
        """A cold load is modelled (250 ms), not waited for."""

    def elapsed(self) -> int:
        """Nanoseconds since generation started."""
        return time.monotonic_ns() - self.started

    def metrics(self, prompt_tokens: int, eval_tokens: int) -> dict[str, int]:
        """The six metrics of a final chunk, in Go field order (ns durations).

        Paced generation reports the time it took; unpaced, 5 ms per token is reported.
        """
        prompt = prompt_tokens * _MS // 10
        generated = max(self.elapsed(), eval_tokens * 5 * _MS)
        return {
            "total_duration": self.load + prompt + generated + _MS,
            "load_duration": self.load,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": prompt,
            "eval_count": eval_tokens,
            "eval_duration": generated,
        }


class Inference:
    """Handlers for the endpoints that run the (fake) model."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def _existing(self, model_text: str, name: Name) -> Model:
        model = self._store.get(name) if name.valid else None
        if model is None:
            raise ApiError(404, f"model '{model_text}' not found")
        return model

    def _shortcut(self, model_text: str, done_reason: str, *, chat: bool) -> Reply:
        """The load/unload answer: one JSON object even when streaming was asked for."""
        created = self._clock.created_at().decode()
        if chat:
            body: dict[str, Any] = {
                "model": model_text,
                "created_at": created,
                "message": {"role": "assistant", "content": ""},
            }
        else:
            body = {"model": model_text, "created_at": created, "response": ""}
        body |= {"done": True, "done_reason": done_reason}
        return json_reply(200, body)

    def _unload_after(self, model: Model, keep_alive: int | None) -> Any:
        if keep_alive != 0:
            return None
        return lambda outcome: self._store.unload(model.name)

    # --- /api/generate ---------------------------------------------------------------------------

    def generate(self, request: Request) -> Reply:
        """``POST /api/generate``."""
        fields = read_fields(request.body, GENERATE, "GenerateRequest")
        _check_top_logprobs(fields)
        model_text = fields.get("model", "")
        name = Name.parse(model_text)
        model = self._existing(model_text, name)
        raw = fields.get("raw", False)
        if raw and (fields.get("template") or fields.get("system") or fields.get("context")):
            raise ApiError(400, "raw mode does not support template, system, or context")
        prompt = fields.get("prompt", "")
        keep_alive = fields.get("keep_alive")
        if not prompt and keep_alive == 0:
            self._store.unload(name)
            return self._shortcut(model_text, "unload", chat=False)
        think = _thinking(fields, model, model_text)
        if "completion" not in model.capabilities:
            raise ApiError(400, f"{go_quote(model_text)} does not support generate")
        suffix = fields.get("suffix", "")
        if suffix and "insert" not in model.capabilities:
            raise ApiError(400, f"{name.full} does not support insert")
        options = fields.get("options", {})
        _check_options(options)
        format_ = _check_format(fields)
        if not prompt:
            self._store.load(model, keep_alive)
            return self._shortcut(model_text, "load", chat=False)
        plan = expected_reply(
            model_text,
            prompt,
            options,
            think=think,
            format=format_,
            system=fields.get("system", ""),
            suffix=suffix,
        )
        stream = fields.get("stream", True)
        head = b'{"model":' + _text(model_text) + b',"created_at":"'

        def steps() -> Iterator[Step]:
            timing = _Timing(self._store, model, keep_alive)
            clock = self._clock
            if stream:
                yield from _token_lines(
                    head,
                    clock,
                    plan,
                    thinking=b'","response":"","thinking":',
                    content=b'","response":',
                    tail=b',"done":false}\n',
                )
            else:
                for _ in range(len(plan.thinking) + len(plan.content)):
                    yield Signal.TICK
            final: dict[str, Any] = {
                "model": model_text,
                "created_at": clock.created_at().decode(),
                "response": "" if stream else plan.text,
            }
            if plan.thinking and not stream:
                final["thinking"] = plan.thinking_text
            final |= {"done": True, "done_reason": plan.done_reason}
            if not raw:
                final["context"] = context_tokens(prompt, plan)
            final |= timing.metrics(plan.prompt_eval_count, plan.eval_count)
            yield _gojson.line(final) if stream else _gojson.dumps(final)

        return Reply(
            200,
            NDJSON if stream else JSON,
            steps,
            chunked=stream,
            paced=True,
            slot=True,
            frame=(head + self._clock.created_at() + b'","response":"', b'","done":false}\n'),
            on_end=self._unload_after(model, keep_alive),
        )

    # --- /api/chat -------------------------------------------------------------------------------

    def chat(self, request: Request) -> Reply:
        """``POST /api/chat``."""
        fields = read_fields(request.body, CHAT, "ChatRequest")
        _check_top_logprobs(fields)
        model_text = fields.get("model", "")
        name = Name.parse(model_text)
        messages = fields.get("messages", [])
        keep_alive = fields.get("keep_alive")
        if not messages and keep_alive == 0:
            if not name.valid:
                raise ApiError(400, "invalid model name")
            self._existing(model_text, name)
            self._store.unload(name)
            return self._shortcut(model_text, "unload", chat=True)
        if not name.valid:
            raise ApiError(400, "model is required")
        model = self._existing(model_text, name)
        think = _thinking(fields, model, model_text)
        if "completion" not in model.capabilities:
            raise ApiError(400, f"{go_quote(model_text)} does not support chat")
        tools = fields.get("tools", [])
        if tools and "tools" not in model.capabilities:
            raise ApiError(400, f"{name.full} does not support tools")
        options = fields.get("options", {})
        _check_options(options)
        format_ = _check_format(fields)
        if not messages:
            self._store.load(model, keep_alive)
            return self._shortcut(model_text, "load", chat=True)
        plan = expected_reply(
            model_text, messages, options, think=think, tools=tools, format=format_
        )
        stream = fields.get("stream", True)
        head = b'{"model":' + _text(model_text) + b',"created_at":"'

        def steps() -> Iterator[Step]:
            timing = _Timing(self._store, model, keep_alive)
            clock = self._clock
            if stream:
                yield from _token_lines(
                    head,
                    clock,
                    plan,
                    thinking=b'","message":{"role":"assistant","content":"","thinking":',
                    content=b'","message":{"role":"assistant","content":',
                    tail=b'},"done":false}\n',
                )
                if plan.tool_calls:
                    message = {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": list(plan.tool_calls),
                    }
                    yield _gojson.line(
                        {
                            "model": model_text,
                            "created_at": clock.created_at().decode(),
                            "message": message,
                            "done": False,
                        }
                    )
            else:
                for _ in range(len(plan.thinking) + len(plan.content) + len(plan.tool_calls)):
                    yield Signal.TICK
            message = {"role": "assistant", "content": "" if stream else plan.text}
            if not stream and plan.thinking:
                message["thinking"] = plan.thinking_text
            if not stream and plan.tool_calls:
                message["tool_calls"] = list(plan.tool_calls)
            final: dict[str, Any] = {
                "model": model_text,
                "created_at": clock.created_at().decode(),
                "message": message,
                "done": True,
                "done_reason": plan.done_reason,
            }
            final |= timing.metrics(plan.prompt_eval_count, plan.eval_count)
            yield _gojson.line(final) if stream else _gojson.dumps(final)

        return Reply(
            200,
            NDJSON if stream else JSON,
            steps,
            chunked=stream,
            paced=True,
            slot=True,
            frame=(
                head + self._clock.created_at() + b'","message":{"role":"assistant","content":"',
                b'"},"done":false}\n',
            ),
            on_end=self._unload_after(model, keep_alive),
        )

    # --- /api/embed and /api/embeddings ----------------------------------------------------------

    def embed(self, request: Request) -> Reply:
        """``POST /api/embed``: normalized vectors for a string or a list of strings."""
        fields = read_fields(request.body, EMBED, "EmbedRequest")
        value = fields.get("input")
        inputs: list[str] = []
        if isinstance(value, str):
            inputs = [value] if value else []
        elif isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise ApiError(400, "invalid input type")
            inputs = value
        elif value is not None:
            raise ApiError(400, "invalid input type")
        model_text = fields.get("model", "")
        name = Name.parse(model_text)
        if not name.valid:
            raise ApiError(404, f"model '{model_text}' not found")
        model = self._store.get(name)
        if model is None:
            raise ApiError(404, f"model {go_quote(model_text)} not found, try pulling it first")
        _check_options(fields.get("options", {}))
        keep_alive = fields.get("keep_alive")
        dimensions = fields.get("dimensions", 0)

        def steps() -> Iterator[Step]:
            timing = _Timing(self._store, model, keep_alive)
            if not inputs:
                yield _gojson.dumps({"model": model_text, "embeddings": []})
                return
            size = dimensions if dimensions > 0 else 16
            vectors = [embedding(model_text, text, size, normalize=True) for text in inputs]
            count = sum(len(text.split()) + 2 for text in inputs)
            yield _gojson.dumps(
                {
                    "model": model_text,
                    "embeddings": vectors,
                    "total_duration": timing.load + count * _MS // 10 + timing.elapsed(),
                    "load_duration": timing.load,
                    "prompt_eval_count": count,
                }
            )

        return Reply(200, JSON, steps, slot=True, on_end=self._unload_after(model, keep_alive))

    def embeddings(self, request: Request) -> Reply:
        """``POST /api/embeddings`` (legacy): a raw vector; an empty prompt only loads the model."""
        fields = read_fields(request.body, EMBEDDINGS, "EmbeddingRequest")
        model_text = fields.get("model", "")
        name = Name.parse(model_text)
        if not name.valid:
            raise ApiError(400, "model is required")
        model = self._store.get(name)
        if model is None:
            raise ApiError(404, f"model {go_quote(model_text)} not found, try pulling it first")
        _check_options(fields.get("options", {}))
        keep_alive = fields.get("keep_alive")
        prompt = fields.get("prompt", "")

        def steps() -> Iterator[Step]:
            _Timing(self._store, model, keep_alive)
            vector = embedding(model_text, prompt, normalize=False) if prompt else []
            yield _gojson.dumps({"embedding": vector})

        return Reply(200, JSON, steps, slot=True, on_end=self._unload_after(model, keep_alive))
