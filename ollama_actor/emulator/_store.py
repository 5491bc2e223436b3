"""The model library: local models, blobs, a fake registry, pull progress and loaded models.

The store holds metadata only (names, digests, sizes); blob contents are hashed on upload and
dropped. It is touched from the server's event loop only.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ._clock import rfc3339_ns
from ._names import Name

_NS = 1_000_000_000
DEFAULT_KEEP_ALIVE_NS = 5 * 60 * _NS


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Layer:
    """One blob of a model (weights, template, license, params, config)."""

    digest: str
    size: int
    media_type: str


@dataclass
class Model:
    """A model as ``/api/tags`` and ``/api/show`` describe it."""

    name: Name
    family: str
    families: list[str]
    parameter_size: str
    quantization: str
    capabilities: list[str]
    layers: list[Layer]
    template: str = ""
    system: str = ""
    license: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    renderer: str = ""
    parser: str = ""
    requires: str = ""
    context_length: int = 4096
    parent: str = ""
    modified_ns: int = field(default_factory=time.time_ns)

    @property
    def size(self) -> int:
        """Sum of the layer sizes (what ``/api/tags`` reports)."""
        return sum(layer.size for layer in self.layers)

    @property
    def digest(self) -> str:
        """The manifest digest: a function of the layers, as with a real manifest."""
        return _sha("|".join(layer.digest for layer in self.layers))[7:]

    def details(self) -> dict[str, Any]:
        """``api.ModelDetails`` in Go field order."""
        return {
            "parent_model": self.parent,
            "format": "gguf",
            "family": self.family,
            "families": self.families,
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization,
        }

    def renamed(self, name: Name) -> Model:
        """A copy under another name (``/api/copy``), modified now."""
        clone = copy.deepcopy(self)
        clone.name = name
        clone.modified_ns = time.time_ns()
        return clone


_LLAMA_TEMPLATE = (
    "<|start_header_id|>system<|end_header_id|>\n\n{{ if .System }}{{ .System }}{{ end }}"
    "{{ if .Tools }}You can call these tools: {{ .Tools }}{{ end }}<|eot_id|>"
    "{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
)
_QWEN_TEMPLATE = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
    "<|im_start|>assistant\n{{ if .Think }}<think>\n{{ end }}"
)
_LLAVA_TEMPLATE = "[INST] {{ if .System }}{{ .System }} {{ end }}{{ .Prompt }} [/INST]"
_CATALOG: dict[str, dict[str, Any]] = {
    "llama3.2": {
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "3.2B",
        "quantization": "Q4_K_M",
        "capabilities": ["completion", "tools"],
        "weights": 2019377376,
        "template": _LLAMA_TEMPLATE,
        "parameters": {"stop": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]},
        "license": "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT",
        "context_length": 131072,
    },
    "qwen3": {
        "family": "qwen3",
        "families": ["qwen3"],
        "parameter_size": "8.2B",
        "quantization": "Q4_K_M",
        "capabilities": ["completion", "tools", "thinking"],
        "weights": 5225374496,
        "template": _QWEN_TEMPLATE,
        "parameters": {"temperature": 0.6, "top_k": 20, "top_p": 0.95, "repeat_penalty": 1},
        "license": "Apache License Version 2.0",
        "context_length": 40960,
    },
    "nomic-embed-text": {
        "family": "nomic-bert",
        "families": ["nomic-bert"],
        "parameter_size": "137M",
        "quantization": "F16",
        "capabilities": ["embedding"],
        "weights": 274290656,
        "parameters": {"num_ctx": 8192},
        "license": "Apache License Version 2.0",
        "context_length": 2048,
    },
    "llava": {
        "family": "llama",
        "families": ["llama", "clip"],
        "parameter_size": "7B",
        "quantization": "Q4_0",
        "capabilities": ["completion", "vision"],
        "weights": 4108916384,
        "template": _LLAVA_TEMPLATE,
        "parameters": {"stop": ["[INST]", "[/INST]"]},
        "license": "Apache License Version 2.0",
        "context_length": 32768,
    },
    "tinyllama": {
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "1B",
        "quantization": "Q4_0",
        "capabilities": ["completion"],
        "weights": 637699456,
        "template": "<|system|>\n{{ .System }}</s>\n<|user|>\n{{ .Prompt }}</s>\n<|assistant|>\n",
        "parameters": {"stop": ["<|system|>", "<|user|>", "<|assistant|>", "</s>"]},
        "license": "Apache License Version 2.0",
        "context_length": 2048,
    },
    "all-minilm": {
        "family": "bert",
        "families": ["bert"],
        "parameter_size": "23M",
        "quantization": "F16",
        "capabilities": ["embedding"],
        "weights": 45949216,
        "license": "Apache License Version 2.0",
        "context_length": 512,
    },
}
SEEDED = ("llama3.2", "qwen3", "nomic-embed-text", "llava")
"""Models present locally at start; every catalog entry can be pulled from the fake registry."""


def _catalog_model(base: str, name: Name, modified_ns: int) -> Model:
    spec = _CATALOG[base]
    layers = [Layer(_sha(f"{base}:weights"), spec["weights"], "application/vnd.ollama.image.model")]
    for kind in ("template", "license"):
        if spec.get(kind):
            text = spec[kind]
            layers.append(
                Layer(_sha(text), len(text.encode()), f"application/vnd.ollama.image.{kind}")
            )
    params = repr(spec.get("parameters", {}))
    layers.append(Layer(_sha(params), len(params) + 20, "application/vnd.ollama.image.params"))
    layers.append(
        Layer(_sha(f"{base}:config"), 487, "application/vnd.docker.container.image.v1+json")
    )
    return Model(
        name=name,
        family=spec["family"],
        families=list(spec["families"]),
        parameter_size=spec["parameter_size"],
        quantization=spec["quantization"],
        capabilities=list(spec["capabilities"]),
        layers=layers,
        template=spec.get("template", ""),
        license=spec.get("license", ""),
        parameters=dict(spec.get("parameters", {})),
        context_length=spec["context_length"],
        modified_ns=modified_ns,
    )


@dataclass
class Loaded:
    """A model in memory (``/api/ps``)."""

    model: Model
    expires_ns: int


class Store:
    """Local models, blobs, the fake registry, partially pulled layers and loaded models."""

    def __init__(self) -> None:
        now = time.time_ns()
        self.models: dict[str, Model] = {}
        for age, base in enumerate(SEEDED):
            model = _catalog_model(base, Name.parse(base), now - (age + 1) * 86_400 * _NS)
            self.models[model.name.key] = model
        self.registry: dict[str, Model] = {
            Name.parse(base).key: _catalog_model(base, Name.parse(base), now) for base in _CATALOG
        }
        self.blobs: dict[str, int] = {
            layer.digest: layer.size for m in self.models.values() for layer in m.layers
        }
        self.partial: dict[str, int] = {}
        self.loaded: dict[str, Loaded] = {}

    def get(self, name: Name) -> Model | None:
        """The local model with this name (case-insensitive), if any."""
        return self.models.get(name.key)

    def put(self, model: Model) -> None:
        """Add or replace a local model and record its layers as blobs."""
        self.models[model.name.key] = model
        for layer in model.layers:
            self.blobs[layer.digest] = layer.size

    def delete(self, name: Name) -> bool:
        """Remove a local model; False if there was none."""
        return self.models.pop(name.key, None) is not None

    def load(self, model: Model, keep_alive_ns: int | None) -> bool:
        """Mark a model loaded until now + keep_alive; return whether it was loaded already."""
        was_loaded = self._live(model.name.key) is not None
        duration = DEFAULT_KEEP_ALIVE_NS if keep_alive_ns is None else keep_alive_ns
        self.loaded[model.name.key] = Loaded(model, time.time_ns() + duration)
        return was_loaded

    def load_at_start(self, names: Iterable[str]) -> None:
        """Put these local models in memory (default keep-alive); ValueError for one not here."""
        for text in names:
            model = self.get(Name.parse(text))
            if model is None:
                raise ValueError(f"cannot load {text!r} at start: it is not a local model")
            self.load(model, None)

    def unload(self, name: Name) -> None:
        """Drop a model from memory (``keep_alive: 0``)."""
        self.loaded.pop(name.key, None)

    def _live(self, key: str) -> Loaded | None:
        entry = self.loaded.get(key)
        if entry is not None and entry.expires_ns <= time.time_ns():
            del self.loaded[key]
            return None
        return entry

    def running(self) -> list[Loaded]:
        """Loaded models that have not expired, latest expiry first."""
        live = [entry for key in list(self.loaded) if (entry := self._live(key)) is not None]
        return sorted(live, key=lambda entry: entry.expires_ns, reverse=True)


def tags_entry(model: Model) -> dict[str, Any]:
    """``api.ListModelResponse`` in Go field order."""
    return {
        "name": model.name.short,
        "model": model.name.short,
        "modified_at": rfc3339_ns(model.modified_ns),
        "size": model.size,
        "digest": model.digest,
        "details": model.details(),
    }


def ps_entry(entry: Loaded) -> dict[str, Any]:
    """``api.ProcessModelResponse`` in Go field order."""
    model = entry.model
    return {
        "name": model.name.short,
        "model": model.name.short,
        "size": model.size,
        "digest": model.digest,
        "details": model.details(),
        "expires_at": rfc3339_ns(entry.expires_ns),
        "size_vram": model.size,
        "context_length": min(model.context_length, 4096),
    }
