"""`Delivery` and `StreamRun`: one terminal message per ref, and nothing after it.

The protocol promises ``data* (restart data*)* (done | error)`` whatever calls the sink and in
whatever order: these tests call it every wrong way and read what the recipient got.
"""

from __future__ import annotations

import logging
from typing import Any

import pykka
import pytest

from actors import Actor, Delivery, Inbox, Ref, StreamRun
from actors._loop import call_on_loop


def told(inbox: Inbox, ref: Ref) -> list[tuple[str, Any]]:
    messages = inbox.drain()
    assert all(r == ref for r, _ in messages)
    return [message for _, message in messages]


@pytest.mark.parametrize("first", ["done", "error"])
@pytest.mark.parametrize("then", ["done", "error", "chunk", "restart"])
def test_after_the_terminal_message_nothing_more_is_told(first, then):
    inbox = Inbox()
    ref = Ref()
    delivery = Delivery(ref, inbox)
    delivery.on_chunk({"n": 1})
    assert not delivery.ended
    boom = ValueError("boom")
    delivery.on_done({"all": 1}) if first == "done" else delivery.on_error(boom)
    assert delivery.ended
    for _ in range(3):  # and again: a terminal message is never told twice
        match then:
            case "done":
                delivery.on_done({"again": True})
            case "error":
                delivery.on_error(RuntimeError("late"))
            case "chunk":
                delivery.on_chunk({"late": True})
            case "restart":
                delivery.on_restart(1, RuntimeError("late"))
    terminal = ("done", {"all": 1}) if first == "done" else ("error", boom)
    assert told(inbox, ref) == [("data", {"n": 1}), terminal]
    assert delivery.ended


def test_a_restart_tells_its_number_and_error_and_details_never_replace_them():
    inbox = Inbox()
    ref = Ref()
    delivery = Delivery(ref, inbox)
    error = RuntimeError("cut")
    delivery.on_restart(2, error, {"attempt": 99, "error": "no", "host": "http://b"})
    delivery.on_restart(3, error)
    assert told(inbox, ref) == [
        ("restart", {"attempt": 2, "error": error, "host": "http://b"}),
        ("restart", {"attempt": 3, "error": error}),
    ]


def test_a_dead_recipient_fails_a_chunk_but_not_the_terminal_message(caplog):
    class Quiet(Actor):
        pass

    recipient = Quiet.start()
    recipient.stop()
    delivery = Delivery(Ref(), recipient)
    with pytest.raises(pykka.ActorDeadError):  # the source stops reading
        delivery.on_chunk({"n": 1})
    with caplog.at_level(logging.DEBUG, logger="actors._stream"):
        delivery.on_done({"all": 1})  # nobody to tell: swallowed, and the stream has ended
    assert delivery.ended
    assert any("died before its done message" in r.getMessage() for r in caplog.records)


def test_a_recipient_whose_tell_raises_on_the_terminal_message_still_ends_the_stream(caplog):
    class Broken:
        def __init__(self) -> None:
            self.calls = 0

        def tell(self, message: Any) -> None:
            self.calls += 1
            raise KeyError("a bug in the recipient")

    broken = Broken()
    delivery = Delivery(Ref(), broken)
    with caplog.at_level(logging.ERROR, logger="actors._stream"):
        delivery.on_error(RuntimeError("x"))
    assert delivery.ended
    assert any("raised on its error message" in r.getMessage() for r in caplog.records)
    delivery.on_done({"late": True})
    assert broken.calls == 1  # not told again


class _Source:
    """A source that is never started: `StreamRun` is driven by hand below."""

    def __init__(self) -> None:
        self.ref = Ref()
        self.cancelled: list[str] = []

    def cancel(self, reason: str = "caller") -> None:
        self.cancelled.append(reason)


@pytest.mark.parametrize("order", ["succeed_then_fail", "fail_then_succeed", "give_up_twice"])
def test_a_stream_run_ends_once_whatever_ends_it_next(order):
    inbox = Inbox()
    source = _Source()
    run = StreamRun(source, inbox)  # type: ignore[arg-type]
    first_error = RuntimeError("first")

    def end() -> None:
        match order:
            case "succeed_then_fail":
                run.succeed({"all": 1})
                run.fail(RuntimeError("late"))
                run.give_up(RuntimeError("later"))
            case "fail_then_succeed":
                run.fail(first_error)
                run.succeed({"late": True})
                run.give_up(RuntimeError("later"))
            case "give_up_twice":
                run.give_up(first_error)
                run.give_up(RuntimeError("again"))
                run.succeed({"late": True})

    call_on_loop(end)
    if order == "succeed_then_fail":
        assert run.result(timeout=5) == {"all": 1}
        assert told(inbox, run.ref) == [("done", {"all": 1})]
    else:
        with pytest.raises(RuntimeError) as info:
            run.result(timeout=5)
        assert info.value is first_error
        assert told(inbox, run.ref) == [("error", first_error)]
    assert run.done


def test_giving_up_with_no_error_known_says_so_and_cancels_no_attempt_that_is_not_running():
    inbox = Inbox()
    source = _Source()
    run = StreamRun(source, inbox)  # type: ignore[arg-type]
    call_on_loop(run.give_up)
    with pytest.raises(RuntimeError) as info:
        run.result(timeout=5)
    assert str(info.value) == f"the worker for {run.ref} ended before its stream finished"
    assert told(inbox, run.ref) == [("error", info.value)]
    assert source.cancelled == []  # no attempt was running: nothing to cancel


def test_result_waits_at_most_its_timeout_and_the_stream_goes_on():
    inbox = Inbox()
    run = StreamRun(_Source(), inbox)  # type: ignore[arg-type]
    with pytest.raises(TimeoutError, match=r"did not end within 0\.1 s"):
        run.result(timeout=0.1)
    assert not run.done
    call_on_loop(run.succeed, {"all": 1})
    assert run.result(timeout=5) == {"all": 1}
