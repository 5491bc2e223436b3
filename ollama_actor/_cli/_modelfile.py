"""The Modelfile that ``ollama-actor create -f`` reads, turned into ``/api/create`` parameters.

Instructions, case-insensitive, one per line (``#`` starts a comment): ``FROM`` a model name or
a GGUF file, ``PARAMETER name value`` (repeated ``stop`` values make a list), ``TEMPLATE``,
``SYSTEM``, ``LICENSE`` (may repeat), ``MESSAGE role text``, ``ADAPTER file``. A value may be
written bare, in double quotes, or in triple quotes spanning lines. Files are named relative to
the Modelfile; the command uploads them as blobs and sends their digests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ollama_actor._cli._exit import UsageError

__all__ = ["Modelfile", "parse_modelfile", "read_modelfile"]

_INSTRUCTIONS = ("from", "parameter", "template", "system", "adapter", "license", "message")
_ROLES = ("system", "user", "assistant", "tool")


@dataclass
class Modelfile:
    """What a Modelfile asks for: create parameters, and local files to upload first."""

    params: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    """The model's weights: file name -> local path (sent as ``files``)."""
    adapters: dict[str, Path] = field(default_factory=dict)
    """LoRA adapters: file name -> local path (sent as ``adapters``)."""


def _value(text: str) -> Any:
    """A PARAMETER value: a number or true/false when it reads as one, else the text."""
    try:
        decoded = json.loads(text)
    except ValueError:
        return text
    return decoded if isinstance(decoded, int | float | bool) else text


def _looks_like_path(value: str, base: Path) -> bool:
    return value.startswith(("/", "./", "../", "~")) or (base / value).is_file()


def _path(value: str, base: Path, line: int) -> Path:
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise UsageError(f"Modelfile line {line}: no such file: {value}")
    return path


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
                path = _path(argument, base, line)
                result.files[path.name] = path
            else:
                params["from"] = argument
        elif instruction == "adapter":
            path = _path(argument, base, line)
            result.adapters[path.name] = path
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
