"""Ollama's route table (gin, with ``HandleMethodNotAllowed``): path and method to handler."""

from __future__ import annotations

from collections.abc import Callable

from ._clock import Clock
from ._http import Request
from ._inference import Inference
from ._manage import Management
from ._reply import PLAIN, TEXT, ApiError, Reply, json_reply, text
from ._store import Store
from ._web import web_fetch, web_search

Handler = Callable[[Request], Reply]
BLOBS = "/api/blobs/"


def is_upload(method: str, path: str) -> bool:
    """A blob upload: its body is hashed as it arrives, never kept (blobs may be gigabytes)."""
    return method == "POST" and path.startswith(BLOBS)


class Api:
    """Answers Ollama API requests (everything but the emulator's own control endpoint)."""

    def __init__(self, store: Store, clock: Clock, version: str) -> None:
        inference = Inference(store, clock)
        self._manage = Management(store)
        self._version = version

        def root(request: Request) -> Reply:
            return text(200, "Ollama is running", TEXT)

        def version_(request: Request) -> Reply:
            return json_reply(200, {"version": self._version})

        manage = self._manage
        self._routes: dict[str, dict[str, Handler]] = {
            "/": {"GET": root, "HEAD": root},
            "/api/version": {"GET": version_, "HEAD": version_},
            "/api/generate": {"POST": inference.generate},
            "/api/chat": {"POST": inference.chat},
            "/api/embed": {"POST": inference.embed},
            "/api/embeddings": {"POST": inference.embeddings},
            "/api/tags": {"GET": manage.tags, "HEAD": manage.tags},
            "/api/ps": {"GET": manage.ps},
            "/api/show": {"POST": manage.show},
            "/api/create": {"POST": manage.create},
            "/api/copy": {"POST": manage.copy},
            "/api/delete": {"DELETE": manage.delete},
            "/api/pull": {"POST": manage.pull},
            "/api/push": {"POST": manage.push},
            # ollama.com's hosted API, which the client's cloud_url may name
            "/api/web_search": {"POST": web_search},
            "/api/web_fetch": {"POST": web_fetch},
        }

    def _methods(self, path: str) -> dict[str, Handler] | None:
        digest = path[len(BLOBS) :] if path.startswith(BLOBS) else ""
        if digest and "/" not in digest:
            return {
                "HEAD": lambda request: self._manage.head_blob(request, digest),
                "POST": lambda request: self._manage.upload_blob(request, digest),
            }
        return self._routes.get(path)

    def handle(self, request: Request) -> Reply:
        """The reply to one request: the handler's, or gin's plain-text 404/405."""
        methods = self._methods(request.path)
        if methods is None:
            return text(404, "404 page not found", PLAIN)
        handler = methods.get(request.method)
        if handler is None:
            return text(405, "405 method not allowed", PLAIN)
        try:
            return handler(request)
        except ApiError as exc:
            return exc.reply()
