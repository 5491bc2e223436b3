"""The examples and the demo run, against the emulator."""

import importlib.util
import io
import os
import selectors
import socket
import subprocess
import sys
from pathlib import Path

from ollama_actor import Ollama, Timeout
from ollama_actor.demo import main as demo_main
from ollama_actor.emulator import cut, expected_reply

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_liveview_example_streams_answers_into_the_view(ollama_emulator):
    liveview = load("liveview")
    questions = ["Why is the sky blue?", "And why are sunsets red?"]
    with Ollama(ollama_emulator.base_url, timeout=Timeout(connect=5, read=10)) as client:
        conversation = liveview.converse(client, "llama3.2", questions)
    assert [m["role"] for m in conversation] == ["user", "assistant", "user", "assistant"]
    first = expected_reply("llama3.2", [{"role": "user", "content": questions[0]}])
    assert conversation[1]["content"] == first.text
    assert conversation[3]["content"]  # the second answer, given the whole history


def test_liveview_never_renders_a_mixed_answer_after_a_cut(ollama_emulator):
    liveview = load("liveview")
    question = "Why is the sky blue?"
    answer = expected_reply("llama3.2", [{"role": "user", "content": question}]).text
    ollama_emulator.inject(cut(after=4), path="/api/chat")
    with Ollama(ollama_emulator.base_url, timeout=Timeout(connect=5, read=10)) as client:
        view_ref = liveview.ChatView.start(client, "llama3.2")
        try:
            view = view_ref.proxy()
            view.submit(question).get(timeout=10)
            assert view.idle.get(timeout=10).wait(10)
            renders = view.renders.get(timeout=10)
            messages = view.messages.get(timeout=10)
        finally:
            view_ref.stop()
    assert messages[-1]["content"] == answer
    assert "" in renders  # the restart emptied the draft
    assert all(answer.startswith(text) for text in renders), renders
    assert ollama_emulator.request_count("/api/chat") == 2


def _run_example(name, *args, host):
    env = {**os.environ, "OLLAMA_HOST": host}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def test_the_examples_use_ollama_host_and_fail_with_one_line(ollama_emulator):
    liveview = _run_example("liveview", host=ollama_emulator.url)
    assert liveview.returncode == 0, liveview.stderr
    assert liveview.stdout.splitlines()[0] == "     user: Why is the sky blue?"
    assert ollama_emulator.request_count("/api/chat") == 2
    failed = _run_example("liveview", "--model", "nope", host=ollama_emulator.url)
    assert failed.returncode == 1
    assert failed.stderr == "error: model 'nope' not found (HTTP 404 from POST /api/chat)\n"
    daemon = _run_example(
        "daemon", "--seconds", "1.5", "--interval", "0.1", host=ollama_emulator.url
    )
    assert daemon.returncode == 0, daemon.stderr
    assert '"done"' in daemon.stdout.splitlines()[-1]
    assert ollama_emulator.request_count("/api/generate") >= 5


