"""Telemetry: handlers attach and detach at run time, as with Elixir's :telemetry; the runtime's
own events (supervisor restarts and give-ups, loop lag and blocks) carry their measurements."""

from __future__ import annotations

import logging
import threading
import time

import pytest

import actors
from actors import ChildSpec, DynamicSupervisor, Supervisor, telemetry


@pytest.fixture
def heard():
    """Attach a recording handler to the given events; detached after the test."""
    attached = []

    def attach(*events, handler_id=None):
        got = []
        lock = threading.Lock()

        def record(event, measurements, metadata, config):
            with lock:
                got.append((event, dict(measurements), dict(metadata), config))

        handler_id = handler_id or f"test-{len(attached)}"
        telemetry.attach_many(handler_id, events, record, {"mine": True})
        attached.append(handler_id)
        return got

    yield attach
    for handler_id in attached:
        telemetry.detach(handler_id)


def test_a_handler_hears_the_events_it_is_attached_to_in_order(heard):
    got = heard(("app", "a"), ("app", "b"))
    telemetry.execute(("app", "a"), {"n": 1}, {"who": "x"})
    telemetry.execute(("app", "c"), {"n": 2})
    telemetry.execute(("app", "b"), {"n": 3})
    assert got == [
        (("app", "a"), {"n": 1}, {"who": "x"}, {"mine": True}),
        (("app", "b"), {"n": 3}, {}, {"mine": True}),
    ]


def test_detach_stops_the_events_and_attached_says_who_listens(heard):
    assert not telemetry.attached(("app", "d"))
    got = heard(("app", "d"), handler_id="one")
    assert telemetry.attached(("app", "d"))
    telemetry.execute(("app", "d"), {"n": 1})
    assert telemetry.detach("one") is True
    assert telemetry.detach("one") is False
    assert not telemetry.attached(("app", "d"))
    telemetry.execute(("app", "d"), {"n": 2})
    assert [m["n"] for _, m, _, _ in got] == [1]


def test_handlers_run_in_the_order_they_were_attached(heard):
    order = []
    telemetry.attach("first", ("app", "o"), lambda *a: order.append(1))
    telemetry.attach("second", ("app", "o"), lambda *a: order.append(2))
    try:
        telemetry.execute(("app", "o"), {})
        assert order == [1, 2]
        assert [h.id for h in telemetry.list_handlers(("app",))] == ["first", "second"]
        assert telemetry.list_handlers(("nothing",)) == []
    finally:
        telemetry.detach("first")
        telemetry.detach("second")


