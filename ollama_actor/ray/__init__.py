"""Streams and recipients on Ray (the optional extra ``ray``: ``pip install 'ollama-actor[ray]'``).

- `RayRecipient`: a Ray actor as a stream's recipient, anywhere in the Ray cluster; a bare Ray
  actor handle passed as ``stream=`` is wrapped in one (method ``tell``).
- `StreamCluster`: streams spread over Ray actors, each a process with this project's runtime;
  a node that dies has its streams moved or ended, each with exactly one terminal message.

See docs/scaling.md, "A Ray cluster".
"""

from __future__ import annotations

try:
    import ray as _ray  # noqa: F401
except ImportError as exc:  # pragma: no cover - only without the extra
    raise ImportError("ollama_actor.ray needs Ray: pip install 'ollama-actor[ray]'") from exc

from ollama_actor._errors import NodeLost, RecipientBehind
from ollama_actor.ray._cluster import ClusterHandle, ClusterStream, StreamCluster
from ollama_actor.ray._recipient import ClusterRef, RayRecipient

__all__ = [
    "ClusterHandle",
    "ClusterRef",
    "ClusterStream",
    "NodeLost",
    "RayRecipient",
    "RecipientBehind",
    "StreamCluster",
]
