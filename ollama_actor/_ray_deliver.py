"""What runs in a Ray recipient's own process: a batch of messages told one by one, fenced.

`RayRecipient` sends each batch with ``handle.__ray_call__.remote(deliver, method, batch)``, so
the recipient's process imports this module on its first message: the standard library only
(not Ray's client side, httpx or the actors runtime), to keep that first message cheap.

Fences, for streams that move between processes (`StreamCluster`): such a stream's messages
carry its *epoch* (0, then one more per move to another node, or per ending the driver decides).
A message with a lower epoch than one already delivered for its ref is dropped (a late message
from a node that died), and so is anything after a terminal message: every ref gets exactly
one terminal message here.
"""

from __future__ import annotations

import collections
import threading
from typing import Any

__all__ = ["Group", "deliver"]

_TERMINAL = frozenset(("done", "error"))

Group = tuple[int | None, Any, list[Any]]
"""What a Ray call carries: ``(epoch, ref, [body, ...])`` per ref, its message bodies in order
(``ref`` None: ``[message]``, a message that is not a stream's, told as it is)."""


class _Fences:
    """Per cluster ref: the highest epoch delivered; refs that have had their terminal."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.epochs: dict[Any, int] = {}
        self.ended: set[Any] = set()
        self.ended_order: collections.deque[Any] = collections.deque()

    def admitted(self, epoch: int, ref: Any, bodies: list[Any]) -> list[Any]:
        """Which of ``ref``'s message bodies at ``epoch`` are delivered (and record them)."""
        with self.lock:
            if ref in self.ended or epoch < self.epochs.get(ref, 0):
                return []
            for at, body in enumerate(bodies):
                if body[0] in _TERMINAL:
                    self.epochs.pop(ref, None)
                    self.ended.add(ref)
                    self.ended_order.append(ref)
                    if len(self.ended_order) > 100_000:  # stragglers come within seconds
                        self.ended.discard(self.ended_order.popleft())
                    return bodies[: at + 1]
            self.epochs[ref] = epoch
            return bodies


_fences = _Fences()


def deliver(actor: Any, method: str, batch: list[Group]) -> None:
    """Run in the recipient's process by ``__ray_call__``: one call of its method per message."""
    tell = getattr(actor, method)
    failure: Exception | None = None
    for epoch, ref, items in batch:
        if ref is None:  # whole messages, not a stream's
            messages = items
        elif epoch is None:
            messages = [(ref, body) for body in items]
        else:
            messages = [(ref, body) for body in _fences.admitted(epoch, ref, items)]
        for message in messages:
            try:
                tell(message)
            except Exception as exc:  # the recipient's own bug: the next messages still go
                failure = failure or exc
    if failure is not None:
        raise failure
