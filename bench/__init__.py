"""Benchmarks against the official client and raw Pykka; ``make bench`` runs them all.

Run everything with ``.venv/bin/python -m bench`` (writes ``docs/benchmarks.md``) or one part
with ``.venv/bin/python -m bench.b1_single`` and the like. Never part of ``make test``.
"""
