"""send_request: an ask whose answer calls back, in the answering thread."""

from __future__ import annotations

import queue
import threading
from typing import Any

import pykka
import pytest

import actors
from actors import Deferred, Inbox, send_request


class Answers(actors.Actor):
    def on_receive(self, message: Any) -> Any:
        if message == "fail":
            raise KeyError("no")
        if message == "later":
            reply: Deferred[str] = Deferred()
            threading.Timer(0.05, reply.resolve, args=("settled",)).start()
            return reply
        return (message, threading.current_thread().name)


@pytest.fixture
def ref():
    actor = Answers.start()
    yield actor
    actor.stop(timeout=5)


def test_the_reply_calls_back_in_the_actors_thread(ref):
    inbox = Inbox()
    send_request(ref, "hi", lambda value, error: inbox.tell((value, error)))
    (message, thread), error = inbox.receive(timeout=5)
    assert (message, error) == ("hi", None)
    assert thread.startswith("Answers-")


def test_an_error_and_a_deferred_reply(ref):
    inbox = Inbox()
    send_request(ref, "fail", lambda value, error: inbox.tell((value, error)))
    send_request(ref, "later", lambda value, error: inbox.tell((value, error)))
    value, error = inbox.receive(timeout=5)
    assert value is None
    assert isinstance(error, KeyError)
    assert inbox.receive(timeout=5) == ("settled", None)


def test_a_dead_actor_answers_at_once_with_actor_dead_error():
    dead = Answers.start()
    dead.stop(timeout=5)
    got: list[Any] = []
    send_request(dead, "hi", lambda value, error: got.append(error))
    assert len(got) == 1
    assert isinstance(got[0], pykka.ActorDeadError)


class PlainAnswers(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        if message == "fail":
            raise KeyError("plain no")
        return message


def test_a_plain_pykka_actor_answers_through_its_own_loop():
    plain = PlainAnswers.start()
    inbox = Inbox()
    try:
        send_request(plain, "hi", lambda value, error: inbox.tell((value, error)))
        send_request(plain, "fail", lambda value, error: inbox.tell((value, error)))
        assert inbox.receive(timeout=5) == ("hi", None)
        value, error = inbox.receive(timeout=5)
        assert value is None
        assert isinstance(error, KeyError)
    finally:
        plain.stop(timeout=5)


def test_a_reply_is_set_once():
    from actors._request import _Reply

    calls: list[Any] = []
    reply = _Reply(lambda value, error: calls.append((value, error)))
    reply.set(1)
    with pytest.raises(queue.Full):
        reply.set(2)
    with pytest.raises(queue.Full):
        reply.set_exception((KeyError, KeyError("x"), None))
    assert calls == [(1, None)]
