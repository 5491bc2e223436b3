"""The command line and ``EmulatorProcess``: start, control over HTTP, kill, restart on the port."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from ollama_actor.emulator import EmulatorProcess, cut, expected_tokens, stall

from .wire import connect, exchange, read_response, request_bytes

GENERATE = {"model": "llama3.2", "prompt": "proc", "options": {"num_predict": 4}}


def test_cli_prints_its_address_then_serves() -> None:
    command = [sys.executable, "-m", "ollama_actor.emulator", "--port", "0", "--version", "9.9.9"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"listening on http://127\.0\.0\.1:(\d+)\n", line)
        assert match, line
        port = int(match.group(1))
        assert exchange(port, "GET", "/api/version").json() == {"version": "9.9.9"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
        process.wait()


def test_cli_help_lists_the_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ollama_actor.emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    for option in ("--host", "--port", "--token-rate", "--first-token-delay", "--max-queue"):
        assert option in result.stdout
    assert "--num-parallel" in result.stdout


def test_process_control_api(ollama_emulator_process: EmulatorProcess) -> None:
    emulator = ollama_emulator_process
    assert emulator.url == f"http://127.0.0.1:{emulator.port}"
    assert emulator.base_url == emulator.url + "/api"
    emulator.inject(cut(after=2), path="/api/generate")
    response = exchange(emulator.port, "POST", "/api/generate", GENERATE)
    assert not response.complete
    assert len(response.chunks or []) == 2
    response = exchange(emulator.port, "POST", "/api/generate", GENERATE)
    tokens = expected_tokens("llama3.2", "proc", {"num_predict": 4})
    assert [o["response"] for o in response.objects()[:-1]] == tokens
    first, second = emulator.wait_for_requests(2, path="/api/generate")
    assert emulator.wait_until_ended(first.id).outcome == "fault"
    assert (first.fault, first.body) == ("cut", GENERATE)
    assert emulator.wait_until_ended(second.id).outcome == "complete"
    assert emulator.request_count() == 2
    assert emulator.request_count("/api/tags") == 0
    assert [r.id for r in emulator.requests] == [first.id, second.id]
    emulator.clear_requests()
    assert emulator.requests == []
    with pytest.raises(TimeoutError):
        emulator.wait_for_requests(1, timeout=0.1)
    emulator.inject(cut(after=0))
    emulator.clear_faults()
    assert exchange(emulator.port, "GET", "/api/tags").status == 200


def test_process_reports_disconnects_with_a_shared_clock(
    ollama_emulator_process: EmulatorProcess,
) -> None:
    emulator = ollama_emulator_process
    emulator.inject(stall(after=1), path="/api/generate")
    with connect(emulator.port) as conn:
        conn.sendall(request_bytes("POST", "/api/generate", GENERATE))
        read_response(conn, max_chunks=1)
        info = emulator.last_request("/api/generate")
        assert emulator.active_streams() == 1
        closed = time.monotonic()
    ended = emulator.wait_until_ended(info.id)
    assert ended.outcome == "client_closed"
    assert ended.closed_at is not None
    assert closed <= ended.closed_at < closed + 1.0
    assert emulator.active_streams() == 0


def test_process_pacing_can_change_at_runtime(ollama_emulator_process: EmulatorProcess) -> None:
    emulator = ollama_emulator_process
    emulator.set_pacing(token_rate=50, first_token_delay=0.1)
    started = time.monotonic()
    body = {**GENERATE, "stream": False}
    assert exchange(emulator.port, "POST", "/api/generate", body).status == 200
    assert 0.18 <= time.monotonic() - started < 1.0  # 0.1 s + 5 steps at 50/s


def test_kill_and_restart_on_the_same_port() -> None:
    emulator = EmulatorProcess()
    with emulator:
        port = emulator.port
        emulator.inject(stall(after=1), path="/api/generate")
        with connect(port) as conn:
            conn.sendall(request_bytes("POST", "/api/generate", GENERATE))
            assert len(read_response(conn, max_chunks=1).chunks or []) == 1
            emulator.kill()
            with contextlib.suppress(ConnectionResetError):
                assert conn.rest() == b""  # the stream just ends, without its terminator
        with pytest.raises(httpx.ConnectError):
            httpx.get(emulator.url, timeout=2)
        emulator.start()
        assert emulator.port == port
        assert httpx.get(emulator.url, timeout=5).text == "Ollama is running"
        emulator.stop()
        restarted = EmulatorProcess(port=port).start()
        try:
            assert restarted.url == emulator.url
            assert exchange(port, "GET", "/").body == b"Ollama is running"
        finally:
            restarted.stop()


def test_unknown_request_id(ollama_emulator_process: EmulatorProcess) -> None:
    with pytest.raises(KeyError):
        ollama_emulator_process.wait_until_ended(12345, timeout=0.1)


def test_loaded_models_are_in_memory_from_the_start_and_again_after_a_restart() -> None:
    with EmulatorProcess(loaded=("qwen3", "llama3.2")) as emulator:
        names = {m["name"] for m in exchange(emulator.port, "GET", "/api/ps").json()["models"]}
        assert names == {"qwen3:latest", "llama3.2:latest"}
        emulator.kill()
        emulator.start()
        names = {m["name"] for m in exchange(emulator.port, "GET", "/api/ps").json()["models"]}
        assert names == {"qwen3:latest", "llama3.2:latest"}
        generate = exchange(emulator.port, "POST", "/api/generate", GENERATE)
        last = json.loads(generate.lines()[-1])
        assert last["load_duration"] < 100_000_000  # warm: not the modelled cold load


def test_loading_a_model_that_is_not_local_is_refused_at_start() -> None:
    process = EmulatorProcess(loaded=("tinyllama",))
    with pytest.raises(RuntimeError, match="exited"):
        process.start()
