"""The package root: what importing it costs, and that every public name is there.

``import ollama_actor`` runs wherever the package is installed: pytest loads the plugin
(``ollama_actor.pytest_plugin``) into every run, and ``ollama-actor --help`` starts the command
line. So the root loads its names on first use, and these checks are structural (what a fresh
process has imported), not timed: a heavy import that creeps back fails them on any machine.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ollama_actor

HEAVY = ("httpx", "pykka", "asyncio", "actors", "ollama_actor._client", "ollama_actor.emulator")


def _run(code: str) -> list[str]:
    """The lines a fresh interpreter prints running code."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.split()


def _imported_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running code."""
    return set(_run(f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"))


@pytest.mark.parametrize(
    "code",
    [
        "import ollama_actor",
        "import ollama_actor.pytest_plugin",
        "from ollama_actor import OllamaError, is_retryable",
    ],
)
def test_importing_the_root_or_the_plugin_imports_nothing_heavy(code):
    modules = _imported_after(code)
    assert "ollama_actor" in modules
    assert [name for name in HEAVY if name in modules] == []


def test_the_command_lines_help_imports_neither_the_client_nor_the_actors():
    modules = _imported_after(
        "import contextlib, io\n"
        "from ollama_actor.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    assert main(['--help']) == 0\n"
        "assert 'usage:' in out.getvalue()"
    )
    assert [name for name in HEAVY if name in modules] == []


PLUGIN_USER = """
import sys

def test_loaded_plugin_has_not_imported_the_emulator():
    assert "ollama_actor.emulator" not in sys.modules

def test_a_fixture_brings_it(ollama_emulator):
    assert ollama_emulator.url.startswith("http://")
    assert "ollama_actor.emulator" in sys.modules
"""


def test_the_plugins_fixtures_import_the_emulator_when_a_test_asks(tmp_path):
    (tmp_path / "test_user.py").write_text(PLUGIN_USER)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_every_public_name_resolves_to_its_modules_object():
    for name in ollama_actor.__all__:
        value = getattr(ollama_actor, name)
        module = importlib.import_module(value.__module__)
        assert getattr(module, name) is value, name
    assert set(ollama_actor.__all__) <= set(dir(ollama_actor))


def test_the_lazy_names_are_exactly_the_public_names_not_imported_eagerly():
    eager = set(
        _run(
            "import ollama_actor\n"
            "print('\\n'.join(n for n in ollama_actor.__all__ if n in vars(ollama_actor)))"
        )
    )
    assert eager, "the errors are imported eagerly"
    assert eager.isdisjoint(ollama_actor._LAZY)
    assert eager | set(ollama_actor._LAZY) == set(ollama_actor.__all__)


def test_an_unknown_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="module 'ollama_actor' has no attribute 'Olama'"):
        ollama_actor.Olama  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(ImportError, match="Olama"):
        exec("from ollama_actor import Olama", {})


# Every kind of call a plain client makes (JSON, a lazy stream, a supervised stream into an Inbox,
# an embedding, the model list), then what the process has imported.
CLIENT_USE = """
import sys

import actors
from ollama_actor import Ollama, StreamReply

with Ollama(sys.argv[1]) as client:
    assert client.list_models()["models"]
    chat = client.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
    assert chat["message"]["content"]
    lazy = client.completion(model="llama3.2", prompt="x", stream=True)
    assert "".join(chunk["response"] for chunk in lazy)
    inbox = actors.Inbox()
    reply = StreamReply(client.completion(model="llama3.2", prompt="y", stream=inbox))
    while not reply.ended:
        reply.apply(inbox.receive(match=reply.matches, timeout=30))
    assert reply.result()["response"]
    assert client.embed(model="nomic-embed-text", input="z")["embeddings"]
print("\\n".join(sys.modules))
"""


def test_plain_client_use_never_imports_the_emulator(emu):
    done = subprocess.run(
        [sys.executable, "-c", CLIENT_USE, emu.url],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    modules = set(done.stdout.split())
    assert {"httpx", "actors", "ollama_actor._client"} <= modules  # it did use the client
    assert sorted(m for m in modules if m.startswith("ollama_actor.emulator")) == []


def test_the_version_is_the_installed_distributions_in_both_packages():
    import actors

    installed = importlib.metadata.version("ollama-actor")
    assert ollama_actor.__version__ == installed
    assert actors.__version__ == installed
    with pytest.raises(AttributeError, match="module 'actors' has no attribute '__versions__'"):
        actors.__versions__  # type: ignore[attr-defined]  # noqa: B018


# Something else named `actors` ahead of ours on sys.path: a package, a folder without
# __init__.py (a namespace package), a module.
STRAYS = {
    "package": {"actors/__init__.py": "x = 1\n"},
    "folder": {"actors/notes.txt": ""},
    "module": {"actors.py": ""},
}


def _stray_actors(root, kind: str) -> str:
    for path, text in STRAYS[kind].items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    found = root / next(iter(STRAYS[kind]))
    return str(found.parent if kind == "folder" else found)


def _run_with_path(code: str, path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(path)}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=60, check=False, env=env, cwd=path,
    )  # fmt: skip


@pytest.mark.parametrize("kind", sorted(STRAYS))
def test_a_stray_actors_is_named_with_the_remedy_at_first_use(tmp_path, kind):
    found = _stray_actors(tmp_path, kind)
    done = _run_with_path(
        "import ollama_actor, ollama_actor.pytest_plugin\n"  # imports nothing that needs it
        "from ollama_actor import OllamaError\n"
        "try:\n"
        "    from ollama_actor import Ollama\n"
        "except ImportError as exc:\n"
        "    print(exc.name, '|', exc)\n",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    name, _, message = done.stdout.partition(" | ")
    assert name == "actors"
    assert f"'import actors' finds {found}, which hides it" in message
    ours = Path(ollama_actor.__file__).parent.parent / "actors"
    assert f"the top-level package 'actors' at {ours}" in message
    assert "Rename that one, or take its folder off sys.path" in message


def test_the_command_line_says_so_in_one_line(tmp_path):
    found = _stray_actors(tmp_path, "package")
    done = _run_with_path(
        "import sys\nfrom ollama_actor.cli import main\nsys.exit(main(['list']))", tmp_path
    )
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ImportError: ollama_actor needs its actor runtime")
    assert found in line


def test_a_project_with_its_own_actors_still_runs_pytest_with_the_plugin_installed(tmp_path):
    _stray_actors(tmp_path, "package")
    (tmp_path / "test_theirs.py").write_text(
        "import actors\n\ndef test_x():\n    assert actors.x == 1\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_theirs.py"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
