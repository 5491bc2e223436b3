"""Every private Pykka name this package uses, in one place.

Pykka keeps these out of its public API (and changed some in minor and patch releases), so
the rest of `actors` takes them from here, and ``tests/actors/test_pykka_internals.py`` checks
each one (its existence, its signature, the behaviour we rely on) against the installed Pykka.
See CONTRIBUTING.md, "Pykka's internals", before adding one or moving the version pin.

Besides the names imported below, `actors.Actor` and `actors.LoopActor` override these
methods of ``pykka.Actor`` (listed in `OVERRIDDEN` with the signatures the test expects):
"""

from __future__ import annotations

from pykka._actor import ActorInbox
from pykka._envelope import Envelope
from pykka._types import OptExcInfo
from pykka.messages import _ActorStop as ActorStop

__all__ = ["OVERRIDDEN", "REPLACED", "ActorInbox", "ActorStop", "Envelope", "OptExcInfo"]

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
