"""`Application`: a supervision tree run as a program, with OTP's lifecycle.

``actors.run(start)`` (or ``Application(start).run()``) is what a daemon's ``main`` calls: it
starts the tree, tells the service manager it is ready, waits for SIGTERM or SIGINT, drains,
stops the tree top-down, and returns the exit code. The steps:

1. **Start.** ``start()`` returns the root supervisor's `ActorRef` (OTP's application
   ``start/2``). A start that raises is logged and ends the program with exit code 1.
2. **Ready.** ``READY=1`` to ``NOTIFY_SOCKET`` (systemd's ``Type=notify``), and from then on
   ``WATCHDOG=1`` from the shared loop if the unit sets ``WatchdogSec=`` (a blocked loop stops
   them, and systemd restarts the service).
3. **Drain**, on the first SIGTERM or SIGINT (or `Application.stop`): ``STOPPING=1``; every
   supervisor of the process (the tree's and any other, such as the package's default stream
   supervisor) refuses new children (`actors.Draining`) and the application waits until the
   children that end by themselves (``transient`` and ``temporary``: streams, jobs) have
   ended, for at most ``drain`` seconds.
4. **Stop.** The root is stopped (each supervisor stops its children in reverse start order:
   whatever still runs is stopped, so a stream is cancelled and its recipient told its one
   terminal message), then any other supervisor still running, newest first. Exit code 0.

A second signal cuts the drain short and stops at once (exit code 128 + the signal's
number); if the stop itself has not finished ``force`` seconds later, the process exits there
and then (``os._exit``). A root that ends by itself (its restart intensity was reached) stops
the application too, with exit code 1, as a permanent OTP application takes its node down.

Signals are handled explicitly, so the same runs under systemd, as PID 1 in a container (where
the kernel ignores a signal that has no handler) and in a terminal (Ctrl-C is SIGINT).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from pykka import ActorRef
from pykka.messages import ProxyCall

from actors import telemetry
from actors._actor import shutdown
from actors._exit import Exit
from actors._loop import event_loop
from actors._monitor import Down, monitor
from actors._notify import sd_notify, watchdog_interval
from actors._request import send_request
from actors._supervisor_base import begin_drain, end_drain, live_supervisors
from actors.telemetry import APPLICATION_DRAIN as DRAIN
from actors.telemetry import APPLICATION_READY as READY
from actors.telemetry import APPLICATION_STOP as STOP

__all__ = ["Application", "State", "run"]

logger = logging.getLogger(__name__)


class State(enum.Enum):
    """Where an `Application` is in its life."""

    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    DRAINING = "draining"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Application:
    """Runs a supervision tree as a program: start, ready, drain on a signal, stop.

    ``start`` returns the root supervisor's `ActorRef` (it blocks until the tree has started,
    as ``Supervisor.start`` does). ``drain`` is the most seconds the running children that
    end by themselves get to finish; ``shutdown`` bounds the stop of the root (each child is
    still bounded by its own ``shutdown``); ``force`` is how long a stop after a second
    signal may take before the process exits regardless. ``signals`` are the signals that
    stop it (handled only while `run` runs; pass ``()`` to run it from another thread than
    the main one, then stop it with `stop`). The module docstring has the whole lifecycle.
    """

    def __init__(
        self,
        start: Callable[[], ActorRef[Any]],
        *,
        name: str = "application",
        drain: float = 30.0,
        shutdown: float | None = 30.0,
        force: float = 5.0,
        signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
    ) -> None:
        if not callable(start):
            raise TypeError(f"Application needs a start callable, not {start!r}")
        for what, value in (("drain", drain), ("force", force)):
            if not (isinstance(value, int | float) and value >= 0):
                raise ValueError(f"Application {what} must be seconds >= 0, not {value!r}")
        self.name = name
        self.drain = float(drain)
        self.shutdown = shutdown
        self.force = force
        self.signals = tuple(signals)
        self._start = start
        self.state = State.NEW
        self.root: ActorRef[Any] | None = None
        self._wake = threading.Event()
        self._signals: list[int] = []  # received, in order (written by the handler)
        self._stop_asked = False
        self._root_down: Exit | None = None
        self._drain_begun = False

    def __repr__(self) -> str:
        return f"<Application {self.name!r} {self.state.value}>"

    # -- any thread ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Begin the drain, as a first signal would. Any thread; never blocks."""
        self._stop_asked = True
        self._wake.set()

    # -- the program --------------------------------------------------------------------------

    def run(self) -> int:
        """Start, wait for a signal, drain, stop; the exit code. Blocks; call it once.

        Must run on the main thread unless ``signals`` is empty (Python delivers signals
        there). 0 after a drain, 1 if the tree failed to start or its root ended by itself,
        128 + the signal's number if a second signal cut the drain short.
        """
        if self.state is not State.NEW:
            raise RuntimeError(f"{self!r} was run already")
        if self.signals and threading.current_thread() is not threading.main_thread():
            raise ValueError(
                "Application.run handles signals, which only the main thread can: call it "
                "there, or pass signals=() and stop it with Application.stop"
            )
        watcher = _SignalWatcher(self) if self.signals else None
        try:
            return self._run()
        finally:
            if self._drain_begun:
                end_drain()
            if watcher is not None:
                watcher.close()

    def _run(self) -> int:
        self.state = State.STARTING
        began = time.monotonic()
        try:
            self.root = root = self._start()
        except Exception:
            logger.exception("%s: the tree failed to start", self.name)
            self.state = State.STOPPED
            return 1
        if not isinstance(root, ActorRef):
            logger.error("%s: start returned %r, not the root's ActorRef", self.name, root)
            self.state = State.STOPPED
            return 1
        monitor(root, _Waker(self))
        self.state = State.RUNNING
        sd_notify(f"READY=1\nSTATUS={self.name} is running\nMAINPID={os.getpid()}")
        _Pinger.start_if_wanted()
        logger.info("%s: started in %.3f s", self.name, time.monotonic() - began)
        if telemetry.attached(READY):
            telemetry.execute(
                READY,
                {"duration": time.monotonic() - began},
                {"application": self.name, "root": root},
            )
        while not (self._signals or self._stop_asked or self._root_down is not None):
            self._wake.wait()
            self._wake.clear()
        code = 0
        drained = time.monotonic()
        if self._root_down is not None and not (self._signals or self._stop_asked):
            logger.error("%s: its root ended by itself with %r", self.name, self._root_down)
            code = 1
        else:
            self._drain()
        stopping = time.monotonic()
        self.state = State.STOPPING
        sd_notify(f"STATUS={self.name} is stopping")
        self._stop_all(root)
        self.state = State.STOPPED
        done = time.monotonic()
        if len(self._signals) > 1:
            code = 128 + self._signals[1]
        logger.info(
            "%s: stopped (drain %.3f s, stop %.3f s), exit code %d",
            self.name,
            stopping - drained,
            done - stopping,
            code,
        )
        if telemetry.attached(STOP):
            telemetry.execute(
                STOP,
                {"drain": stopping - drained, "stop": done - stopping, "exit_code": code},
                {"application": self.name},
            )
        return code

    def _on_signal(self, signum: int) -> None:
        """A signal came (the watcher's thread): wake `run`; the second starts the forced
        exit's clock, the third exits now."""
        self._signals.append(signum)
        if len(self._signals) == 2:  # stop at once: the stop may take `force` seconds
            _force_exit_after(self.force, 128 + signum)
        elif len(self._signals) > 2:
            os._exit(128 + signum)
        self._wake.set()

    def _drain(self) -> None:
        """Have every supervisor refuse new children and wait for the rest, up to `drain`."""
        self.state = State.DRAINING
        why = signal.Signals(self._signals[0]).name if self._signals else None
        extend = int((self.drain + (self.shutdown or 0) + self.force) * 1e6)
        sd_notify(f"STOPPING=1\nSTATUS={self.name} is draining\nEXTEND_TIMEOUT_USEC={extend}")
        logger.info(
            "%s: %s: draining (new children refused, up to %.1f s for the rest)",
            self.name,
            why or "stop requested",
            self.drain,
        )
        if telemetry.attached(DRAIN):
            telemetry.execute(
                DRAIN, {"deadline": self.drain}, {"application": self.name, "signal": why}
            )
        supervisors = begin_drain()
        self._drain_begun = True
        pending = [len(supervisors)]
        lock = threading.Lock()

        def drained(_value: Any, _error: BaseException | None) -> None:
            with lock:
                pending[0] -= 1
                if pending[0] == 0:
                    self._wake.set()

        for ref in supervisors:
            send_request(ref, ProxyCall(("drain",), (), {}), drained)
        deadline = time.monotonic() + self.drain
        while pending[0] > 0 and len(self._signals) < 2:
            left = deadline - time.monotonic()
            if left <= 0:
                logger.info(
                    "%s: drain deadline passed with %d supervisor(s) still busy: stopping "
                    "what runs",
                    self.name,
                    pending[0],
                )
                return
            self._wake.wait(left)
            self._wake.clear()

    def _stop_all(self, root: ActorRef[Any]) -> None:
        """Stop the root, then every other supervisor still running, newest first."""
        _stop(root, self.shutdown)
        for ref in reversed(live_supervisors(roots=True)):
            _stop(ref, self.shutdown)


