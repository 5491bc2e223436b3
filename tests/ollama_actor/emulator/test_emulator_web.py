"""ollama.com's hosted web search and fetch, as the emulator answers them."""

from __future__ import annotations

import pytest

from ollama_actor.emulator import fetch_page, search_results

from .wire import exchange

BEARER = {"Authorization": "Bearer any-key"}


def test_a_search_gives_max_results_results_about_the_query(ollama_emulator):
    body = {"query": "why is the sky blue", "max_results": 2}
    response = exchange(ollama_emulator.port, "POST", "/api/web_search", body, headers=BEARER)
    assert response.status == 200
    results = response.json()["results"]
    assert results == search_results("why is the sky blue", 2)
    assert [r["title"] for r in results] == ["why is the sky blue (1)", "why is the sky blue (2)"]
    assert all(set(r) == {"title", "url", "content"} for r in results)


@pytest.mark.parametrize(("asked", "given"), [(None, 5), (1, 1), (10, 10), (50, 10)])
def test_max_results_defaults_to_5_and_is_capped_at_10(ollama_emulator, asked, given):
    body = {"query": "q"} if asked is None else {"query": "q", "max_results": asked}
    response = exchange(ollama_emulator.port, "POST", "/api/web_search", body, headers=BEARER)
    assert len(response.json()["results"]) == given


def test_a_fetch_gives_the_page(ollama_emulator):
    body = {"url": "https://ollama.com/blog"}
    response = exchange(ollama_emulator.port, "POST", "/api/web_fetch", body, headers=BEARER)
    assert response.json() == fetch_page("https://ollama.com/blog")
    assert response.json()["links"] == [
        "https://ollama.com/blog/about",
        "https://ollama.com/blog/contact",
    ]


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "error"),
    [
        ("/api/web_search", {"query": "q"}, {}, 401, "unauthorized"),
        ("/api/web_search", {"query": "q"}, {"Authorization": "Bearer "}, 401, "unauthorized"),
        ("/api/web_fetch", {"url": "u"}, {"Authorization": "Basic eDp5"}, 401, "unauthorized"),
        ("/api/web_search", {}, BEARER, 400, "query is required"),
        ("/api/web_fetch", {"url": ""}, BEARER, 400, "url is required"),
        (
            "/api/web_search",
            {"query": "q", "max_results": "3"},
            BEARER,
            400,
            "json: cannot unmarshal string into Go struct field WebSearchRequest.max_results of "
            "type int",
        ),
    ],
)
def test_refusals(ollama_emulator, path, body, headers, status, *, error):
    response = exchange(ollama_emulator.port, "POST", path, body, headers=headers)
    assert (response.status, response.json()) == (status, {"error": error})