def test_the_examples_say_a_bad_ollama_host_in_one_line():
    env = {**os.environ, "OLLAMA_HOST": "http://x:port", "PYTHONPATH": str(EXAMPLES.parent)}
    line = "error: Ollama: 'host' has a port that is not a number: 'http://x:port'\n"
    for command in (
        [str(EXAMPLES / "liveview.py")],
        [str(EXAMPLES / "daemon.py"), "--seconds", "1"],
        ["-m", "examples.chat_web", "--port", "0"],
    ):
        result = subprocess.run(
            [sys.executable, *command],
            cwd=EXAMPLES.parent, capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert (result.returncode, result.stderr) == (1, line), command


def test_demo_falls_back_to_the_emulator(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound but not listening: nothing answers there
        monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{s.getsockname()[1]}")
        out = io.StringIO()
        assert demo_main(["--prompt", "Why is the sky blue?"], out=out) == 0
    text = out.getvalue()
    assert "using the bundled emulator" in text
    assert "[retry 1 after: the server closed the connection" in text
    retried = text.split("[retry 1 after:")[1]
    assert expected_reply("llama3.2", "Why is the sky blue?").text in retried
    assert "[done:" in text


def test_demo_picks_a_model_that_can_generate(ollama_emulator, monkeypatch):
    assert ollama_emulator_copy(ollama_emulator, "nomic-embed-text", "embedder")
    monkeypatch.setenv("OLLAMA_HOST", ollama_emulator.url)
    out = io.StringIO()
    assert demo_main(["--prompt", "Hi"], out=out) == 0
    assert out.getvalue().startswith(f"Using Ollama at {ollama_emulator.url}/api with model ")
    body = ollama_emulator.last_request("/api/generate").body
    assert body["model"] == "llama3.2:latest"  # the embedding model, listed first, is skipped
    assert expected_reply("llama3.2", "Hi").text in out.getvalue()
    out = io.StringIO()
    assert demo_main(["--model", "qwen3", "--prompt", "Hi"], out=out) == 0
    assert ollama_emulator.last_request("/api/generate").body["model"] == "qwen3"


def test_demo_without_a_model_that_can_generate_uses_the_emulator(ollama_emulator, monkeypatch):
    with Ollama(ollama_emulator.base_url) as client:
        for model in ("llama3.2", "qwen3", "llava"):
            assert client.delete_model(model=model)
    monkeypatch.setenv("OLLAMA_HOST", ollama_emulator.url)
    out = io.StringIO()
    assert demo_main(["--prompt", "Hi"], out=out) == 0
    assert out.getvalue().startswith(
        f"The Ollama at {ollama_emulator.url}/api has no model that can generate "
        "(nomic-embed-text:latest cannot generate); using the bundled emulator at "
    )
    assert ollama_emulator.request_count("/api/generate") == 0


def test_demo_errors_are_one_line(ollama_emulator):
    env = {**os.environ, "OLLAMA_HOST": "http://x:port"}
    bad_host = subprocess.run(
        [sys.executable, "-m", "ollama_actor.demo"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert bad_host.returncode == 2
    assert bad_host.stderr.startswith("error: host: has a port that is not a number")
    assert bad_host.stderr.count("\n") == 1
    env["OLLAMA_HOST"] = ollama_emulator.url
    unknown = subprocess.run(
        [sys.executable, "-m", "ollama_actor.demo", "--model", "nope"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert unknown.returncode == 2
    assert unknown.stderr == "error: model 'nope' not found (HTTP 404 from POST /api/generate)\n"


def test_demo_error_for_an_address_that_cannot_be_parsed_is_one_line(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "http://[::1")
    out, err = io.StringIO(), io.StringIO()
    assert demo_main([], out=out, err=err) == 2
    assert err.getvalue() == (
        "error: host: is not a valid address: 'http://[::1' (Invalid IPv6 URL)\n"
    )


def test_make_demo_passes_model_on():
    root = EXAMPLES.parent
    dry = subprocess.run(
        ["make", "-n", "--no-print-directory", "-C", str(root), "demo", "MODEL=qwen3"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert dry.stdout.splitlines()[-1].endswith("-m ollama_actor.demo --model 'qwen3'")


def ollama_emulator_copy(emulator, source, destination):
    with Ollama(emulator.base_url) as client:
        return client.copy_model(source=source, destination=destination)


def test_the_chat_page_uses_ollama_host(ollama_emulator):
    env = {**os.environ, "OLLAMA_HOST": ollama_emulator.url, "PYTHONPATH": str(EXAMPLES.parent)}
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.chat_web", "--port", "0"],
        cwd=EXAMPLES.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(20), "nothing printed within 20 s"
        first = process.stdout.readline()
        assert first.startswith("chat page on http://"), first  # no emulator was started
    finally:
        process.terminate()
        process.wait(timeout=10)
