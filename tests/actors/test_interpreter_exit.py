"""A killed child never delays the interpreter's exit; a running actor still does."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

KILLED_CHILD = """
import threading
from actors import Actor, ChildSpec, Supervisor

busy = threading.Event()

class Stuck(Actor):
    def on_receive(self, message):
        busy.set()
        threading.Event().wait(60)  # Python cannot interrupt this

sup = Supervisor.start([ChildSpec("stuck", Stuck.start, shutdown={shutdown!r})])
child = sup.proxy().which_children().get(timeout=5)[0][1]
child.tell("block")
assert busy.wait(5)
assert sup.stop(timeout=10)
print("stopped", flush=True)
"""

WORKER = """
import time
from actors import Actor

class Worker(Actor):
    def on_receive(self, message):
        time.sleep(0.5)
        print("worked", flush=True)
        self.stop()

    def on_stop(self):
        print("on_stop", flush=True)

Worker.start().tell("work")
print("main ends", flush=True)
"""


def run(script: str) -> tuple[str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=50
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, time.monotonic() - started


@pytest.mark.parametrize("shutdown", ["brutal_kill", 0.2])
def test_a_killed_child_stuck_in_a_handler_does_not_delay_the_exit(shutdown):
    # Regression: the child's non-daemon thread kept the process alive until its handler
    # returned (a minute here).
    out, elapsed = run(KILLED_CHILD.format(shutdown=shutdown))
    assert out == "stopped\n"
    assert elapsed < 20


def test_a_running_actor_keeps_the_process_alive_until_it_ends():
    out, _elapsed = run(WORKER)
    assert out.splitlines() == ["main ends", "worked", "on_stop"]


THREAD_START_FAILS = """
import resource, threading
import pykka
from actors import Actor

threading.stack_size(256 << 20)
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
hogs, release = [], threading.Event()
try:
    while len(hogs) < 64:  # use up the address space with thread stacks
        hog = threading.Thread(target=release.wait, daemon=True)
        hog.start()
        hogs.append(hog)
except RuntimeError:
    pass
try:
    Actor.start()
except RuntimeError as exc:
    print("start failed:", exc, flush=True)
else:
    print("started", flush=True)
threading.stack_size(0)
release.set()
print(pykka.ActorRegistry.get_all(), pykka.ActorRegistry.stop_all(), flush=True)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="needs RLIMIT_AS")
def test_an_actor_whose_thread_cannot_start_does_not_keep_the_process_alive():
    # Regression: the actor was held for the exit wait before its thread started; when
    # the start failed ("can't start new thread") the process never exited, and the actor
    # stayed in Pykka's registry, where stop_all() waited for it forever.
    out, elapsed = run(THREAD_START_FAILS)
    if out.startswith("started"):
        pytest.skip("this machine started the thread regardless of the limit")
    assert out == "start failed: can't start new thread\n[] []\n"
    assert elapsed < 20
