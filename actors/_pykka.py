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

__all__ = ["OVERRIDDEN", "ActorInbox", "ActorStop", "Envelope", "OptExcInfo"]

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
