"""Unique references: cheap tokens that name one request, one monitor, one anything."""

from __future__ import annotations

import itertools
import os
import secrets

__all__ = ["Ref"]

_counter = itertools.count(1)

_GLOBAL = 1 << 62
"""Refs numbered from here on are unique across processes: a `ClusterRef`'s random number, or
a ref pickled in another process (its process's token, shifted past the counter's bits)."""
_COUNTER_BITS = 64


class _Process:
    token = 0
    """This process's random token, in the number of its refs pickled to other processes."""

    @classmethod
    def new_token(cls) -> None:
        cls.token = secrets.randbits(62) | 1


_Process.new_token()
os.register_at_fork(after_in_child=_Process.new_token)  # a child counts on from the parent's refs


class Ref:
    """A unique, hashable token, printed as ``#Ref<0.N>``.

    Each ``Ref()`` takes the next value of a process-wide counter, so two refs are equal only
    if one is a copy of the other. Creating one is cheap (a counter step, no lock, no syscall)
    and safe from any thread. Refs are meant to be compared, hashed and printed; they carry no
    other meaning. A ref pickled to another process (a Ray recipient is told it) stays distinct
    there from that process's own refs and from other processes' refs, and equals the original
    again when pickled back.
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

    def __reduce__(self) -> tuple[object, ...]:
        n = self._n
        if n < _GLOBAL:  # this process's own number: qualified by this process's token
            n |= _Process.token << _COUNTER_BITS
        return (_unpickle, (type(self), n))

    def __repr__(self) -> str:
        n = self._n
        if n >= 1 << _COUNTER_BITS:  # another process's ref
            return f"#Ref<{n >> _COUNTER_BITS:x}.{n & ((1 << _COUNTER_BITS) - 1)}>"
        return f"#Ref<0.{n}>"


def _unpickle(cls: type[Ref], n: int) -> Ref:
    """A pickled ref: back to its own number in the process that made it."""
    if n >> _COUNTER_BITS == _Process.token:
        n &= (1 << _COUNTER_BITS) - 1
    ref = cls.__new__(cls)
    ref._n = n
    return ref
