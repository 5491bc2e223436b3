"""Every private Pykka name `actors` relies on (all listed in actors/_pykka.py) still exists,
with the signature and the behaviour we rely on. Fails on a Pykka that changed one: see
CONTRIBUTING.md, "Pykka's internals"."""

from __future__ import annotations

import ast
import hashlib
import inspect
import queue
import textwrap
import threading
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


@pytest.mark.parametrize("qualname", sorted(_pykka.REGISTRY_USES))
def test_the_registry_code_that_uses_our_ref_table_is_the_code_we_reviewed(qualname):
    owner, attribute = qualname.split(".")
    function = getattr(getattr(pykka, owner), attribute)
    assert digest(function) == _pykka.REGISTRY_USES[qualname], (
        f"Pykka's {qualname} changed: check that RefTable has every operation it uses "
        "(CONTRIBUTING.md)"
    )


def test_the_registry_keeps_its_refs_in_our_table():
    assert isinstance(pykka.ActorRegistry._actor_refs, _pykka.RefTable)
    assert isinstance(pykka.ActorRegistry._actor_refs_lock, type(threading.RLock()))


class _CountingRef:
    """Stands in for an ActorRef in the registry; counts the equality checks made on it."""

    compared = 0

    def __init__(self, urn: str) -> None:
        self.actor_urn = urn
        self.actor_class = _CountingRef

    def __eq__(self, other: object) -> bool:
        _CountingRef.compared += 1
        return self is other

    __hash__ = object.__hash__


def test_the_registry_behaves_as_pykkas_list_and_unregisters_without_a_scan():
    table = _pykka.RefTable()
    saved = pykka.ActorRegistry._actor_refs
    refs = [_CountingRef(f"urn:{n}") for n in range(1_000)]
    pykka.ActorRegistry._actor_refs = table  # type: ignore[assignment]
    try:
        for ref in refs:
            pykka.ActorRegistry.register(ref)  # type: ignore[arg-type]
        assert pykka.ActorRegistry.get_all() == refs  # registration order
        assert pykka.ActorRegistry.get_by_urn("urn:500") is refs[500]
        assert pykka.ActorRegistry.get_by_class(_CountingRef) == refs  # type: ignore[type-var]
        _CountingRef.compared = 0
        pykka.ActorRegistry.unregister(refs[0])  # type: ignore[arg-type]
        pykka.ActorRegistry.unregister(refs[0])  # type: ignore[arg-type]  # not there: no error
        pykka.ActorRegistry.unregister(refs[999])  # type: ignore[arg-type]
        assert _CountingRef.compared == 0  # a list would have compared with each ref before it
        assert pykka.ActorRegistry.get_all() == refs[1:999]
        assert len(table) == 998
        assert table[:] == refs[1:999]
        with pytest.raises(ValueError, match="not registered"):
            table.remove(refs[0])  # type: ignore[arg-type]
    finally:
        pykka.ActorRegistry._actor_refs = saved


def test_installing_the_table_keeps_what_was_registered_and_is_idempotent():
    saved = pykka.ActorRegistry._actor_refs
    refs = [_CountingRef(f"urn:{n}") for n in range(3)]
    pykka.ActorRegistry._actor_refs = list(refs)  # type: ignore[assignment]
    try:
        _pykka.install_ref_table()
        table = pykka.ActorRegistry._actor_refs
        assert isinstance(table, _pykka.RefTable)
        _pykka.install_ref_table()
        assert pykka.ActorRegistry._actor_refs is table
        assert pykka.ActorRegistry.get_all() == refs
    finally:
        pykka.ActorRegistry._actor_refs = saved
