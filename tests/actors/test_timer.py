"""send_after: a message told later, on the shared loop, cancellable."""

from __future__ import annotations

import threading
import time

import pytest

import actors
from actors import Inbox, Timer, send_after


def test_the_message_is_told_after_the_delay():
    inbox = Inbox()
    started = time.monotonic()
    timer = send_after(0.1, inbox, "late")
    assert isinstance(timer, Timer)
    assert timer.active
    assert inbox.receive(timeout=5) == "late"
    assert time.monotonic() - started >= 0.1
    assert not timer.active
    assert timer.cancel() is False  # already told


def test_a_cancelled_timer_never_tells():
    inbox = Inbox()
    timers = [send_after(0.05, inbox, n) for n in range(100)]
    cancelled = {n for n, timer in enumerate(timers) if n % 2 and timer.cancel()}
    assert cancelled == set(range(1, 100, 2))
    marker = send_after(0.1, inbox, "marker")
    got = [inbox.receive(timeout=5) for _ in range(51)]
    assert sorted(got[:-1]) == list(range(0, 100, 2))
    assert got[-1] == "marker"
    assert not marker.active
    assert timers[1].cancel() is False  # already cancelled


def test_cancel_races_with_firing_from_many_threads():
    inbox = Inbox()
    timers = [send_after(0, inbox, n) for n in range(2_000)]
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda part=part: results.extend(t.cancel() for t in part))
        for part in (timers[::2], timers[1::2])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    done = threading.Event()
    send_after(0.05, inbox, done)
    told = []
    while (message := inbox.receive(timeout=5)) is not done:
        told.append(message)
    assert len(told) + sum(results) == 2_000  # each message told xor cancelled
    assert len(set(told)) == len(told)


def test_a_dead_recipient_loses_the_message_quietly():
    ref = actors.Actor.start()
    ref.stop(timeout=5)
    timer = send_after(0, ref, "nobody")
    done = Inbox()
    send_after(0.05, done, "after")
    assert done.receive(timeout=5) == "after"
    assert not timer.active


@pytest.mark.parametrize("delay", [-1, float("inf"), "1"])
def test_invalid_delays(delay):
    with pytest.raises(ValueError, match="delay"):
        send_after(delay, Inbox(), "x")


@pytest.mark.parametrize("recipient", [None, "consumer", 3])
def test_a_recipient_without_tell_is_refused_at_once(recipient):
    # Regression: it was accepted, and its error logged from the loop when the timer fired.
    with pytest.raises(TypeError, match="recipient with a tell method"):
        send_after(0, recipient, "x")
