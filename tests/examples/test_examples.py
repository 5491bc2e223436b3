"""The examples and the demo run, against the emulator."""

import importlib.util
import io
import socket
import sys
from pathlib import Path

from ollama_actor.demo import main as demo_main
from ollama_actor.emulator import expected_reply

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
    conversation = liveview.converse(ollama_emulator.base_url, "llama3.2", questions)
    assert [m["role"] for m in conversation] == ["user", "assistant", "user", "assistant"]
    first = expected_reply("llama3.2", [{"role": "user", "content": questions[0]}])
    assert conversation[1]["content"] == first.text
    assert conversation[3]["content"]  # the second answer, given the whole history


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
