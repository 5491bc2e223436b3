"""A quiet library: a process that never configures logging hears nothing on stderr.

The package loggers have a NullHandler, as Python's guidance for libraries asks, and per-stream
events that the recipient is told anyway (a restart, a spent restart budget) are logged at DEBUG,
so that an application logging at WARNING is not flooded by streams that ended as they should.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from ollama_actor.emulator import cut, status

# Streams to the emulator whose URL is argv[1]: one spends its whole restart budget, one is
# retried once and succeeds, one is cancelled, one's recipient (a Pykka actor) dies mid-stream.
SCRIPT = textwrap.dedent(
    """
    import sys
    {setup}
    import pykka

    from actors import Backoff, Inbox
    from ollama_actor import Ollama, RetryPolicy

    FAST = RetryPolicy(backoff=Backoff(min=0.01, max=0.05))


    def kinds(inbox, handle):
        out = []
        while not out or out[-1] not in ("done", "error"):
            ref, (kind, _payload) = inbox.receive(match=lambda m: m[0] == handle.ref, timeout=20)
            out.append(kind)
        return " ".join(k for i, k in enumerate(out) if i == 0 or k != "data" or out[i - 1] != k)


    with Ollama(sys.argv[1]) as client:
        inbox = Inbox()
        for _ in range(2):
            spent = client.completion(model="llama3.2", prompt="x", stream=inbox, retry=FAST)
            print(kinds(inbox, spent))
        mended = client.completion(model="llama3.2", prompt="y", stream=inbox, retry=FAST)
        print(kinds(inbox, mended))
        cancelled = client.completion(model="llama3.2", prompt="z", stream=inbox, retry=FAST)
        cancelled.cancel()
        print(kinds(inbox, cancelled))
        recipient = pykka.ThreadingActor.start()
        recipient.stop()
        gone = client.completion(model="llama3.2", prompt="w", stream=recipient, retry=FAST)
        try:
            gone.result(timeout=20)
        except Exception:
            print("the recipient is gone")
    """
)


def _run(url: str, setup: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.format(setup=setup), url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _inject(emu) -> None:
    emu.inject(status(503), path="/api/generate", times=8)  # two streams: 4 attempts each
    emu.inject(cut(after=2), path="/api/generate")


def test_a_process_that_never_configures_logging_gets_nothing_on_stderr(ollama_emulator):
    _inject(ollama_emulator)
    result = _run(ollama_emulator.base_url)
    assert result.stdout.splitlines() == [
        "restart restart restart error",
        "restart restart restart error",
        "data restart data done",
        "error",
        "the recipient is gone",
    ], result.stderr
    assert result.stderr == ""
    assert result.returncode == 0


def test_events_the_recipient_is_told_are_debug_not_warning(ollama_emulator):
    _inject(ollama_emulator)
    setup = (
        "import logging; logging.basicConfig(level=logging.DEBUG, "
        "format='%(levelname)s %(name)s: %(message)s')"
    )
    result = _run(ollama_emulator.base_url, setup)
    assert result.returncode == 0, result.stderr
    logged = [line for line in result.stderr.splitlines() if line.startswith(("DEBUG", "INFO"))]
    assert any("restart budget" in line for line in logged), result.stderr
    assert any("restarting child" in line for line in logged), result.stderr
    louder = [line for line in result.stderr.splitlines() if not line.startswith("DEBUG")]
    assert louder == []


# A callback on the shared loop that raises: asyncio's own handler would print it on stderr.
ESCAPED = textwrap.dedent(
    """
    {setup}
    import threading
    from actors._loop import call_on_loop

    def boom():
        raise ValueError("a callback's bug")

    after = threading.Event()
    call_on_loop(boom)
    call_on_loop(after.set)
    print(after.wait(10))
    """
)


def test_an_exception_escaping_a_loop_callback_is_logged_not_printed():
    quiet = subprocess.run(
        [sys.executable, "-c", ESCAPED.format(setup="")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (quiet.stdout, quiet.stderr) == ("True\n", "")
    setup = "import logging; logging.basicConfig(format='%(levelname)s %(name)s: %(message)s')"
    logged = subprocess.run(
        [sys.executable, "-c", ESCAPED.format(setup=setup)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert logged.stderr.startswith("ERROR actors._loop: Exception in callback boom()"), logged
    assert "ValueError: a callback's bug" in logged.stderr
