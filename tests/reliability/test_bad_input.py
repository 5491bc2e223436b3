"""Bad input is refused before any I/O, stays in JSON bodies, and cannot grow memory unbounded."""

import resource

import pytest

from ollama_actor import DecodeError, LineTooLong, Ollama, Timeout, TotalTimeout, ValidationError
from ollama_actor._schemas import ENDPOINTS
from ollama_actor.emulator import blank_lines, endless_line

VALID = {
    "model": "llama3.2",
    "prompt": "hi",
    "messages": [{"role": "user", "content": "hi"}],
    "input": "hi",
    "source": "llama3.2",
    "destination": "copy",
    "query": "why is the sky blue",
    "url": "https://ollama.com",
}


class NotJSON:
    """A value no parameter accepts."""


@pytest.mark.parametrize(
    ("endpoint", "param"),
    [(name, param) for name, e in ENDPOINTS.items() for param in e.params],
)
def test_every_parameter_refuses_a_wrong_type_before_any_io(emu, endpoint, param):
    spec = ENDPOINTS[endpoint]
    params = {p: VALID[p] for p, s in spec.params.items() if s.required}
    params[param] = NotJSON()
    with Ollama(emu.base_url) as client, pytest.raises(ValidationError) as info:
        getattr(client, endpoint)(**params)
    assert info.value.field == param
    assert info.value.endpoint == endpoint
    assert emu.request_count() == 0


@pytest.mark.parametrize(
    "name", ["llama3.2\r\nX-Injected: yes", "../../api/delete", "m?x=1#y", "m\x00", "%2e%2e/"]
)
def test_strings_go_only_into_the_json_body(client, emu, name):
    with pytest.raises(Exception):  # noqa: B017, PT011 - the server may refuse the name; fine
        client.show_model(model=name)
    request = emu.last_request()
    assert request.path == "/api/show"
    assert request.query == ""
    assert "x-injected" not in request.headers
    assert request.body == {"model": name}


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_an_endless_line_cannot_grow_memory_past_the_limit(emu):
    emu.inject(endless_line(after=1))
    before = rss_mb()
    with (
        Ollama(emu.base_url, max_line=8 * 1024 * 1024, timeout=10) as c,
        pytest.raises(LineTooLong),
    ):
        list(c.completion(model="llama3.2", prompt="x", stream=True))
    assert rss_mb() - before < 64  # the 8 MiB line plus one read, not everything sent


def test_endless_blank_lines_end_at_the_total_bound(emu):
    emu.inject(blank_lines(after=1))
    with Ollama(emu.base_url, timeout=Timeout(read=5, total=1.0)) as c, pytest.raises(TotalTimeout):
        list(c.completion(model="llama3.2", prompt="x", stream=True))


def test_a_whole_response_over_the_limit_is_refused(emu):
    with Ollama(emu.base_url, max_body=1024) as c, pytest.raises(DecodeError, match="limit"):
        c.show_model(model="llama3.2", verbose=True)