def test_an_id_is_attached_once_and_bad_names_are_refused():
    telemetry.attach("dup", ("app", "x"), lambda *a: None)
    try:
        with pytest.raises(ValueError, match="'dup' is attached already"):
            telemetry.attach("dup", ("app", "y"), lambda *a: None)
    finally:
        telemetry.detach("dup")
    with pytest.raises(TypeError, match="tuple of non-empty strs"):
        telemetry.attach("bad", "app.x", lambda *a: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be callable"):
        telemetry.attach("bad", ("app", "x"), None)  # type: ignore[arg-type]
    assert telemetry.list_handlers() == []


def test_a_handler_that_raises_is_logged_and_detached_and_the_others_still_run(heard, caplog):
    def broken(*args):
        raise RuntimeError("boom")

    telemetry.attach("broken", ("app", "r"), broken)
    got = heard(("app", "r"))
    with caplog.at_level(logging.ERROR, logger="actors.telemetry"):
        telemetry.execute(("app", "r"), {"n": 1})
        telemetry.execute(("app", "r"), {"n": 2})
    assert [m["n"] for _, m, _, _ in got] == [1, 2]
    assert not [h for h in telemetry.list_handlers() if h.id == "broken"]
    assert "telemetry handler 'broken' raised" in caplog.text
    assert len([r for r in caplog.records if r.name == "actors.telemetry"]) == 1


def test_a_handler_that_raises_detaches_itself_not_the_one_attached_since_under_its_id():
    """A handler that replaced itself under its own id, then raised: only the one that raised
    is detached (as `:telemetry` detaches the handler that failed, not whatever has its id)."""
    event = ("test", "replaced")
    heard = []

    def second(*_args):
        heard.append("second")

    def first(*_args):
        telemetry.detach("swap")
        telemetry.attach("swap", event, second)
        raise RuntimeError("first is done")

    telemetry.attach("swap", event, first)
    try:
        telemetry.execute(event, {})
        telemetry.execute(event, {})
        assert heard == ["second"]
        assert [h.function for h in telemetry.list_handlers(event)] == [second]
    finally:
        telemetry.detach("swap")


def test_a_ctrl_c_in_a_handler_on_the_main_thread_goes_on_and_the_handler_stays():
    def interrupted(*args):
        raise KeyboardInterrupt

    telemetry.attach("ctrl-c", ("app", "k"), interrupted)
    try:
        with pytest.raises(KeyboardInterrupt):
            telemetry.execute(("app", "k"), {})
        assert [h.id for h in telemetry.list_handlers(("app", "k"))] == ["ctrl-c"]
    finally:
        telemetry.detach("ctrl-c")


def test_attach_and_detach_race_with_emitters_without_losing_a_handler(heard):
    """Threads attach and detach their own handlers while others emit: every handler that
    stayed attached throughout hears every event emitted meanwhile."""
    steady = heard(("app", "race"))
    stop = threading.Event()

    def churn(n):
        while not stop.is_set():
            telemetry.attach(f"churn-{n}", ("app", "race"), lambda *a: None)
            telemetry.detach(f"churn-{n}")

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        for i in range(5000):
            telemetry.execute(("app", "race"), {"i": i})
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert [m["i"] for _, m, _, _ in steady] == list(range(5000))
    assert [h.id for h in telemetry.list_handlers(("app", "race"))] == ["test-0"]


class Crashy(actors.Actor):
    def on_receive(self, message):
        if message == "crash":
            raise RuntimeError("crashed on purpose")


def test_supervisor_restart_and_give_up_events(heard):
    got = heard(telemetry.SUPERVISOR_RESTART, telemetry.SUPERVISOR_GIVE_UP)
    sup = Supervisor.start([ChildSpec("c", Crashy.start)], max_restarts=1, max_seconds=30)
    try:
        for _ in range(2):
            ref = sup.proxy().which_children().get(timeout=5)[0][1]
            down = actors.Inbox()
            actors.monitor(ref, down)
            ref.tell("crash")
            down.receive(timeout=5)
        assert actors.wait_exit(sup, 5).kind == "shutdown"
    finally:
        sup.stop()
    events = [(e[-1], m, md["child"], md["reason"].kind) for e, m, md, _ in got]
    assert events == [
        ("restart", {"delay": 0.0, "restarts": 1}, "c", "error"),
        ("give_up", {"max_restarts": 1, "max_seconds": 30}, "c", "error"),
    ]
    assert got[0][2]["supervisor"] == sup


def test_a_child_given_up_is_an_event(heard):
    got = heard(telemetry.SUPERVISOR_CHILD_GIVEN_UP)
    sup = DynamicSupervisor.start(max_restarts=None)
    try:
        ref = (
            sup.proxy()
            .start_child(ChildSpec("job", Crashy.start, restart="transient", max_restarts=0))
            .get(timeout=5)
        )
        ref.tell("crash")
        deadline = time.monotonic() + 5
        while not got:
            assert time.monotonic() < deadline, "no child_given_up event"
            time.sleep(0.01)
    finally:
        sup.stop()
    ((_event, measurements, metadata, _),) = got
    assert measurements == {"restarts": 1}
    assert metadata["child"] == "job"
    assert isinstance(metadata["reason"].exception, RuntimeError)


def test_the_loop_reports_its_lag_and_a_block(heard):
    lags = heard(telemetry.LOOP_LAG)
    blocks = heard(telemetry.LOOP_BLOCKED, telemetry.LOOP_RECOVERED)
    actors.set_loop_watchdog(0.2)
    try:
        actors.call_on_loop(time.sleep, 0.6)  # blocks the loop for 0.6 s
        deadline = time.monotonic() + 10
        while len(blocks) < 2:
            assert time.monotonic() < deadline, f"no block and recovery reported: {blocks}"
            time.sleep(0.01)
    finally:
        actors.set_loop_watchdog(1.0)
    (blocked, m1, md1, _), (recovered, m2, _, _) = blocks
    assert blocked[-1] == "blocked"
    assert m1["blocked"] >= 0.2
    assert "sleep" in md1["running"]
    assert recovered[-1] == "recovered"
    assert m2["blocked"] >= m1["blocked"]
    deadline = time.monotonic() + 5
    while not any(m["lag"] >= 0.3 for _, m, _, _ in lags):
        assert time.monotonic() < deadline, f"the heartbeat after the block was not late: {lags}"
        time.sleep(0.01)
    assert all(m["lag"] >= 0 for _, m, _, _ in lags)
