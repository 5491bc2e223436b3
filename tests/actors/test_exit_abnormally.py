"""`exit_abnormally`: ending on purpose with an error reason, without a crash report."""

import logging
import threading

import pykka
import pytest

from actors import Actor, ChildSpec, Inbox, LoopActor, Supervisor, exit_reason, wait_exit


class Retry(Exception):
    pass


def make(base):
    class Quitter(base):
        stopped = threading.Event()

        def on_receive(self, message):
            if message == "quit":
                self.exit_abnormally(Retry("try again"))

        def on_stop(self):
            type(self).stopped.set()

        def on_failure(self, *exc_info):
            raise AssertionError("on_failure must not run")

    return Quitter


@pytest.mark.parametrize("base", [Actor, LoopActor])
def test_ends_with_an_error_reason_quietly_and_runs_on_stop(base, caplog):
    cls = make(base)
    ref = cls.start()
    with caplog.at_level(logging.DEBUG):
        ref.tell("quit")
        reason = wait_exit(ref, timeout=5)
    assert reason.kind == "error"
    assert isinstance(reason.exception, Retry)
    assert exit_reason(ref) == reason
    assert cls.stopped.is_set()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("base", [Actor, LoopActor])
def test_a_transient_child_that_exits_abnormally_is_restarted(base):
    cls = make(base)
    sup = Supervisor.start([ChildSpec("q", cls.start, restart="transient")])
    try:
        first = sup.proxy().which_children().get(timeout=5)[0][1]
        first.tell("quit")
        wait_exit(first, timeout=5)
        for _ in range(200):
            current = sup.proxy().which_children().get(timeout=5)[0][1]
            if current not in (first, "restarting", None):
                break
            threading.Event().wait(0.01)
        assert current is not first
        assert current.is_alive()
    finally:
        sup.stop()


@pytest.mark.parametrize("base", [Actor, LoopActor])
def test_it_works_as_stop_the_handler_returns_and_the_queue_is_handled_first(base):
    # Regression: on_stop ran inside the handler and the queued messages were refused.
    events = Inbox()
    go = threading.Event()

    class Quitter(base):
        def on_receive(self, message):
            if message == "quit":
                assert go.wait(5)
                self.exit_abnormally(Retry("try again"))
                events.tell("handler returned")
                return None
            events.tell(message)
            return message

        def on_stop(self):
            events.tell("on_stop")

    ref = Quitter.start()
    ref.tell("quit")
    ref.tell("a")
    ref.tell("b")
    reply = ref.ask("c", block=False)
    go.set()
    assert reply.get(timeout=5) == "c"
    reason = wait_exit(ref, timeout=5)
    assert isinstance(reason.exception, Retry)
    assert events.drain() == ["handler returned", "a", "b", "c", "on_stop"]
    with pytest.raises(pykka.ActorDeadError):
        ref.tell("late")
