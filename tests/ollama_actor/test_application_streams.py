"""An `actors.Application` draining while streams begin from other threads: each is refused with
`actors.Draining` (its one terminal message), even on a supervisor started during the drain."""

from __future__ import annotations

import threading
import time

import pytest

import actors
from actors import Application, ChildSpec, Draining, DynamicSupervisor, Supervisor
from ollama_actor import _handle

WAIT = 20.0


class Job(actors.Actor):
    """Ends by itself only when told "finish": keeps the drain going meanwhile."""

    def on_receive(self, message):
        if message == "finish":
            self.stop()


def tree():
    root = Supervisor.start(
        [ChildSpec("jobs", DynamicSupervisor.start, type="supervisor", name="drain-jobs")]
    )
    actors.whereis("drain-jobs").proxy().start_child(
        ChildSpec("job", Job.start, restart="transient", name="drain-job")
    ).get(timeout=5)
    return root


def test_a_stream_begun_during_the_drain_is_refused_on_a_default_supervisor_not_started_yet(
    client,
):
    assert _handle._Default.supervisor is None or not _handle._Default.supervisor.is_alive()
    app = Application(tree, drain=WAIT, signals=())
    codes = []
    thread = threading.Thread(target=lambda: codes.append(app.run()))
    thread.start()
    try:
        deadline = time.monotonic() + WAIT
        while app.state is not actors.State.RUNNING:
            assert time.monotonic() < deadline, f"never ready: {app.state}"
            time.sleep(0.01)
        app.stop()
        while not actors.whereis("drain-jobs").proxy().draining.get(timeout=5):
            assert time.monotonic() < deadline, "never drained"
            time.sleep(0.01)
        handle = client.completion(model="llama3.2", prompt="late", stream=actors.Inbox())
        with pytest.raises(Draining, match="draining"):
            handle.result(timeout=WAIT)
    finally:
        job = actors.whereis("drain-job")
        if job is not None:
            job.tell("finish")
        thread.join(WAIT)
    assert codes == [0]
