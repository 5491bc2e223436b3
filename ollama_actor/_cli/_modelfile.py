"""The Modelfile that ``ollama-actor create -f`` reads, turned into ``/api/create`` parameters.

Instructions, case-insensitive, one per line (``#`` starts a comment): ``FROM`` a model name, a
GGUF file or a model's directory, ``PARAMETER name value`` (repeated ``stop`` values make a list),
``TEMPLATE``, ``SYSTEM``, ``LICENSE`` (may repeat), ``MESSAGE role text``, ``ADAPTER`` and
``DRAFT`` (a file or a directory), ``RENDERER``, ``PARSER``, ``REQUIRES version``. A value may be
written bare, in double quotes, or in triple quotes spanning lines. Paths are relative to the
Modelfile; the command uploads their files as blobs and sends their digests. A directory gives
the files Ollama takes from one (`model_files`), named by their path in it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ollama_actor._cli._exit import UsageError

__all__ = ["Modelfile", "model_files", "parse_modelfile", "read_modelfile"]

_INSTRUCTIONS = (
    "from", "parameter", "template", "system", "adapter", "license", "message", "draft",
    "renderer", "parser", "requires",
)  # fmt: skip
_SEMVER = re.compile(r"v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
_ROLES = ("system", "user", "assistant", "tool")


@dataclass
class Modelfile:
    """What a Modelfile asks for: create parameters, and local files to upload first."""

    params: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    """The model's weights: file name -> local path (sent as ``files``)."""
    adapters: dict[str, Path] = field(default_factory=dict)
    """LoRA adapters: file name -> local path (sent as ``adapters``)."""
    draft_files: dict[str, Path] = field(default_factory=dict)
    """A draft model's weights: file name -> local path (sent as ``draft_files``)."""

    def uploads(self) -> list[tuple[str, str, Path]]:
        """``(parameter, file name, local path)`` of every file to upload before creating."""
        return [
            (key, name, path)
            for key, files in (
                ("files", self.files),
                ("adapters", self.adapters),
                ("draft_files", self.draft_files),
            )
            for name, path in files.items()
        ]


def _value(text: str) -> Any:
    """A PARAMETER value: a number or true/false when it reads as one, else the text."""
    try:
        decoded = json.loads(text)
    except ValueError:
        return text
    return decoded if isinstance(decoded, int | float | bool) else text


def _looks_like_path(value: str, base: Path) -> bool:
    return value.startswith(("/", "./", "../", "~")) or (base / value).exists()


def _local(value: str, base: Path, line: int) -> dict[str, Path]:
    """The files a path names, by the name each is sent under: a file by its own name, a
    directory's model files by their path in it."""
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    if path.is_dir():
        found = model_files(path)
        if not found:
            raise UsageError(f"Modelfile line {line}: no model files in the directory {value}")
        return {file.relative_to(path).as_posix(): file for file in found}
    if not path.is_file():
        raise UsageError(f"Modelfile line {line}: no such file: {value}")
    return {path.name: path}


def model_files(directory: Path) -> list[Path]:
    """The files Ollama takes from a model's directory (its ``parser.filesForModel``): the
    weights (``model*.safetensors``, also one directory down; else ``consolidated*.safetensors``,
    ``pytorch_model*.bin``, ``consolidated*.pth``, ``*.gguf`` or ``*.bin``), then the JSON files
    (also one directory down), ``chat_template.jinja`` and ``tokenizer.model``."""
    weights: list[Path] = []
    for patterns in (
        ("model*.safetensors", "*/model*.safetensors"),
        ("consolidated*.safetensors",),
        ("pytorch_model*.bin",),
        ("consolidated*.pth",),
        ("*.gguf",),
        ("*.bin",),
    ):
        weights = [
            file
            for pattern in patterns
            for file in sorted(directory.glob(pattern))
            if file.is_file()  # as Ollama, a match it cannot read (a dangling link) is skipped
        ]
        if weights:
            break
    if not weights:
        return []
    extra = [
        *sorted(directory.glob("*.json")),
        *sorted(directory.glob("*/*.json")),
        *sorted(directory.glob("chat_template.jinja")),
    ]
    tokenizer = sorted(directory.glob("tokenizer.model")) or sorted(
        directory.glob("*/tokenizer.model")
    )
    return [file for file in [*weights, *extra, *tokenizer] if file.is_file()]


def _unquote(text: str) -> str:
    """A value without its triple or double quotes (double-quoted escapes read as JSON's)."""
    text = text.strip()
    if len(text) >= 6 and text.startswith('"""') and text.endswith('"""'):
        return text[3:-3]
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        try:
            return str(json.loads(text))
        except ValueError:
            return text[1:-1]
    return text


def _instructions(text: str) -> Iterator[tuple[int, str, str]]:
    """(line number, instruction, raw argument); a triple-quoted value may span lines."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number, current = index + 1, lines[index]
        index += 1
        if not current.strip() or current.lstrip().startswith("#"):
            continue
        while current.count('"""') % 2 == 1:
            if index >= len(lines):
                raise UsageError(f'Modelfile line {number}: a """ string is never closed')
            current += "\n" + lines[index]
            index += 1
        name, _, argument = current.strip().partition(" ")
        yield number, name.lower(), argument.strip()


def parse_modelfile(text: str, base: Path) -> Modelfile:
    """Read a Modelfile's text; relative file names are resolved against ``base``."""
    result = Modelfile()
    params = result.params
    for line, instruction, raw in _instructions(text):
        if instruction not in _INSTRUCTIONS:
            raise UsageError(f"Modelfile line {line}: unknown instruction {instruction.upper()}")
        argument = _unquote(raw)
        if not argument:
            raise UsageError(f"Modelfile line {line}: {instruction.upper()} needs a value")
        if instruction == "from":
            if _looks_like_path(argument, base):
                result.files.update(_local(argument, base, line))
            else:
                params["from"] = argument
        elif instruction == "adapter":
            result.adapters.update(_local(argument, base, line))
        elif instruction == "draft":
            result.draft_files.update(_local(argument, base, line))
        elif instruction == "requires":
            if not _SEMVER.fullmatch(argument):
                raise UsageError(
                    f"Modelfile line {line}: REQUIRES must be a version such as 0.14.0"
                )
            params["requires"] = argument.removeprefix("v")
        elif instruction == "parameter":
            name, _, rest = raw.partition(" ")
            value = _unquote(rest)
            if not value:
                raise UsageError(f"Modelfile line {line}: PARAMETER {name} needs a value")
            parameters = params.setdefault("parameters", {})
            if name == "stop":
                parameters.setdefault("stop", []).append(value)
            else:
                parameters[name] = _value(value)
        elif instruction == "message":
            role, _, rest = raw.partition(" ")
            if role not in _ROLES:
                raise UsageError(
                    f"Modelfile line {line}: MESSAGE role must be one of {', '.join(_ROLES)}"
                )
            content = _unquote(rest)
            params.setdefault("messages", []).append({"role": role, "content": content})
        elif instruction == "license":
            params.setdefault("license", []).append(argument)
        else:
            params[instruction] = argument
    if "from" not in params and not result.files:
        raise UsageError("the Modelfile has no FROM line")
    return result


def read_modelfile(path: str) -> Modelfile:
    """Read and parse the Modelfile at ``path`` (UsageError if it cannot be read)."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the Modelfile {path}: {exc}") from None
    return parse_modelfile(text, file.resolve().parent)
