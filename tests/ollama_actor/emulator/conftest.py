"""Fixtures for the emulator's own tests.

``pytest_plugins`` is refused by pytest in a conftest below the top level, so the plugin's fixtures
are imported instead (the lead wires the plugin globally later).
"""

from ollama_actor.pytest_plugin import ollama_emulator, ollama_emulator_process

__all__ = ["ollama_emulator", "ollama_emulator_process"]
