"""A check, at ``import ollama_actor``, that the top-level ``actors`` package is the one installed
with it, with an ImportError that says what hides it otherwise.

The actor runtime is the top-level package ``actors`` (the project's design wants it importable as
``actors``), installed beside ``ollama_actor``. A module or folder named ``actors`` earlier on
``sys.path``, often the current directory or the script's, hides it, and ``ollama_actor`` would
fail later on some missing name. The check finds ``actors`` without running it (``find_spec``), so
it costs a few file-system look-ups and imports nothing.
"""

from __future__ import annotations

import importlib.util
import os
import sys


def _found_actors() -> str | None:
    """Where ``import actors`` finds (or found) its code: a file, folders, or None if nowhere."""
    module = sys.modules.get("actors")
    spec = module.__spec__ if module is not None else importlib.util.find_spec("actors")
    if spec is None:
        return None
    if spec.has_location and spec.origin is not None:
        return spec.origin
    # A namespace package (a folder without __init__.py) has no file, only folders.
    folders = dict.fromkeys(spec.submodule_search_locations or [])  # once each, in order
    return ", ".join(folders) or spec.origin


def check_actors() -> None:
    """Raise ImportError unless ``import actors`` gives the package installed beside us."""
    ours = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "actors")
    found = _found_actors()
    if found is not None and os.path.realpath(os.path.dirname(found)) == os.path.realpath(ours):
        return
    if found is None:
        raise ImportError(
            f"ollama_actor needs its actor runtime, the top-level package 'actors' at {ours}, "
            "but 'import actors' finds nothing: reinstall ollama-actor.",
            name="actors",
        )
    raise ImportError(
        f"ollama_actor needs its actor runtime, the top-level package 'actors' at {ours}, but "
        f"'import actors' finds {found}, which hides it (a module or folder named 'actors' "
        "earlier on sys.path, often the current directory or the script's). Rename that one, "
        "or take its folder off sys.path (PYTHONPATH, the working directory).",
        name="actors",
    )
