"""OLLAMA_HOST parsing: the official client's test vectors, and where we follow Go instead."""

import pytest

from ollama_actor import Ollama, ValidationError, parse_host

# ollama-python 0.6.3's doctest table for _parse_host, verbatim.
OFFICIAL = [
    (None, "http://127.0.0.1:11434"),
    ("", "http://127.0.0.1:11434"),
    ("1.2.3.4", "http://1.2.3.4:11434"),
    (":56789", "http://127.0.0.1:56789"),
    ("1.2.3.4:56789", "http://1.2.3.4:56789"),
    ("http://1.2.3.4", "http://1.2.3.4:80"),
    ("https://1.2.3.4", "https://1.2.3.4:443"),
    ("https://1.2.3.4:56789", "https://1.2.3.4:56789"),
    ("example.com", "http://example.com:11434"),
    ("example.com:56789", "http://example.com:56789"),
    ("http://example.com", "http://example.com:80"),
    ("https://example.com", "https://example.com:443"),
    ("https://example.com:56789", "https://example.com:56789"),
    ("example.com/", "http://example.com:11434"),
    ("example.com:56789/", "http://example.com:56789"),
    ("example.com/path", "http://example.com:11434/path"),
    ("example.com:56789/path", "http://example.com:56789/path"),
    ("https://example.com:56789/path", "https://example.com:56789/path"),
    ("example.com:56789/path/", "http://example.com:56789/path"),
    ("[0001:002:003:0004::1]", "http://[0001:002:003:0004::1]:11434"),
    ("[0001:002:003:0004::1]:56789", "http://[0001:002:003:0004::1]:56789"),
    ("http://[0001:002:003:0004::1]", "http://[0001:002:003:0004::1]:80"),
    ("https://[0001:002:003:0004::1]", "https://[0001:002:003:0004::1]:443"),
    ("https://[0001:002:003:0004::1]:56789", "https://[0001:002:003:0004::1]:56789"),
    ("[0001:002:003:0004::1]/", "http://[0001:002:003:0004::1]:11434"),
    ("[0001:002:003:0004::1]:56789/", "http://[0001:002:003:0004::1]:56789"),
    ("[0001:002:003:0004::1]/path", "http://[0001:002:003:0004::1]:11434/path"),
    ("[0001:002:003:0004::1]:56789/path", "http://[0001:002:003:0004::1]:56789/path"),
    ("https://[0001:002:003:0004::1]:56789/path", "https://[0001:002:003:0004::1]:56789/path"),
    ("[0001:002:003:0004::1]:56789/path/", "http://[0001:002:003:0004::1]:56789/path"),
]

# Inputs on which the official client is known to go wrong; we follow Ollama's Go server.
FIXED = [
    (" 1.2.3.4 ", "http://1.2.3.4:11434"),
    ("'1.2.3.4'", "http://1.2.3.4:11434"),
    (' " 1.2.3.4 " ', "http://1.2.3.4:11434"),
    ("::1", "http://[::1]:11434"),
    ("HTTP://1.2.3.4", "http://1.2.3.4:80"),
    ("0.0.0.0", "http://127.0.0.1:11434"),
    ("0.0.0.0:1234", "http://127.0.0.1:1234"),
    ("[::]", "http://[::1]:11434"),
    ("ollama.com", "https://ollama.com:443"),
    ("localhost:11434", "http://localhost:11434"),
    ("https://example.com/ollama/", "https://example.com:443/ollama"),
]


@pytest.mark.parametrize(("value", "expected"), OFFICIAL + FIXED)
def test_parse_host(value, expected):
    assert parse_host(value) == expected


def test_port_that_is_not_a_number_names_the_host():
    with pytest.raises(ValidationError, match="host") as info:
        parse_host("example.com:abc")
    assert info.value.field == "host"


@pytest.mark.parametrize("value", ["http://[::1", "[", "[::1", "https://[fe80::1/api"])
def test_an_address_that_cannot_be_parsed_is_a_validation_error(value, monkeypatch):
    with pytest.raises(ValidationError, match="is not a valid address") as info:
        parse_host(value)
    assert info.value.field == "host"
    monkeypatch.setenv("OLLAMA_HOST", value)  # not a ValueError from urllib, nor a traceback
    with pytest.raises(ValidationError, match="is not a valid address"):
        Ollama()


def test_client_base_url_from_environment(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "https://example.com/ollama")
    assert Ollama().base_url == "https://example.com:443/ollama/api"
    monkeypatch.delenv("OLLAMA_HOST")
    assert Ollama().base_url == "http://127.0.0.1:11434/api"


def test_client_base_url_argument_keeps_its_path():
    assert Ollama("http://h:1/api").base_url == "http://h:1/api"
    assert Ollama("http://h:1/proxy/api/").base_url == "http://h:1/proxy/api"
    assert Ollama("http://h:1").base_url == "http://h:1/api"
    assert Ollama("h:2").base_url == "http://h:2/api"
