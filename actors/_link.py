"""Links, as OTP has them: two actors that end together unless one traps exits."""

from __future__ import annotations

import contextlib
from typing import Any

from pykka import ActorDeadError, ActorRef

from actors._actor import ActorBase, kill
from actors._exit import Exit
from actors._mailbox import Mailbox

__all__ = ["LinkExit", "link", "signal", "unlink"]


class LinkExit(Exception):
    """Why an actor ended because an actor linked to it ended abnormally.

    ``ref`` is that linked actor, ``reason`` how it ended. The actor that received it ends
    with ``Exit.error(LinkExit(...))``, which is abnormal in turn: so it spreads along links.
    """

    def __init__(self, ref: ActorRef[Any], reason: Exit) -> None:
        super().__init__(f"the linked actor {ref} ended with {reason!r}")
        self.ref = ref
        self.reason = reason


def _mailbox(ref: ActorRef[Any]) -> Mailbox:
    inbox = ref.actor_inbox
    if not isinstance(inbox, Mailbox):
        msg = f"only actors.Actor and actors.LoopActor can be linked, not {ref}"
        raise TypeError(msg)
    return inbox


def link(a: ActorRef[Any], b: ActorRef[Any]) -> None:
    """Link ``a`` and ``b`` (OTP's ``link``): when one ends, the other is told at once.

    When one ends abnormally (`actors.Exit.abnormal`: an error, or killed), the other ends
    too, as if killed (see `actors.Supervisor` on killing: its queued messages are refused,
    it runs no hook, and it ends once its current handler returns) with
    ``Exit.error(LinkExit(ref, reason))`` naming the one that ended, unless it traps exits
    (``trap_exits = True``): then it is told ``("EXIT", ref, reason)`` instead, for every end,
    normal or not. A normal end does nothing to an actor that does not trap exits.

    One link per pair; linking again changes nothing, and linking an actor to itself does
    nothing (as in OTP). If one of them has already ended, the other gets its exit signal at
    once, as if they had been linked before. Both must be `actors.Actor` or
    `actors.LoopActor` (`TypeError` otherwise). Any thread; never blocks.
    """
    mailbox_a, mailbox_b = _mailbox(a), _mailbox(b)
    if mailbox_a is mailbox_b or mailbox_a.link(a, mailbox_b, b):
        return
    # One has ended (its reason is recorded): its end signalled no link to the other.
    ended_a, ended_b = mailbox_a.exit, mailbox_b.exit
    if ended_a is not None:
        _deliver(b, a, ended_a)
    if ended_b is not None:
        _deliver(a, b, ended_b)


def unlink(a: ActorRef[Any], b: ActorRef[Any]) -> None:
    """Remove the link between ``a`` and ``b``, if any. Any thread; never blocks.

    As in OTP, once this returns the link has no effect any more: an exit signal of one
    that is under way but not yet delivered to the other is dropped.
    """
    _mailbox(a).unlink(a, _mailbox(b), b)


def signal(to: ActorRef[Any], ended: ActorRef[Any], reason: Exit) -> None:
    """Deliver the exit signal of ``ended`` (which ended with ``reason``) to ``to``, if
    they are still linked."""
    if _mailbox(to).take_link(ended):
        _deliver(to, ended, reason)


def _deliver(to: ActorRef[Any], ended: ActorRef[Any], reason: Exit) -> None:
    actor = _mailbox(to).actor()
    if isinstance(actor, ActorBase) and actor.trap_exits:
        with contextlib.suppress(ActorDeadError):
            to.tell(("EXIT", ended, reason))
    elif reason.abnormal:
        kill(to, Exit.error(LinkExit(ended, reason)))
