"""`supervision_tree`: a snapshot of every supervision tree of the process, for a status view.

What OTP's ``observer`` shows of applications: each root supervisor, its children with their
state and restarts, and, nested, the children of the children that are supervisors. Each
supervisor describes itself on its own thread (`SupervisorBase.describe`); the asks go out at
once and are collected within one deadline, so a supervisor that is busy (starting a child
that takes its time) shows as ``"busy"`` instead of holding up the snapshot.
"""

from __future__ import annotations

import time
from typing import Any

from pykka import ActorDeadError, ActorRef, Future, Timeout
from pykka.messages import ProxyCall

from actors._loop import refuse_blocking
from actors._supervisor_base import live_supervisors

__all__ = ["supervision_tree"]


def supervision_tree(*, limit: int = 100, timeout: float = 1.0) -> list[dict[str, Any]]:
    """Every running supervision tree of this process, as plain data (JSON-ready).

    One dict per root supervisor: ``{"name", "kind", "strategy", "draining", "restarts",
    "max_restarts", "max_seconds", "counts", "children", "more"}``, where each child is
    ``{"id", "state", "type", "restarts"}`` plus, for a child that is a running supervisor,
    its own ``"supervisor"`` dict of the same shape. At most ``limit`` children are listed per
    supervisor (``more`` says how many were left out; ``counts`` covers all). A supervisor
    that did not answer within ``timeout`` seconds has ``"busy": True`` and no children.
    Ids are shown with ``str``; a root's ``name`` is the end of its URN and its ``urn`` the
    whole of it. Blocks up to ``timeout``; refused on the loop thread.
    """
    refuse_blocking("supervision_tree()")
    supervisors = live_supervisors()
    asked: list[tuple[ActorRef[Any], Future[Any]]] = [
        (ref, ref.ask(ProxyCall(("describe",), (limit,), {}), block=False)) for ref in supervisors
    ]
    deadline = time.monotonic() + timeout
    described: dict[str, dict[str, Any]] = {}
    for ref, future in asked:
        try:
            described[ref.actor_urn] = future.get(timeout=max(0.0, deadline - time.monotonic()))
        except Timeout:
            described[ref.actor_urn] = {"kind": ref.actor_class.__name__, "busy": True}
        except ActorDeadError:
            continue
    roots = set(described)
    forest: dict[str, dict[str, Any]] = {}
    for urn, info in described.items():
        forest[urn] = node = {key: value for key, value in info.items() if key != "children"}
        node.setdefault("counts", {})
        node["children"] = children = []
        node.setdefault("more", 0)
        for child in info.get("children", ()):
            entry = {
                "id": str(child["id"]),
                "state": child["state"],
                "type": child["type"],
                "restarts": child["restarts"],
            }
            ref = child["ref"]
            if ref is not None and ref.actor_urn in described:
                entry["supervisor"] = ref.actor_urn  # linked below
                roots.discard(ref.actor_urn)
            children.append(entry)
    for node in forest.values():
        for child in node["children"]:
            urn = child.get("supervisor")
            if urn is not None:
                child["supervisor"] = forest[urn]
    ordered = [ref.actor_urn for ref in supervisors if ref.actor_urn in roots]
    for urn in ordered:
        forest[urn]["name"] = _name(forest[urn], urn)
        forest[urn]["urn"] = urn
    return [forest[urn] for urn in ordered]


def _name(node: dict[str, Any], urn: str) -> str:
    """A root's name, the end of its URN (roots have no child id)."""
    return urn.rsplit("-", 1)[-1][:8]
