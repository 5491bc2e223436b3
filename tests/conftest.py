"""Fixtures for the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ollama_actor import _handle


@pytest.fixture(autouse=True)
def _fresh_default_supervisor() -> Iterator[None]:
    """Each test that streams to a recipient gets the package's default supervisor afresh."""
    yield
    supervisor = _handle._Default.supervisor
    if supervisor is not None:
        _handle._Default.supervisor = None
        supervisor.stop(timeout=10)
