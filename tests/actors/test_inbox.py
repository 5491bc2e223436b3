"""Inbox: a mailbox a plain thread receives from."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import actors
from actors import Inbox


def test_messages_come_out_in_the_order_they_went_in():
    inbox = Inbox()
    for i in range(1_000):
        inbox.tell(i)
    assert len(inbox) == 1_000
    assert [inbox.receive(timeout=0) for _ in range(1_000)] == list(range(1_000))
    assert len(inbox) == 0


def test_selective_receive_leaves_the_others_queued_in_order():
    inbox = Inbox()
    for message in ["a1", "b1", "a2", "b2", "a3"]:
        inbox.tell(message)
    assert inbox.receive(timeout=0, match=lambda m: m.startswith("b")) == "b1"
    assert inbox.receive(timeout=0, match=lambda m: m == "a2") == "a2"
    assert inbox.drain() == ["a1", "b2", "a3"]


def test_selective_receive_waits_for_a_matching_message():
    inbox = Inbox()
    inbox.tell("other")
    sender = threading.Timer(0.05, lambda: [inbox.tell(m) for m in ("noise", "wanted", "more")])
    sender.start()
    assert inbox.receive(timeout=5, match=lambda m: m == "wanted") == "wanted"
    sender.join(timeout=5)
    assert inbox.drain() == ["other", "noise", "more"]


@pytest.mark.parametrize("how", ["receive", "areceive"])
def test_selective_receive_offers_each_message_to_match_once(how):
    # Regression (areceive): after each wake-up it offered every queued message to match again.
    inbox = Inbox()
    offered: list[int] = []
    for i in range(100):
        inbox.tell(i)

    def wanted(message: int) -> bool:
        offered.append(message)
        return message == 1_000

    sender = threading.Timer(0.05, lambda: [inbox.tell(i) for i in range(100, 1_001)])
    sender.start()
    if how == "receive":
        assert inbox.receive(timeout=5, match=wanted) == 1_000
    else:
        assert asyncio.run(inbox.areceive(timeout=5, match=wanted)) == 1_000
    sender.join(timeout=5)
    assert sorted(offered) == list(range(1_001))  # nothing examined twice
    assert len(inbox) == 1_000


@pytest.mark.parametrize("match", [None, lambda m: m == "never"], ids=["any", "selective"])
def test_timeout_raises_timeout_error_within_a_bounded_time(match):
    inbox = Inbox()
    inbox.tell("not it") if match else None
    started = time.monotonic()
    what = "no matching message" if match else "no message"
    with pytest.raises(TimeoutError, match=rf"^{what} arrived within 0\.2 s$"):
        inbox.receive(timeout=0.2, match=match)
    assert 0.19 <= time.monotonic() - started < 2.0


def test_zero_timeout_only_looks():
    inbox = Inbox()
    with pytest.raises(TimeoutError):
        inbox.receive(timeout=0)
    inbox.tell(1)
    assert inbox.receive(timeout=0) == 1


def test_a_failing_predicate_removes_nothing():
    inbox = Inbox()
    inbox.tell(1)
    with pytest.raises(ZeroDivisionError):
        inbox.receive(timeout=0, match=lambda m: 1 / 0)
    assert inbox.drain() == [1]


def test_many_threads_telling_keep_each_senders_order():
    inbox = Inbox()
    senders, per_sender = 8, 2_000

    def send(sender: int) -> None:
        for seq in range(per_sender):
            inbox.tell((sender, seq))

    threads = [threading.Thread(target=send, args=(s,)) for s in range(senders)]
    for t in threads:
        t.start()
    received = [inbox.receive(timeout=5) for _ in range(senders * per_sender)]
    for t in threads:
        t.join(timeout=5)
    for sender in range(senders):
        assert [seq for s, seq in received if s == sender] == list(range(per_sender))
    assert len(inbox) == 0


def test_two_receivers_share_the_messages_without_duplicates():
    inbox = Inbox()
    got: list[list[int]] = [[], []]

    def receive(bucket: list[int]) -> None:
        while True:
            message = inbox.receive(timeout=5, match=lambda m: m >= 0)
            if message == 0:
                return
            bucket.append(message)

    threads = [threading.Thread(target=receive, args=(bucket,)) for bucket in got]
    for t in threads:
        t.start()
    for i in range(1, 5_001):
        inbox.tell(i)
    inbox.tell(0)
    inbox.tell(0)
    for t in threads:
        t.join(timeout=10)
    assert sorted(got[0] + got[1]) == list(range(1, 5_001))


def test_an_empty_inbox_is_still_true():
    assert Inbox()
    assert repr(Inbox()) == "<Inbox with 0 queued>"


def _waiting(inbox: Inbox, want: str, seen: threading.Event, got: list[Any]) -> threading.Thread:
    """A thread that receives the message ``want``; ``seen`` is set once it has looked at
    the queue (so it waits for its message once the inbox lock is free again)."""

    def match(message: Any) -> bool:
        seen.set()
        return message == want

    def run() -> None:
        try:
            got.append(inbox.receive(timeout=5, match=match))
        except TimeoutError as exc:
            got.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_message_wakes_the_receiver_that_wants_it_not_only_some_receiver():
    # Regression: tell() woke one waiting receiver; if that one's match rejected the message,
    # the receiver that wanted it slept on with its message queued.
    inbox = Inbox()
    inbox.tell("noise")  # each receiver's match sees it first: then it is about to wait
    got_a: list[Any] = []
    got_b: list[Any] = []
    seen_a, seen_b = threading.Event(), threading.Event()
    a = _waiting(inbox, "A", seen_a, got_a)
    assert seen_a.wait(5)
    b = _waiting(inbox, "B", seen_b, got_b)
    assert seen_b.wait(5)
    started = time.monotonic()
    inbox.tell("B")
    b.join(timeout=10)
    assert got_b == ["B"]
    assert time.monotonic() - started < 2.0  # not the receive timeout
    inbox.tell("A")
    a.join(timeout=10)
    assert got_a == ["A"]
    assert inbox.drain() == ["noise"]


ROUND_TRIPS = 10_000
CLIENTS = 8


class _Replier(actors.Actor):
    """Answers each request by telling the reply, stamped with the time it was sent."""

    def on_receive(self, message: Any) -> None:
        client, n, reply_to = message
        reply_to.tell(("reply", client, n, time.monotonic()))


def test_request_reply_through_one_inbox_never_leaves_a_sent_reply_waiting():
    """8 client threads make 10,000 request/reply round trips in all, each to its own
    actor; the replies all come back through one Inbox, in whatever order the actors send
    them, and each client picks its own with ``match``: no sent reply waits long."""
    inbox = Inbox()
    repliers = [_Replier.start() for _ in range(CLIENTS)]
    waits: list[float] = []
    errors: list[BaseException] = []

    def client(me: int) -> None:
        try:
            for n in range(ROUND_TRIPS // CLIENTS):
                repliers[me].tell((me, n, inbox))
                reply = inbox.receive(timeout=10, match=lambda m: m[1] == me)
                waits.append(time.monotonic() - reply[3])
                assert reply[2] == n
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for replier in repliers:
        replier.stop(timeout=5)
    assert not [t for t in threads if t.is_alive()], "a receiver hangs"
    assert errors == []
    assert len(waits) == ROUND_TRIPS
    waits.sort()
    print(
        f"reply waits: median {waits[len(waits) // 2] * 1e3:.2f} ms, "
        f"p99 {waits[int(len(waits) * 0.99)] * 1e3:.2f} ms, worst {waits[-1] * 1e3:.2f} ms"
    )
    # A lost wake-up waits for some later reply or the 10 s timeout (the worst was 10 s before
    # the fix); a woken receiver waits for the GIL a few switch intervals at most: 1-3 ms here
    # when the machine is quiet, 114 ms once with five other test runs on its two cores. The
    # bound sits between the two so that only a lost wake-up fails it.
    assert waits[-1] < 0.25
    assert len(inbox) == 0


def test_areceive_without_a_timeout_waits_for_a_message():
    inbox = Inbox()

    async def main() -> Any:
        asyncio.get_running_loop().call_later(0.05, inbox.tell, "later")
        return await inbox.areceive()

    assert asyncio.run(main()) == "later"


def test_areceive_selects_and_times_out():
    inbox = Inbox()
    inbox.tell("a")

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, inbox.tell, "b")
        got = await inbox.areceive(timeout=5, match=lambda m: m == "b")
        with pytest.raises(TimeoutError, match=r"no matching message arrived within 0\.05 s"):
            await inbox.areceive(timeout=0.05, match=lambda m: m == "c")
        with pytest.raises(TimeoutError, match="no message arrived within 0 s"):
            await Inbox().areceive(timeout=0)
        return got

    assert asyncio.run(main()) == "b"
    assert inbox.drain() == ["a"]


@pytest.mark.parametrize("end", ["timeout", "cancel"])
def test_areceive_leaves_no_waiter_behind(end):
    # A waiter left behind would make every later tell wake a future of a closed loop.
    inbox = Inbox()

    async def main() -> None:
        if end == "timeout":
            with pytest.raises(TimeoutError):
                await inbox.areceive(timeout=0.01)
            return
        task = asyncio.create_task(inbox.areceive())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())  # the loop is closed afterwards
    inbox.tell("after")  # must not touch the closed loop
    assert inbox.receive(timeout=0) == "after"


def test_a_selective_receiver_rescans_when_another_takes_an_earlier_message():
    inbox = Inbox()
    inbox.tell("n1")
    inbox.tell("n2")
    got: list[Any] = []
    seen = threading.Event()
    waiting = _waiting(inbox, "want", seen, got)  # has looked at n1 and n2: waits
    assert seen.wait(5)
    assert inbox.receive(timeout=0, match=lambda m: m == "n1") == "n1"  # shifts the queue
    inbox.tell("want")  # now at the index the waiting receiver had already scanned
    waiting.join(timeout=10)
    assert got == ["want"]
    assert inbox.drain() == ["n2"]


def test_several_selective_receivers_each_get_their_own_messages():
    inbox = Inbox()
    receivers = 6
    got: dict[int, list[int]] = {r: [] for r in range(receivers)}

    def receive(me: int) -> None:
        for _ in range(300):
            got[me].append(inbox.receive(timeout=10, match=lambda m: m[0] == me)[1])

    threads = [threading.Thread(target=receive, args=(r,)) for r in range(receivers)]
    for t in threads:
        t.start()
    for n in range(300):
        for r in reversed(range(receivers)):
            inbox.tell((r, n))
    for t in threads:
        t.join(timeout=30)
    assert got == {r: list(range(300)) for r in range(receivers)}
    assert len(inbox) == 0


def test_the_loop_thread_may_only_look():
    inbox = Inbox()
    inbox.tell("there")
    done: list[Any] = []

    def on_loop() -> None:
        done.append(inbox.receive(timeout=5))
        try:
            inbox.receive(timeout=5)
        except actors.WouldBlockLoop as exc:
            done.append(exc)

    finished = threading.Event()
    actors.call_on_loop(lambda: (on_loop(), finished.set()))
    assert finished.wait(5)
    assert done[0] == "there"
    assert isinstance(done[1], actors.WouldBlockLoop)
    assert str(done[1]).startswith("Inbox.receive would block the shared loop thread: tell")


def test_a_selective_receiver_rescans_after_sync_and_async_receivers_both_took():
    inbox = Inbox()
    inbox.tell("first")
    assert inbox.receive(timeout=0) == "first"
    for message in ("n1", "n2", "n3"):
        inbox.tell(message)
    got: list[Any] = []
    seen = threading.Event()
    waiting = _waiting(inbox, "want", seen, got)  # has looked at n1, n2 and n3: waits
    assert seen.wait(5)
    assert inbox.receive(timeout=0, match=lambda m: m == "n1") == "n1"

    async def take_n2() -> Any:
        return await inbox.areceive(timeout=0, match=lambda m: m == "n2")

    assert asyncio.run(take_n2()) == "n2"
    inbox.tell("want")  # lands at an index the waiting receiver had already scanned
    waiting.join(timeout=10)
    assert got == ["want"]
    assert inbox.drain() == ["n3"]


def test_areceive_with_a_short_timeout_still_gets_a_message_in_time():
    inbox = Inbox()

    async def main() -> Any:
        asyncio.get_running_loop().call_later(0.05, inbox.tell, "soon")
        return await inbox.areceive(timeout=0.5)

    assert asyncio.run(main()) == "soon"


def test_a_selective_receiver_rescans_after_a_drain():
    inbox = Inbox()
    for message in ("x", "y"):
        inbox.tell(message)
    assert [inbox.receive(timeout=0) for _ in range(2)] == ["x", "y"]
    inbox.tell("n1")
    inbox.tell("n2")
    got: list[Any] = []
    seen = threading.Event()
    waiting = _waiting(inbox, "want", seen, got)  # has looked at n1 and n2: waits
    assert seen.wait(5)
    assert inbox.drain() == ["n1", "n2"]
    inbox.tell("want")  # at index 0, before where the waiting receiver had got to
    waiting.join(timeout=10)
    assert got == ["want"]


def test_receive_without_a_timeout_waits_for_a_message():
    inbox = Inbox()
    sender = threading.Timer(0.05, inbox.tell, args=("later",))
    sender.start()
    assert inbox.receive() == "later"
    sender.join(timeout=5)


def test_a_selective_receiver_rescans_after_plain_and_selective_receivers_took():
    inbox = Inbox()
    inbox.tell("first")
    assert inbox.receive(timeout=0) == "first"
    for message in ("n1", "n2", "n3"):
        inbox.tell(message)
    got: list[Any] = []
    seen = threading.Event()
    waiting = _waiting(inbox, "want", seen, got)  # has looked at n1, n2 and n3: waits
    assert seen.wait(5)
    assert inbox.receive(timeout=0, match=lambda m: m == "n2") == "n2"
    assert inbox.receive(timeout=0) == "n1"
    inbox.tell("want")  # lands at an index the waiting receiver had already scanned
    waiting.join(timeout=10)
    assert got == ["want"]
    assert inbox.drain() == ["n3"]


@pytest.mark.parametrize("call", ["tell", "receive", "drain", "areceive"])
def test_a_match_function_that_uses_its_own_inbox_raises_rather_than_hang(call):
    # Regression: the match function runs with the inbox locked; one that called the
    # inbox waited for itself forever, and every later tell, from any thread, with it.
    inbox = Inbox()
    inbox.tell("first")

    def match(message: Any) -> bool:
        if call == "tell":
            inbox.tell("from the match")
        elif call == "receive":
            inbox.receive(timeout=0)
        elif call == "drain":
            inbox.drain()
        else:
            asyncio.run(inbox.areceive(timeout=0))
        return True

    outcome: list[BaseException] = []

    def receive() -> None:
        try:
            inbox.receive(timeout=1, match=match)
        except BaseException as exc:
            outcome.append(exc)

    receiver = threading.Thread(target=receive, daemon=True)  # daemon: it may hang
    receiver.start()
    receiver.join(timeout=5)
    assert not receiver.is_alive(), "the receiver hung"
    [error] = outcome
    assert isinstance(error, RuntimeError)
    assert f"Inbox.{call} called from a match function of the same inbox" in str(error)
    inbox.tell("second")  # the inbox is usable: nothing was removed, nothing is locked
    assert inbox.drain() == ["first", "second"]


def test_an_areceive_left_on_a_closed_loop_does_not_break_tell_or_other_receivers():
    # Regression: a receiver abandoned with its event loop (closed without cancelling its
    # task) made every later tell raise RuntimeError("Event loop is closed"), and the
    # receivers of other loops were never woken.
    inbox = Inbox()
    abandoned = asyncio.new_event_loop()
    task = abandoned.create_task(inbox.areceive(timeout=30))
    abandoned.run_until_complete(asyncio.sleep(0.01))  # it waits now
    abandoned.close()

    async def receive() -> Any:
        asyncio.get_running_loop().call_soon(inbox.tell, "for the live loop")
        return await inbox.areceive(timeout=5)

    assert asyncio.run(receive()) == "for the live loop"
    inbox.tell("later")
    assert inbox.drain() == ["later"]
    assert not task.done()  # it was abandoned, not cancelled
