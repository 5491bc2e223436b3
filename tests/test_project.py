"""The project's own files agree with each other: licence, changelog, version, git hooks."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_licence_file_is_the_licence_pyproject_names():
    assert PYPROJECT["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert re.search(r"^Copyright \(c\) \d{4} the ollama-actor authors$", text, re.MULTILINE)


def test_the_changelog_has_an_unreleased_section_and_the_current_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## \[([^\]]+)\]", text, re.MULTILINE)
    assert sections[0] == "Unreleased"
    assert PYPROJECT["version"] in sections
    for section in sections:  # each heading has its link at the end
        assert re.search(rf"^\[{re.escape(section)}\]: https://", text, re.MULTILINE), section


def _make_commands(target: str) -> list[str]:
    """The commands of one Makefile target, with $(BIN) spelled out."""
    lines = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    commands = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        commands.append(line.strip().replace("$(BIN)", ".venv/bin"))
    return commands


def test_the_git_hooks_run_what_make_lint_and_make_typecheck_run():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert [hook["entry"] for hook in hooks] == _make_commands("lint") + _make_commands("typecheck")
    assert all(hook["pass_filenames"] is False for hook in hooks)  # the whole tree, as make
