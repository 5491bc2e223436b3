"""ollama.com's hosted web search and fetch (``POST /api/web_search``, ``/api/web_fetch``).

The hosted API answers only a request with a Bearer token (401 otherwise); the emulator accepts
any token. Results are made up from the request, the same each time: a search for ``q`` gives
``max_results`` (default 5, at most 10) results about ``q``; a fetch of a URL gives a page whose
title and text name that URL, and two links on it.
"""

from __future__ import annotations

from urllib.parse import quote

from ._decode import WEB_FETCH, WEB_SEARCH
from ._http import Request
from ._reply import ApiError, Reply, json_reply, read_fields

__all__ = ["fetch_page", "search_results", "web_fetch", "web_search"]

MAX_RESULTS = 10
DEFAULT_RESULTS = 5


def _authorized(request: Request) -> None:
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized")


def search_results(query: str, max_results: int = DEFAULT_RESULTS) -> list[dict[str, str]]:
    """What the emulator finds for ``query``: ``max_results`` results (1 to 10)."""
    count = min(max(max_results, 1), MAX_RESULTS)
    slug = quote(query.lower().replace(" ", "-"), safe="-")
    return [
        {
            "title": f"{query} ({n})",
            "url": f"https://example.com/{slug}/{n}",
            "content": f"Result {n} of a search for {query}.",
        }
        for n in range(1, count + 1)
    ]


def fetch_page(url: str) -> dict[str, object]:
    """The page the emulator fetches at ``url``."""
    return {
        "title": f"The page at {url}",
        "content": f"This is the text of {url}.",
        "links": [f"{url.rstrip('/')}/about", f"{url.rstrip('/')}/contact"],
    }


def web_search(request: Request) -> Reply:
    """``POST /api/web_search``: ``{"results": [{"title", "url", "content"}, ...]}``."""
    _authorized(request)
    fields = read_fields(request.body, WEB_SEARCH, "WebSearchRequest")
    query = fields.get("query", "")
    if not query:
        raise ApiError(400, "query is required")
    count = fields.get("max_results") or DEFAULT_RESULTS
    return json_reply(200, {"results": search_results(query, count)})


def web_fetch(request: Request) -> Reply:
    """``POST /api/web_fetch``: ``{"title", "content", "links"}``."""
    _authorized(request)
    fields = read_fields(request.body, WEB_FETCH, "WebFetchRequest")
    url = fields.get("url", "")
    if not url:
        raise ApiError(400, "url is required")
    return json_reply(200, fetch_page(url))
