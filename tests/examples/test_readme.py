"""README's actor snippets, run as written against the emulator with a cut mid-answer."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from ollama_actor import Ollama, Timeout
from ollama_actor.emulator import cut, expected_reply

README = Path(__file__).resolve().parents[2] / "README.md"


def _snippets(section: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    body = text.split(f"### {section}\n", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, re.DOTALL)


def test_the_actor_snippets_show_the_answer_once_after_a_cut(ollama_emulator):
    snippets = _snippets("Streaming into actors")
    assert len(snippets) == 2
    answer = expected_reply("llama3.2", [{"role": "user", "content": "Why is the sky blue?"}])
    timeout = Timeout(connect=5, read=10, total=30)
    with Ollama(ollama_emulator.base_url, timeout=timeout) as client:
        namespace = {"client": client}
        for snippet in snippets:
            ollama_emulator.inject(cut(after=3), path="/api/chat")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(snippet, namespace)  # the README's own code, as written
            assert out.getvalue() == answer.text + "\n"
    assert ollama_emulator.request_count("/api/chat") == 4  # each retried once
