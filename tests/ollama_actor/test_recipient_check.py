"""The client tells a recipient from True/False as ``isinstance(x, actors.Recipient)`` would,
without typing's (slow) protocol check."""

import pykka
import pytest

import actors
from ollama_actor._client import _is_recipient


class Tells:
    def tell(self, message):
        pass


class NoneTell:
    tell = None


class Property:
    @property
    def tell(self):
        raise AttributeError("no tell here")


@pytest.mark.parametrize(
    "value",
    [True, False, None, 1, "text", object(), Tells(), NoneTell(), Property(), actors.Inbox()],
)
def test_agrees_with_the_protocol_check(value):
    assert _is_recipient(value) == isinstance(value, actors.Recipient)


def test_an_actor_ref_and_an_address_are_recipients():
    ref = actors.LoopActor.start()
    try:
        assert _is_recipient(ref)
        assert _is_recipient(actors.Address("somewhere"))
    finally:
        ref.stop(timeout=5)
    assert isinstance(ref, pykka.ActorRef)
