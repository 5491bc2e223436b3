"""A Python function as a tool a model may call: its JSON schema from its signature and docstring.

``chat(tools=[get_weather])`` sends what ollama-python sends for a function: the function's name,
the description its Google-style docstring opens with, and one property per parameter, typed
from its annotation and described by the docstring's ``Args:`` section::

    def get_weather(city: str, unit: Literal["C", "F"] = "C") -> str:
        '''Get the weather in a city.

        Args:
            city: The city to get the weather for
            unit (str): Celsius or Fahrenheit
        '''

Where ollama-python's schema is wrong this one is not (docs/migrating.md has the list): a
parameter with a default is not required, a union's types are a list in their order (not one
string in a random one), lists say their items' type, ``Literal`` and `enum.Enum` say their values,
and a continuation line of an argument's description is read as one even if it holds a colon.
A `functools.partial` is described as its function, without the arguments it binds (a key bound
so is kept from the model); an annotation that does not resolve (a name imported only for type
checkers) is read as text, the others as their types. Pure: reads only the function.
"""

from __future__ import annotations

import collections.abc
import enum
import functools
import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

__all__ = ["function_tool"]

_SECTION = re.compile(r"(\w+(?: \w+)?):")
_ARGS = ("args", "arguments", "parameters", "params", "keyword args", "keyword arguments")
_SECTIONS = frozenset(
    (*_ARGS, "returns", "return", "yields", "yield", "raises", "example", "examples", "note")
).union(("notes", "attributes", "see also", "warning", "warnings", "todo", "references"))
_ARG = re.compile(r"\*{0,2}(\w+)\s*(?:\((?:[^()]|\([^()]*\))*\))?\s*:\s*(.*)")
"""``name: text`` or ``name (type): text``; the type may hold parentheses, ``(tuple(int, int))``."""

_SCALARS: dict[Any, str] = {
    str: "string",
    bytes: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}
_ARRAYS = (
    list,
    tuple,
    set,
    frozenset,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    collections.abc.Set,
    collections.abc.MutableSet,
    collections.abc.Iterable,
    collections.abc.Collection,
)
_OBJECTS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def function_tool(function: Callable[..., Any]) -> dict[str, Any]:
    """The ``{"type": "function", "function": {...}}`` tool that describes ``function``.

    Raises `TypeError` if ``function`` has no signature to read (a builtin, for one).
    """
    try:
        signature = inspect.signature(function)
    except ValueError as exc:
        raise TypeError(f"cannot read the parameters of {function!r}: {exc}") from None
    described_by = function
    bound: set[str] = set()
    if isinstance(function, functools.partial):
        described_by, bound = function.func, set(function.keywords)
    hints = _hints(described_by)
    description, described = _docstring(inspect.getdoc(described_by))
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or name in bound:
            continue  # a model names each argument; *args and **kwargs have no names to give
        annotation = hints.get(name, param.annotation)
        schema, optional = _schema(annotation)
        properties[name] = {"type": schema.pop("type"), "description": described.get(name, "")}
        properties[name].update(schema)
        if param.default is param.empty and not optional:
            required.append(name)
    parameters: dict[str, Any] = {"type": "object"}
    if required:
        parameters["required"] = required
    parameters["properties"] = properties
    name = getattr(described_by, "__name__", type(function).__name__)
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


def _hints(function: Callable[..., Any]) -> dict[str, Any]:
    """The parameters' annotations, resolved: ``"int"`` (as ``from __future__ import
    annotations`` writes it) is `int`. One that does not resolve stays as written, and the
    others still resolve. A callable object's are those of its ``__call__``."""
    is_routine = inspect.isroutine(function) or isinstance(function, type)
    source = function if is_routine else type(function).__call__
    try:
        return typing.get_type_hints(source)
    except Exception:  # one does not resolve (a name imported only for type checkers)
        pass
    names = getattr(inspect.unwrap(source), "__globals__", {})
    hints: dict[str, Any] = {}
    for name, annotation in getattr(source, "__annotations__", {}).items():
        alone = types.SimpleNamespace(__annotations__={name: annotation}, __globals__=names)
        try:
            hints.update(typing.get_type_hints(alone))
        except Exception:  # read as text, as an unannotated parameter is
            continue
    return hints


def _docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The description (the text before the first section) and each argument's description.

    Sections are Google's: a line such as ``Args:`` or ``Returns:`` alone. In ``Args:`` a line
    no more indented than the first argument starts one (``name: text`` or ``name (type):
    text``); a more indented line continues it.
    """
    opening: list[str] = []
    arguments: dict[str, str] = {}
    section: str | None = None
    indent = 0
    current: str | None = None
    for line in (doc or "").splitlines():
        text = line.strip()
        header = _SECTION.fullmatch(text)
        if header and header.group(1).lower() in _SECTIONS:
            section, current = header.group(1).lower(), None
            continue
        depth = len(line) - len(line.lstrip())
        if section is None:
            opening.append(text)
        elif section in _ARGS and text:
            if current is None:
                indent = depth
            argument = _ARG.fullmatch(text) if depth <= indent else None
            if argument:
                current = argument.group(1)
                arguments[current] = argument.group(2).strip()
            elif current is not None:
                arguments[current] = f"{arguments[current]} {text}".strip()
    return "\n".join(opening).strip(), arguments


def _schema(annotation: Any) -> tuple[dict[str, Any], bool]:
    """The JSON schema of a parameter's type, and whether it may be None (so not required)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _schema(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        members = typing.get_args(annotation)
        kinds: list[str] = []
        schemas = [_schema(m)[0] for m in members if m is not type(None)]
        for schema in schemas:
            kind = schema["type"]
            for one in kind if isinstance(kind, list) else [kind]:
                if one not in kinds:
                    kinds.append(one)
        optional = len(schemas) < len(members)
        if len(schemas) == 1:
            return schemas[0], optional
        return {"type": kinds}, optional
    if origin is typing.Literal:
        values = list(typing.get_args(annotation))
        return {"type": _kinds(values), "enum": values}, None in values
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = [member.value for member in annotation]
        return {"type": _kinds(values), "enum": values}, False
    base = origin or annotation
    if base in _SCALARS:
        return {"type": _SCALARS[base]}, base is type(None)
    if base in _ARRAYS:
        args = typing.get_args(annotation)
        same = len(args) == 2 and args[1] is Ellipsis and base is tuple
        if args and (base is not tuple or same or len(args) == 1):
            return {"type": "array", "items": _schema(args[0])[0]}, False
        return {"type": "array"}, False
    if base in _OBJECTS or _has_fields(base):
        return {"type": "object"}, False
    return {"type": "string"}, False  # unannotated, Any, or a value the model writes as text


def _kinds(values: list[Any]) -> str | list[str]:
    kinds: list[str] = []
    for value in values:
        kind = _SCALARS.get(type(value), "string")
        if kind not in kinds:
            kinds.append(kind)
    return kinds[0] if len(kinds) == 1 else kinds


def _has_fields(cls: Any) -> bool:
    """A record type: a dataclass, a TypedDict, a NamedTuple or a pydantic model."""
    return isinstance(cls, type) and (
        hasattr(cls, "__dataclass_fields__")
        or typing.is_typeddict(cls)
        or hasattr(cls, "model_fields")
        or hasattr(cls, "_fields")
    )
