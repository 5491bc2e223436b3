"""Every private Pykka name `actors` relies on (all listed in actors/_pykka.py) still exists,
with the signature and the behaviour we rely on. Fails on a Pykka that changed one: see
CONTRIBUTING.md, "Pykka's internals"."""

from __future__ import annotations

import ast
import hashlib
import inspect
import queue
import textwrap
from collections.abc import Callable
from typing import Any

import pykka
import pytest

import actors
from actors import _pykka
from actors._future import ReplyFuture
from actors._mailbox import ThreadMailbox


def digest(function: Callable[..., Any]) -> str:
    """The digest of a function's syntax tree, docstring left out (as in `_pykka.REPLACED`)."""
    node = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    assert isinstance(node, ast.FunctionDef)
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant):
        node.body = node.body[1:]
    return hashlib.sha256(ast.dump(node, annotate_fields=False).encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", sorted(_pykka.OVERRIDDEN))
def test_each_overridden_method_has_the_signature_we_override(name):
    method = getattr(pykka.ThreadingActor, name)
    assert str(inspect.signature(method)) == _pykka.OVERRIDDEN[name]


@pytest.mark.parametrize("qualname", sorted(_pykka.REPLACED))
def test_the_code_we_replace_is_the_code_we_reviewed(qualname):
    owner, attribute = qualname.split(".")
    function = getattr(getattr(pykka, owner), attribute)
    assert digest(function) == _pykka.REPLACED[qualname], (
        f"Pykka's {qualname} changed: review it against actors.Actor (CONTRIBUTING.md)"
    )


def test_envelope_and_the_stop_message():
    assert str(inspect.signature(_pykka.Envelope)) == (
        "(message: 'T', reply_to: 'Future[Any] | None' = None) -> 'None'"
    )
    envelope = _pykka.Envelope("m", reply_to=None)
    assert (envelope.message, envelope.reply_to) == ("m", None)
    assert _pykka.ActorStop() == ()  # a NamedTuple without fields, which we subclass
    assert issubclass(_pykka.ActorStop, tuple)
    assert {"put", "get", "empty"} <= set(dir(_pykka.ActorInbox))
    assert _pykka.OptExcInfo is not None


def test_pykka_uses_our_hooks_as_we_rely_on():
    sent: list[Any] = []

    class Spy(ThreadMailbox):
        def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
            sent.append(item)
            super().put(item, block, timeout)

    class Probe(actors.Actor):
        @staticmethod
        def _create_actor_inbox() -> Any:
            return Spy()

        def on_receive(self, message: Any) -> Any:
            return message

    ref = Probe.start()
    assert ref in pykka.ActorRegistry.get_all()  # start() registers, then starts our loop
    future = ref.ask("x", block=False)
    assert isinstance(future, ReplyFuture)  # ask() takes its future from _create_future
    assert future.get(timeout=5) == "x"
    ref.tell("y")
    assert ref.stop(timeout=5) is True
    assert all(isinstance(item, _pykka.Envelope) for item in sent)  # tell/ask put Envelopes
    assert [item.message for item in sent] == ["x", "y", _pykka.ActorStop()]
    assert isinstance(sent[-1].message, _pykka.ActorStop)  # stop() sends ActorStop


def test_handle_receive_dispatches_the_stop_to_stop():
    stopped: list[bool] = []

    class Probe(pykka.ThreadingActor):
        def _stop(self) -> None:
            stopped.append(True)
            super()._stop()

    ref = Probe.start()
    ref.stop(timeout=5)
    assert stopped == [True]


def test_a_threading_future_is_settled_once():
    future: pykka.ThreadingFuture[int] = pykka.ThreadingFuture()
    future.set(1)
    with pytest.raises(queue.Full):
        future.set(2)
