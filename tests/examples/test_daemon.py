"""The daemon example keeps serving while the emulator process is killed and restarted."""

import time

from actors import Address, whereis
from ollama_actor.emulator import EmulatorProcess

from .test_examples import load


def summary():
    return Address("consumer").proxy().summary().get(timeout=5)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_daemon_survives_the_server_being_killed_and_restarted():
    daemon = load("daemon")
    with EmulatorProcess(token_rate=40.0) as emu:
        root, client = daemon.start_tree(emu.base_url, "llama3.2", interval=0.05)
        try:
            wait_for(lambda: summary().get("done", 0) >= 5, 20, "the first answers")
            emu.kill()  # a crash: every open stream is cut, new connections are refused
            time.sleep(0.5)
            emu.start()  # the same port again
            after_restart = summary().get("done", 0)
            wait_for(
                lambda: summary().get("done", 0) >= after_restart + 10, 30, "answers after restart"
            )
            assert root.is_alive()
            root.proxy().terminate_child("producer").get(timeout=5)
            wait_for(lambda: summary().get("running", 0) == 0, 30, "every stream to end")
            sequences = Address("consumer").proxy().sequences().get(timeout=5)
        finally:
            daemon.stop_tree(root, client)
    assert whereis("consumer") is None  # the tree is gone, names released
    for kinds in sequences.values():
        assert kinds[-1] in ("done", "error")
        assert all(k in ("data", "restart") for k in kinds[:-1])
    restarted = [k for k in sequences.values() if "restart" in k]
    assert restarted, "the streams cut by the crash were retried"
    assert any(k[-1] == "done" for k in restarted), "a retried stream completed after the restart"
