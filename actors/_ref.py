"""Unique references: cheap tokens that name one request, one monitor, one anything."""

from __future__ import annotations

import itertools

__all__ = ["Ref"]

_counter = itertools.count(1)


class Ref:
    """A unique, hashable token, printed as ``#Ref<0.N>``.

    Each ``Ref()`` takes the next value of a process-wide counter, so two refs are equal only
    if one is a copy of the other. Creating one is cheap (a counter step, no lock, no syscall)
    and safe from any thread. Refs are meant to be compared, hashed and printed; they carry no
    other meaning and are not stable across processes.
    """

    __slots__ = ("_n",)

    def __init__(self) -> None:
        self._n = next(_counter)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Ref):
            return self._n == other._n
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._n)

    def __repr__(self) -> str:
        return f"#Ref<0.{self._n}>"
