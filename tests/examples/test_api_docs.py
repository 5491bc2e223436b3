"""docs/api.md is generated from the docstrings; it must match what `make docs` writes."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_api_reference_is_up_to_date():
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "gen_api.py"), "--check"],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + " (docstrings changed: run `make docs`)"


def test_api_reference_covers_every_public_name():
    import actors
    import ollama_actor
    import ollama_actor.emulator

    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for module in (actors, ollama_actor, ollama_actor.emulator):
        for name in module.__all__:
            assert f"### `{module.__name__}.{name}`" in text
    assert "### fixture `ollama_emulator`" in text
