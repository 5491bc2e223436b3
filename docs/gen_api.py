"""Write docs/api.md, the API reference, from the docstrings of the public names.

    python docs/gen_api.py           # (re)write docs/api.md; `make docs` runs this
    python docs/gen_api.py --check   # exit 1 if docs/api.md is not what this would write

The public names are each module's ``__all__``: `actors`, `actors.telemetry`, `ollama_actor`,
`ollama_actor.telemetry`, `ollama_actor.prometheus`, `ollama_actor.otel`, `ollama_actor.ray`,
`ollama_actor.emulator`, and the fixtures of `ollama_actor.pytest_plugin`. A class lists the
public methods and properties it defines or inherits from this project's own classes (not
Pykka's or the standard library's).
The output depends only on the source, so a test can check that the committed file is current.
"""

from __future__ import annotations

import argparse
import enum
import importlib
import inspect
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "api.md"
MODULES = (
    "actors",
    "actors.telemetry",
    "ollama_actor",
    "ollama_actor.telemetry",
    "ollama_actor.prometheus",
    "ollama_actor.otel",
    "ollama_actor.ray",
    "ollama_actor.emulator",
)
OURS = ("actors", "ollama_actor")
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def _ours(obj: Any) -> bool:
    module = getattr(obj, "__module__", "") or ""
    return module.split(".")[0] in OURS


def _default(value: Any) -> str:
    """A default value as source would spell it, without memory addresses or local paths."""
    if inspect.isfunction(value) or inspect.isclass(value) or inspect.ismethod(value):
        return str(value.__qualname__)
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, str) and value == sys.executable:
        return "sys.executable"  # the same text whichever interpreter writes the file
    text = repr(value)
    return _ADDRESS.sub("", text) if " at 0x" in text else text


def _annotation(value: Any) -> str:
    if isinstance(value, str):
        return value
    if inspect.isclass(value):
        return value.__qualname__
    return str(value).replace("typing.", "")


def _signature(obj: Callable[..., Any], *, drop_self: bool = False) -> str:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return "..." + _RETURNS
    parts: list[str] = []
    seen_keyword_only = False
    params = list(signature.parameters.values())
    if drop_self and params and params[0].name in ("self", "cls"):
        params = params[1:]
    for index, param in enumerate(params):
        if param.kind is param.KEYWORD_ONLY and not seen_keyword_only:
            parts.append("*")
            seen_keyword_only = True
        if param.kind is param.VAR_POSITIONAL:
            seen_keyword_only = True
        text = param.name
        if param.kind is param.VAR_POSITIONAL:
            text = "*" + text
        elif param.kind is param.VAR_KEYWORD:
            text = "**" + text
        if param.annotation is not param.empty:
            text += f": {_annotation(param.annotation)}"
        if param.default is not param.empty:
            joiner = " = " if param.annotation is not param.empty else "="
            text += joiner + _default(param.default)
        parts.append(text)
        last_positional_only = param.kind is param.POSITIONAL_ONLY and (
            index + 1 == len(params) or params[index + 1].kind is not param.POSITIONAL_ONLY
        )
        if last_positional_only:
            parts.append("/")
    returns = ""
    if signature.return_annotation is not signature.empty:
        returns = f" -> {_annotation(signature.return_annotation)}"
    return _SEPARATOR.join(parts) + _RETURNS + returns


_SEPARATOR = "\x00"
_RETURNS = "\x01"
_WIDTH = 96


def _spell(head: str, signature: str) -> str:
    """``head(params) -> returns`` on one line, or one parameter a line when too long."""
    params, _, returns = signature.partition(_RETURNS)
    parts = params.split(_SEPARATOR) if params else []
    line = f"{head}({', '.join(parts)}){returns}"
    if len(line) <= _WIDTH:
        return line
    return "\n".join([f"{head}(", *[f"    {part}," for part in parts], f"){returns}"])


