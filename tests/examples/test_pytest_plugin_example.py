"""examples/test_with_emulator.py passes as a user would run it: pytest, with only the plugin."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_pytest_plugin_example_passes():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "examples/test_with_emulator.py", "-q",
         "-p", "no:cacheprovider"],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