def _stop(ref: ActorRef[Any], timeout: float | None) -> None:
    try:
        shutdown(ref, timeout)
    except TimeoutError:
        logger.error("%s did not stop within %s s; going on", ref, timeout)


class _SignalWatcher:
    """Hears the application's signals on a thread of its own, through Python's wakeup fd.

    Python runs a signal's handler on the main thread only, between two bytecodes; the kernel
    may give the signal to any other thread, and the main thread, blocked in a wait, would not
    run the handler until that wait ends (never, for `Application.run`'s). A handler that set
    an `threading.Event` could also deadlock on the lock that the interrupted main thread
    holds. So the handler does nothing; the C-level handler writes each signal's number to
    the wakeup fd from whichever thread took it, and this thread reads it and acts.
    """

    def __init__(self, app: Application) -> None:
        self._app = app
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._wanted = {int(sig) for sig in app.signals}
        self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._previous = {sig: signal.signal(sig, _ignore) for sig in app.signals}
        self._thread = threading.Thread(target=self._watch, name="signals", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while data := os.read(self._read, 64):
            for signum in data:
                if signum in self._wanted:
                    self._app._on_signal(signum)

    def close(self) -> None:
        """Put the previous handlers and wakeup fd back and end the thread (main thread)."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self._write)  # the thread reads the end of the pipe and returns
        self._thread.join(5.0)
        os.close(self._read)


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    """The Python-level handler: `_SignalWatcher` acts on the signal."""


class _Waker:
    """The root's monitor: its DOWN wakes `Application.run`."""

    def __init__(self, app: Application) -> None:
        self._app = app

    def tell(self, message: Any) -> None:
        if isinstance(message, Down):
            self._app._root_down = message.reason
            self._app._wake.set()


def _force_exit_after(seconds: float, code: int) -> None:
    """Exit the process in ``seconds`` unless it has exited by then (a daemon timer)."""

    def force() -> None:
        logger.error("the stop after a second signal took over %s s: exiting now", seconds)
        with contextlib.suppress(Exception):
            logging.shutdown()
        os._exit(code)

    timer = threading.Timer(seconds, force)
    timer.daemon = True
    timer.start()


class _Pinger:
    """``WATCHDOG=1`` to the service manager from the shared loop, at half its interval."""

    started = False

    @classmethod
    def start_if_wanted(cls) -> None:
        interval = watchdog_interval()
        if interval is None or cls.started:
            return
        cls.started = True
        loop = event_loop()

        def ping() -> None:
            sd_notify("WATCHDOG=1")
            loop.call_later(interval / 2, ping)

        loop.call_soon_threadsafe(ping)


def run(start: Callable[[], ActorRef[Any]], **options: Any) -> int:
    """``Application(start, **options).run()``: run a tree as a program; the exit code.

    ::

        raise SystemExit(actors.run(lambda: Supervisor.start(children), drain=30.0))
    """
    return Application(start, **options).run()