def _doc(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip()


def _members(cls: type) -> Iterator[tuple[str, str, Any]]:
    """(name, kind, object) of the public members this project's classes give ``cls``."""
    seen: set[str] = set()
    foreign = {name for klass in cls.__mro__ if not _ours(klass) for name in vars(klass)}
    for klass in cls.__mro__:
        if not _ours(klass):
            continue
        for name, raw in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            seen.add(name)
            if name in foreign and not getattr(raw, "__doc__", None):
                continue  # an undocumented override of a Pykka hook (on_receive, on_stop...)
            if isinstance(raw, property):
                yield name, "property", raw
            elif isinstance(raw, classmethod):
                yield name, "classmethod", raw.__func__
            elif isinstance(raw, staticmethod):
                yield name, "staticmethod", raw.__func__
            elif inspect.isfunction(raw):
                yield name, "method", raw
            elif _ours(type(raw)) and hasattr(type(raw), "__get__"):
                yield name, "endpoint", raw  # a method declared as a descriptor (Ollama's)


def _block(text: str) -> list[str]:
    return ["```text", text, "```", ""]


def _class(qualified: str, cls: type) -> list[str]:
    bases = ", ".join(
        f"{b.__module__.split('.')[0]}.{b.__qualname__}" if not _ours(b) else b.__qualname__
        for b in cls.__bases__
        if b is not object
    )
    lines = [f"### `{qualified}`", ""]
    constructor = getattr(cls, "__init__")  # noqa: B009 - mypy refuses cls.__init__
    init = constructor if "__init__" in vars(cls) or _ours(constructor) else None
    if init is None:
        head = f"class {cls.__name__}" + ("" if issubclass(cls, BaseException) else "()")
    else:
        head = _spell(f"class {cls.__name__}", _signature(init, drop_self=True))
        head = head.removesuffix(" -> None")
    lines += _block(head + (f"\n# bases: {bases}" if bases else ""))
    if _doc(cls):
        lines += [_doc(cls), ""]
    for name, kind, member in sorted(_members(cls), key=lambda item: item[0]):
        if kind == "property":
            lines += [f"- **`{name}`** (property)" + (f": {_doc(member)}" if _doc(member) else "")]
            continue
        if kind == "endpoint":
            doc = _doc(member).replace("\n", "\n  ")
            lines += [f"- **`{name}(**params)`**" + (f"\n\n  {doc}\n" if doc else "")]
            continue
        signature = _signature(member, drop_self=kind != "staticmethod")
        prefix = "" if kind == "method" else f"{kind} "
        params, _, returns = signature.partition(_RETURNS)
        spelled = f"{name}({', '.join(params.split(_SEPARATOR) if params else [])}){returns}"
        doc = _doc(member).replace("\n", "\n  ")
        lines += [f"- {prefix}**`{spelled}`**" + (f"\n\n  {doc}\n" if doc else "")]
    if lines[-1] != "":
        lines.append("")
    return lines


def _function(qualified: str, func: Callable[..., Any]) -> list[str]:
    lines = [f"### `{qualified}`", ""]
    lines += _block(_spell(f"def {func.__name__}", _signature(func)))
    if _doc(func):
        lines += [_doc(func), ""]
    return lines


def _constant(qualified: str, value: Any) -> list[str]:
    text = _default(value)
    if len(text) > 90:
        text = f"<{type(value).__name__}>"
    return [f"### `{qualified}`", "", f"`{text}`", ""]


def _module(module: ModuleType) -> list[str]:
    lines = [f"## `{module.__name__}`", ""]
    if _doc(module):
        lines += [_doc(module), ""]
    for name in sorted(module.__all__, key=lambda n: (n.lower(), n)):
        value = getattr(module, name)
        qualified = f"{module.__name__}.{name}"
        if inspect.ismodule(value):
            anchor = value.__name__.replace(".", "")
            lines += [f"### `{qualified}`", "", f"A module: see [`{qualified}`](#{anchor}).", ""]
        elif inspect.isclass(value):
            lines += _class(qualified, value)
        elif callable(value):
            lines += _function(qualified, value)
        else:
            lines += _constant(qualified, value)
    return lines


def _fixtures() -> list[str]:
    plugin = importlib.import_module("ollama_actor.pytest_plugin")
    lines = ["## `ollama_actor.pytest_plugin`", ""]
    if _doc(plugin):
        lines += [_doc(plugin), ""]
    for name, value in sorted(vars(plugin).items()):
        if name.startswith("ollama_") and callable(value):
            lines += [f"### fixture `{name}`", ""]
            if _doc(value):
                lines += [_doc(value), ""]
    return lines


def render() -> str:
    """The whole reference, as Markdown."""
    lines = [
        "# API reference",
        "",
        "Generated from the docstrings by `make docs` (`docs/gen_api.py`); do not edit by hand.",
        "A test fails when this file is not what the generator writes.",
        "",
        "Contents: " + ", ".join(f"[`{m}`](#{m.replace('.', '')})" for m in MODULES)
        + ", [`ollama_actor.pytest_plugin`](#ollama_actorpytest_plugin).",
        "",
    ]  # fmt: skip
    for name in MODULES:
        lines += _module(importlib.import_module(name))
    lines += _fixtures()
    text = "\n".join(lines).rstrip("\n") + "\n"
    return re.sub(r"\n{3,}", "\n\n", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if docs/api.md is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print("docs/api.md is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
