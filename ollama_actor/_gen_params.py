"""Write `ollama_actor._params`, each endpoint's typed keyword arguments, from `_schemas`.

    python -m ollama_actor._gen_params          # (re)write it; `make params` runs this
    python -m ollama_actor._gen_params --check  # exit 1 if it is not what this would write

The endpoints' parameters are declared once, in `_schemas.ENDPOINTS`; their Python types are
their checks' `Check.hint`. For each endpoint this writes a TypedDict of its parameters
(``CompletionParams``) and a Protocol typing its method (``CompletionCall``: one overload per
kind of ``stream`` for the endpoints that stream, and one for a ``bool`` known only at run
time, as ollama-python has). A parameter whose name is a Python keyword
(``from``) is typed by the alias a call can spell (``from_``). The output is already formatted
as ``ruff format`` would format it, so a test can compare it with the file.
"""

from __future__ import annotations

import argparse
import keyword
import sys
from pathlib import Path

from ollama_actor._schemas import ENDPOINTS, Endpoint

__all__ = ["OUTPUT", "main", "render"]

OUTPUT = Path(__file__).with_name("_params.py")
_WIDTH = 100
"""The line length of ruff's configuration (pyproject.toml)."""

_HEAD = '''"""The typed keyword arguments of each endpoint: an editor offers them, mypy checks them.

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
{names}
]
'''


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _fields(endpoint: Endpoint) -> list[tuple[str, str, str]]:
    """(keyword, type, description) of each parameter a call can spell."""
    spelled = {new: old for old, new in endpoint.aliases.items() if old.isidentifier()}
    out = []
    for name, param in endpoint.params.items():
        spelling = spelled[name] if keyword.iskeyword(name) else name  # `from` is `from_`
        hint = f"Required[{param.check.hint}]" if param.required else f"{param.check.hint} | None"
        out.append((spelling, hint, param.doc))
    return out


def _params(endpoint: Endpoint) -> list[str]:
    lines = [
        "",
        "",
        f"class {_camel(endpoint.name)}Params(TypedDict, total=False):",
        f'    """The parameters of ``Ollama.{endpoint.name}``: Ollama\'s JSON fields."""',
    ]
    for name, hint, doc in _fields(endpoint):
        lines += ["", f"    {name}: {hint}", f'    """{doc}"""']
    return lines


def _overload(stream: str, extra: list[str], params: str, result: str) -> list[str]:
    return [
        "    @overload",
        "    def __call__(",
        "        self,",
        "        *,",
        f"        stream: {stream},",
        "        timeout: TimeoutLike = ...,",
        *(f"        {line}," for line in extra),
        f"        **params: Unpack[{params}],",
        f"    ) -> {result}: ...",
    ]


def _call(endpoint: Endpoint) -> list[str]:
    camel = _camel(endpoint.name)
    params = f"{camel}Params"
    lines = [
        "",
        "",
        f"class {camel}Call(Protocol):",
        f'    """The type of ``Ollama.{endpoint.name}``."""',
        "",
    ]
    result = "bool" if endpoint.result == "bool" else "dict[str, Any]"
    if endpoint.stream is None:
        arguments = f"self, *, timeout: TimeoutLike = ..., **params: Unpack[{params}]"
        one_line = f"    def __call__({arguments}) -> {result}: ..."
        if len(one_line) <= _WIDTH:  # as ruff format writes it
            return [*lines, one_line]
        return [*lines, "    def __call__(", f"        {arguments}", f"    ) -> {result}: ..."]
    lines += _overload("Literal[False] = False", [], params, result)
    lines += _overload("Literal[True]", [], params, "Streaming")
    supervised = ["supervisor: ActorRef[Any] | None = ...", "retry: RetryPolicy | None = ..."]
    lines += _overload("Recipient", supervised, params, "StreamHandle")
    lines += _overload("bool", [], params, f"{result} | Streaming")  # a flag known at run time
    return lines


def render() -> str:
    """The text of `ollama_actor._params`."""
    endpoints = list(ENDPOINTS.values())
    names = sorted(f"{_camel(e.name)}{kind}" for e in endpoints for kind in ("Call", "Params"))
    lines = [_HEAD.format(names="\n".join(f'    "{name}",' for name in names)).rstrip("\n")]
    for endpoint in endpoints:
        lines += _params(endpoint)
        lines += _call(endpoint)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ollama_actor._gen_params")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is stale: run `make params`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
