"""The control endpoint: the emulator's own API under ``/_emulator/`` (a prefix Ollama never uses).

It lets a test drive an emulator running in another process exactly as it drives an in-process one:
program faults, read and clear the request log, wait (server-side, bounded) for requests, read the
number of active streams and change the pacing. Its requests are neither logged nor faulted.

| method | path | body / query | answer |
|---|---|---|---|
| POST | /_emulator/faults | ``{"fault": {...}, "path", "model", "times"}`` | ``{}`` |
| DELETE | /_emulator/faults | | ``{}`` |
| GET | /_emulator/requests | ``?path=`` | ``{"requests": [...]}`` |
| DELETE | /_emulator/requests | | ``{}`` |
| GET | /_emulator/requests/count | ``?path=`` | ``{"count": n}`` |
| GET | /_emulator/requests/wait | ``?n=&timeout=&path=`` | ``{"requests": [...]}`` or 408 |
| GET | /_emulator/requests/ended | ``?id=&timeout=`` | ``{"request": {...}}``, 408 or 404 |
| GET | /_emulator/streams | | ``{"active": n}`` |
| GET, PUT | /_emulator/pacing | ``{"token_rate", "first_token_delay"}`` | the pacing |
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from ._faults import Fault, Rules
from ._gojson import depth_error
from ._http import Request
from ._log import RequestLog
from ._reply import Reply, error, json_reply
from ._settings import Settings

PREFIX = "/_emulator/"

Answer = Reply | asyncio.Future[Reply]


class Control:
    """Handlers for the control endpoint."""

    def __init__(
        self, settings: Settings, rules: Rules, log: RequestLog, active: Callable[[], int]
    ) -> None:
        self._settings = settings
        self._rules = rules
        self._log = log
        self._active = active

    def handle(self, request: Request) -> Answer:
        """Answer one control request (waits answer later, through a future)."""
        query = {key: values[-1] for key, values in parse_qs(request.query).items()}
        route = (request.method, request.path[len(PREFIX) :].rstrip("/"))
        try:
            too_deep = depth_error(request.body)
            if too_deep is not None:
                raise ValueError(too_deep)
            body = json.loads(request.body) if request.body else {}
            return self._dispatch(route, query, body)
        except (ValueError, KeyError, TypeError) as exc:
            return error(400, f"bad control request: {exc!r}")

    def _dispatch(self, route: tuple[str, str], query: dict[str, str], body: Any) -> Answer:
        log = self._log
        path = query.get("path")
        if route == ("POST", "faults"):
            fault = Fault.from_json(body["fault"])
            self._rules.add(fault, body.get("path"), body.get("model"), int(body.get("times", 1)))
            return json_reply(200, {})
        if route == ("DELETE", "faults"):
            self._rules.clear()
            return json_reply(200, {})
        if route == ("GET", "requests"):
            return json_reply(200, {"requests": [r.to_json() for r in log.snapshot(path)]})
        if route == ("DELETE", "requests"):
            log.clear()
            return json_reply(200, {})
        if route == ("GET", "requests/count"):
            return json_reply(200, {"count": log.count(path)})
        if route == ("GET", "requests/wait"):
            n = int(query["n"])
            return self._wait(
                lambda: log.count(path) >= n,
                lambda: {"requests": [r.to_json() for r in log.snapshot(path)]},
                float(query.get("timeout", "5")),
            )
        if route == ("GET", "requests/ended"):
            request_id = int(query["id"])
            if log.get(request_id) is None:
                return error(404, f"no request {request_id}")

            def ended() -> bool:
                info = log.get(request_id)
                return info is None or info.ended

            return self._wait(
                ended,
                lambda: {"request": (info.to_json() if (info := log.get(request_id)) else None)},
                float(query.get("timeout", "5")),
            )
        if route == ("GET", "streams"):
            return json_reply(200, {"active": self._active()})
        if route == ("PUT", "pacing"):
            self._settings.token_rate = body.get("token_rate")
            self._settings.first_token_delay = float(body.get("first_token_delay", 0.0))
        if route[1] == "pacing" and route[0] in ("GET", "PUT"):
            settings = self._settings
            pacing = {
                "token_rate": settings.token_rate,
                "first_token_delay": settings.first_token_delay,
            }
            return json_reply(200, pacing)
        return error(404, "unknown control request")

    def _wait(
        self, ready: Callable[[], bool], answer: Callable[[], dict[str, Any]], timeout: float
    ) -> Answer:
        """Answer once ``ready()`` holds (checked at every log change), or 408 after ``timeout``."""
        if ready():
            return json_reply(200, answer())
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()

        def check() -> None:
            if not future.done() and ready():
                future.set_result(json_reply(200, answer()))

        def expire() -> None:
            if not future.done():
                future.set_result(error(408, f"not ready after {timeout}s"))

        unsubscribe = self._log.listen(check)
        timer = loop.call_later(timeout, expire)

        def cleanup(_: asyncio.Future[Reply]) -> None:
            unsubscribe()
            timer.cancel()

        future.add_done_callback(cleanup)
        return future
