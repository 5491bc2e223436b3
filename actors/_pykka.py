"""Every private Pykka name this package uses, in one place.

Pykka keeps these out of its public API (and changed some in minor and patch releases), so
the rest of `actors` takes them from here, and ``tests/actors/test_pykka_internals.py`` checks
each one (its existence, its signature, the behaviour we rely on) against the installed Pykka.
See CONTRIBUTING.md, "Pykka's internals", before adding one or moving the version pin.

Besides the names imported below, `actors.Actor` and `actors.LoopActor` override these
methods of ``pykka.Actor`` (listed in `OVERRIDDEN` with the signatures the test expects):
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pykka import ActorRef, ActorRegistry
from pykka._actor import ActorInbox
from pykka._envelope import Envelope
from pykka._types import OptExcInfo
from pykka.messages import _ActorStop as ActorStop

__all__ = [
    "OVERRIDDEN",
    "REGISTRY_USES",
    "REPLACED",
    "ActorInbox",
    "ActorStop",
    "Envelope",
    "OptExcInfo",
    "RefTable",
    "install_ref_table",
]

OVERRIDDEN = {
    "_create_actor_inbox": "() -> 'ActorInbox'",
    "_create_future": "() -> 'Future[Any]'",
    "_start_actor_loop": "(self) -> 'None'",
    "_actor_loop": "(self) -> 'None'",
    "_handle_receive": "(self, message: 'Any') -> 'Any'",
    "_handle_failure": (
        "(self, exception_type: 'type[BaseException] | None', "
        "exception_value: 'BaseException | None', traceback: 'TracebackType | None') -> 'None'"
    ),
    "_stop": "(self) -> 'None'",
}
"""Private methods of ``pykka.Actor`` that our actors override or call, with Pykka's
signatures: Pykka calls the first three and ``_actor_loop`` (through ``_start_actor_loop``);
our runtime calls ``_handle_receive``, ``_handle_failure`` and ``_stop`` as Pykka's loop does."""

REPLACED = {
    "Actor._actor_loop": "1a4712afb05c68e2",
    "Actor._actor_loop_setup": "8ceb027aa832356b",
    "Actor._actor_loop_running": "b71cadf612805e0b",
    "Actor._actor_loop_teardown": "09730306e933128b",
    "ThreadingActor._start_actor_loop": "4af1b27c69d30572",
}
"""Pykka's code that `actors.Actor` replaces wholesale (its ``_actor_loop`` and thread start),
by the digest of its syntax tree (docstrings, comments and layout left out) as last reviewed.
A Pykka release that changes one may carry a fix our replacement lacks: the internals test
fails until someone has read the change, carried over what applies, and updated the digest."""


REGISTRY_USES = {
    "ActorRegistry.get_all": "5c4678976d798c93",
    "ActorRegistry.get_by_class": "b3ba9734dc9072aa",
    "ActorRegistry.get_by_class_name": "deddd1a49b24e74b",
    "ActorRegistry.get_by_urn": "63d63a64454f2e96",
    "ActorRegistry.register": "c8e63fb4b504bc52",
    "ActorRegistry.unregister": "7e1c92d7475b6971",
}
"""Pykka's code that uses ``ActorRegistry._actor_refs``, which `RefTable` replaces, by the
digest of its syntax tree as last reviewed: every operation these make on it (``append``,
``remove``, ``in``, iteration, ``[:]``) must be one `RefTable` has."""


class RefTable:
    """Stands in for Pykka's registry list, ``ActorRegistry._actor_refs``: the same operations,
    in the same order (registration order), but membership and removal are O(1).

    Pykka unregisters an actor with ``if ref in refs: refs.remove(ref)``, a linear scan of
    every actor alive (150 us with 20,000 registered), at each stop, and a supervisor
    unregisters each child it starts. A dict keyed by the ref (refs compare by identity)
    keeps the order and drops the scan. Pykka registers an actor once, when it starts; a ref
    registered twice is listed once. Pykka calls it under its own registry lock.
    """

    __slots__ = ("_refs",)

    def __init__(self, refs: Iterable[ActorRef[Any]] = ()) -> None:
        self._refs: dict[ActorRef[Any], None] = dict.fromkeys(refs)

    def append(self, ref: ActorRef[Any]) -> None:
        self._refs[ref] = None

    def remove(self, ref: ActorRef[Any]) -> None:
        """Remove ``ref``; `ValueError` if it is not registered, as ``list.remove``."""
        try:
            del self._refs[ref]
        except KeyError:
            raise ValueError(f"{ref!r} is not registered") from None

    def __contains__(self, ref: object) -> bool:
        return ref in self._refs

    def __iter__(self) -> Iterator[ActorRef[Any]]:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)

    def __getitem__(self, index: slice) -> list[ActorRef[Any]]:
        """``table[:]``: a list copy in registration order (any slice of it)."""
        return list(self._refs)[index]


def install_ref_table() -> None:
    """Put a `RefTable` in place of Pykka's registry list (once per process; idempotent)."""
    with ActorRegistry._actor_refs_lock:
        refs = ActorRegistry._actor_refs
        if not isinstance(refs, RefTable):
            ActorRegistry._actor_refs = RefTable(refs)  # type: ignore[assignment]
