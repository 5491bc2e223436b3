"""Model names as Ollama parses them: ``[host/][namespace/]model[:tag]`` with registry defaults.

Error texts quote names in different forms (as sent, shortest display form, or fully qualified), so
the emulator needs the same parsing to produce them.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"


def _valid_part(text: str, kind: str) -> bool:
    limit = 350 if kind == "host" else 80
    if not 1 <= len(text) <= limit:
        return False
    if not (text[0].isascii() and (text[0].isalnum() or text[0] == "_")):
        return False
    for ch in text[1:]:
        if ch in "_-":
            continue
        if ch == ".":
            if kind == "namespace":
                return False
            continue
        if ch == ":":
            if kind != "host":
                return False
            continue
        if not (ch.isascii() and (ch.isalnum() or ch == "_")):
            return False
    return True


@dataclass(frozen=True)
class Name:
    """A parsed model name with defaults merged in."""

    host: str
    namespace: str
    model: str
    tag: str

    @classmethod
    def parse(cls, text: str) -> Name:
        """Go's ``model.ParseName``: split from the right, then fill missing parts with defaults."""
        rest, tag = text, ""
        if rest.rfind(":") > rest.rfind("/"):
            rest, _, tag = rest.rpartition(":")
        parts = rest.split("/")
        model = parts[-1]
        namespace = parts[-2] if len(parts) >= 2 else ""
        host = "/".join(parts[:-2]) if len(parts) >= 3 else ""
        if "://" in host:
            host = host.split("://", 1)[1]
        return cls(
            host=host or DEFAULT_HOST,
            namespace=namespace or DEFAULT_NAMESPACE,
            model=model,
            tag=tag or DEFAULT_TAG,
        )

    @property
    def valid(self) -> bool:
        """Go's ``Name.IsValid``."""
        return (
            _valid_part(self.host, "host")
            and _valid_part(self.namespace, "namespace")
            and _valid_part(self.model, "model")
            and _valid_part(self.tag, "tag")
        )

    @property
    def full(self) -> str:
        """``registry.ollama.ai/library/llama3.2:latest``: the form capability errors use."""
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    @property
    def short(self) -> str:
        """``llama3.2:latest``: the form ``/api/tags`` lists."""
        if self.host.lower() != DEFAULT_HOST:
            return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"
        if self.namespace.lower() != DEFAULT_NAMESPACE:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.model}:{self.tag}"

    @property
    def key(self) -> str:
        """Case-insensitive identity (Ollama matches existing names ignoring case)."""
        return self.full.lower()

    @property
    def manifest_path(self) -> str:
        """Where Ollama would keep the manifest, for error texts that show a path."""
        return (
            f"/root/.ollama/models/manifests/{self.host}/{self.namespace}/{self.model}/{self.tag}"
        )
