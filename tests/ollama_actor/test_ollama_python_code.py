"""Code written for ollama-python: the objects it passes are taken, and sent as it sends them.

Each case runs the same call through ollama-python 0.6.3 and through this client, against one
emulator, and compares the request bodies the emulator received.
"""

from __future__ import annotations

import base64
import os
import ssl
import threading
from pathlib import Path

import ollama
import pytest
import trustme

from ollama_actor import HTTPError, Ollama, Timeout, ValidationError
from ollama_actor.emulator import Emulator, fetch_page, search_results
from tests.ollama_actor.forward_proxy import ForwardProxy

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
BOUNDS = Timeout(connect=5, read=10, total=30)


def _chat_bodies(emu, **params):
    """The /api/chat bodies ollama-python and this client send for the same call."""
    with ollama.Client(host=emu.url) as theirs:
        theirs.chat(model="llama3.2", **params)
    sent_by_them = emu.last_request("/api/chat").body
    with Ollama(emu.base_url, timeout=BOUNDS) as ours:
        ours.chat(model="llama3.2", **params)
    return sent_by_them, emu.last_request("/api/chat").body


def _add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: the first
        b: the second
    """
    return a + b


def test_pydantic_messages_tools_and_options_are_sent_as_ollama_python_sends_them(emu):
    tool = ollama.Tool(
        function=ollama.Tool.Function(
            name="weather",
            description="Weather in a city",
            parameters=ollama.Tool.Function.Parameters(
                required=["city"],
                properties={"city": ollama.Tool.Function.Parameters.Property(type="string")},
            ),
        )
    )
    params = {
        "messages": [
            ollama.Message(role="system", content="Be brief."),
            {"role": "user", "content": "Add 2 and 3, then the weather"},
        ],
        "tools": [tool, _add],
        "options": ollama.Options(temperature=0.0, num_ctx=2048, stop=["\n\n"]),
    }
    theirs, ours = _chat_bodies(emu, **params)
    for key in ("messages", "tools", "options"):
        assert ours[key] == theirs[key], key
    assert ours["tools"][1]["function"]["name"] == "_add"
    assert ours["options"] == {"temperature": 0.0, "num_ctx": 2048, "stop": ["\n\n"]}


def test_a_reply_message_goes_back_into_the_history(emu):
    with ollama.Client(host=emu.url) as theirs:
        reply = theirs.chat(model="llama3.2", messages=[{"role": "user", "content": "Hi"}])
    history = [{"role": "user", "content": "Hi"}, reply.message, {"role": "user", "content": "So?"}]
    with Ollama(emu.base_url, timeout=BOUNDS) as ours:
        ours.chat(model="llama3.2", messages=history)
    sent = emu.last_request("/api/chat").body["messages"]
    assert sent[1] == {"role": "assistant", "content": reply.message.content}


@pytest.fixture
def png(tmp_path):
    path = tmp_path / "pixel.png"
    path.write_bytes(PNG)
    return path


@pytest.mark.parametrize(
    "given",
    ["path", "str", "bytes", "base64", "image-path", "image-bytes"],
)
def test_images_are_read_and_encoded_as_ollama_python_does(emu, png, given):
    image = {
        "path": png,
        "str": str(png),
        "bytes": PNG,
        "base64": base64.b64encode(PNG).decode(),
        "image-path": ollama.Image(value=png),
        "image-bytes": ollama.Image(value=PNG),
    }[given]
    message = {"role": "user", "content": "What is this?", "images": [image]}
    theirs, ours = _chat_bodies(emu, messages=[message])
    assert ours["messages"] == theirs["messages"]
    assert ours["messages"][0]["images"] == [base64.b64encode(PNG).decode()]
    with ollama.Client(host=emu.url) as client:
        client.generate(model="llava", prompt="What is this?", images=[image])
    generate_theirs = emu.last_request("/api/generate").body["images"]
    with Ollama(emu.base_url, timeout=BOUNDS) as client:
        client.completion(model="llava", prompt="What is this?", images=[image])
    assert emu.last_request("/api/generate").body["images"] == generate_theirs


def test_a_file_whose_name_is_base64_letters_is_sent_as_its_contents(emu, tmp_path, monkeypatch):
    # "tmpabcdefghi" is valid base64 text too: the existing file wins, as in ollama-python
    monkeypatch.chdir(tmp_path)
    Path("tmpabcdefghi").write_bytes(PNG)
    with Ollama(emu.base_url, timeout=BOUNDS) as client:
        client.completion(model="llava", prompt="What is this?", images=["tmpabcdefghi"])
    assert emu.last_request("/api/generate").body["images"] == [base64.b64encode(PNG).decode()]


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("missing.PNG", "names no file: 'missing.PNG'"),
        ("not base64!", "must be base64-encoded image data"),
        (Path("/nonexistent/photo"), "cannot be read: No such file or directory"),
        (ollama.Image(value="gone.jpg"), "File gone.jpg does not exist"),
        (3, "must be base64 text, bytes or a file's path, not int"),
    ],
)
def test_an_image_that_cannot_be_sent_is_refused_before_any_io(emu, image, problem):
    with Ollama(emu.base_url) as client, pytest.raises(ValidationError) as info:
        client.completion(model="llava", prompt="x", images=[image])
    assert info.value.field == "images[0]"
    assert problem in info.value.problem
    assert emu.request_count() == 0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX's")
def test_an_image_path_that_is_no_regular_file_is_refused_without_reading_it(emu, tmp_path):
    # a pipe would block the call until something writes to it; a device (/dev/zero) could be
    # read for ever; a directory has no bytes
    pipe = tmp_path / "camera.png"
    os.mkfifo(pipe)
    outcome: list[BaseException] = []

    def send(image):
        with Ollama(emu.base_url, timeout=BOUNDS) as client:
            try:
                client.completion(model="llava", prompt="x", images=[image])
            except ValidationError as exc:
                outcome.append(exc)

    for image in (pipe, Path(os.devnull), tmp_path):
        worker = threading.Thread(target=send, args=(image,), daemon=True)
        worker.start()
        worker.join(timeout=10)
        assert not worker.is_alive(), f"{image}: the call is still reading it"
        assert outcome, image
        problem = outcome.pop().problem
        assert problem.startswith("is not a regular file (a directory, a device or a pipe)")
        assert str(image) in problem
    assert emu.request_count() == 0


def test_a_tool_of_another_type_and_a_tools_items_pass_through(emu):
    tools = [
        {"type": "web_search"},
        {
            "type": "function",
            "items": {"type": "string"},
            "function": {"name": "f", "parameters": {"type": "object", "items": {"x": 1}}},
        },
    ]
    with Ollama(emu.base_url, timeout=BOUNDS) as client:
        client.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}], tools=tools)
    assert emu.last_request("/api/chat").body["tools"] == tools


def test_the_fields_of_ollamas_go_types_are_sent(emu):
    with Ollama(emu.base_url, timeout=BOUNDS) as client:
        client.create_model(
            model="mine", from_="llama3.2", renderer="qwen3", parser="qwen3", requires="0.12.0",
            info={"k": "v"}, quantization="q8_0",
        )  # fmt: skip
        create = emu.last_request("/api/create").body
        client.show_model(model="llama3.2", system="Be brief.", options={"temperature": 0.5})
        show = emu.last_request("/api/show").body
        client.completion(model="llama3.2", prompt="a cat", width=64, height=32, steps=4)
        generate = emu.last_request("/api/generate").body
    assert create == {
        "model": "mine", "from": "llama3.2", "renderer": "qwen3", "parser": "qwen3",
        "requires": "0.12.0", "info": {"k": "v"}, "quantize": "q8_0", "stream": False,
    }  # fmt: skip
    assert show == {"model": "llama3.2", "system": "Be brief.", "options": {"temperature": 0.5}}
    assert (generate["width"], generate["height"], generate["steps"]) == (64, 32, 4)


# -- web_search and web_fetch: ollama.com's hosted API ------------------------------------------


@pytest.fixture
def cloud():
    """A second emulator, standing for ollama.com."""
    with Emulator() as emulator:
        yield emulator


def test_web_search_and_fetch_go_to_the_hosted_api_with_the_key(emu, cloud):
    with Ollama(
        emu.base_url, cloud_url=cloud.base_url, api_key="key-1", headers={"Host": "local"},
        timeout=BOUNDS,
    ) as client:  # fmt: skip
        found = client.web_search(query="why is the sky blue", max_results=2)
        page = client.web_fetch(url="https://ollama.com")
    assert found == {"results": search_results("why is the sky blue", 2)}
    assert page == fetch_page("https://ollama.com")
    assert emu.request_count() == 0  # nothing went to the Ollama server
    search, fetch = cloud.requests
    assert search.path == "/api/web_search"
    assert search.body == {"query": "why is the sky blue", "max_results": 2}
    assert (fetch.path, fetch.body) == ("/api/web_fetch", {"url": "https://ollama.com"})
    assert search.headers["authorization"] == "Bearer key-1"
    assert search.headers["host"] == f"127.0.0.1:{cloud.port}"  # the server's Host is not sent


def test_web_search_is_refused_before_any_io_without_a_key(emu, monkeypatch):
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    with Ollama(emu.base_url, cloud_url=emu.base_url) as client:
        for call in (lambda: client.web_search(query="q"), lambda: client.web_fetch(url="u")):
            with pytest.raises(ValidationError, match="OLLAMA_API_KEY") as info:
                call()
            assert isinstance(info.value, ValueError)  # ollama-python raises ValueError too
            assert info.value.field == "api_key"
    assert emu.request_count() == 0


def test_a_callers_authorization_header_is_the_key_when_there_is_none(emu, monkeypatch):
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    headers = {"Authorization": "Bearer from-header"}
    with Ollama(emu.base_url, cloud_url=emu.base_url, headers=headers, timeout=BOUNDS) as client:
        client.web_fetch(url="https://example.com")
    assert emu.last_request().headers["authorization"] == "Bearer from-header"


def test_the_hosted_api_answers_401_without_a_bearer_token(emu, monkeypatch):
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    headers = {"Authorization": "Basic eDp5"}
    with (
        Ollama(emu.base_url, cloud_url=emu.base_url, headers=headers, timeout=BOUNDS) as client,
        pytest.raises(HTTPError) as info,
    ):
        client.web_search(query="q")
    assert (info.value.status, info.value.error) == (401, "unauthorized")


def test_web_search_reaches_ollama_com_as_ollama_python_does(emu, monkeypatch):
    """Both clients, unchanged, call https://ollama.com/api/...: a proxy that knows the name
    ollama.com leads them, over TLS with a certificate for that name, to the emulator."""
    monkeypatch.setenv("OLLAMA_API_KEY", "key-2")
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("ollama.com").configure_cert(server)
    trusted = ssl.create_default_context()
    ca.configure_trust(trusted)
    with (
        ForwardProxy(front=("127.0.0.1", emu.port), ssl_context=server) as tls,
        ForwardProxy(names={"ollama.com": ("127.0.0.1", tls.port)}) as proxy,
    ):
        with ollama.Client(host=emu.url, proxy=proxy.url(), verify=trusted) as theirs:
            theirs.web_search("why is the sky blue")
            theirs.web_fetch("https://ollama.com")
        sent_by_them = emu.requests
        emu.clear_requests()
        with Ollama(emu.base_url, proxy=proxy.url(), verify=trusted, timeout=BOUNDS) as ours:
            found = ours.web_search(query="why is the sky blue", max_results=3)
            page = ours.web_fetch(url="https://ollama.com")
        sent_by_us = emu.requests
    assert found == {"results": search_results("why is the sky blue", 3)}
    assert page == fetch_page("https://ollama.com")
    assert [(r.path, r.body) for r in sent_by_us] == [(r.path, r.body) for r in sent_by_them]
    for request in sent_by_us + sent_by_them:
        assert request.headers["authorization"] == "Bearer key-2"
    assert {seen.target for seen in proxy.seen} == {"ollama.com:443"}


def test_the_clients_web_search_and_fetch_are_tools_as_ollama_pythons_are(emu, cloud):
    """ollama-python's web search example passes its ``web_search`` and ``web_fetch`` as tools
    and calls the one the model names with the model's arguments; the same code here passes
    the client's methods."""
    message = [{"role": "user", "content": "what is ollama's new engine"}]
    with ollama.Client(host=emu.url) as theirs:
        theirs.chat(model="qwen3", messages=message, tools=[theirs.web_search, theirs.web_fetch])
    their_tools = emu.last_request("/api/chat").body["tools"]
    with Ollama(emu.base_url, cloud_url=cloud.base_url, api_key="k", timeout=BOUNDS) as ours:
        ours.chat(model="qwen3", messages=message, tools=[ours.web_search, ours.web_fetch])
        our_tools = emu.last_request("/api/chat").body["tools"]
        tools = {"web_search": ours.web_search, "web_fetch": ours.web_fetch}
        found = tools["web_search"](**{"query": "ollama engine", "max_results": 1})
    for mine, their in zip(our_tools, their_tools, strict=True):
        assert mine["function"]["name"] == their["function"]["name"]
        mine_params, their_params = mine["function"]["parameters"], their["function"]["parameters"]
        assert list(mine_params["properties"]) == list(their_params["properties"])
        for name, prop in mine_params["properties"].items():
            assert prop["type"] == their_params["properties"][name]["type"], name
            assert prop["description"]
    search = our_tools[0]["function"]
    assert search["parameters"]["required"] == ["query"]  # theirs requires max_results too
    assert search["description"].startswith("Search the web")
    assert our_tools[1]["function"]["parameters"]["required"] == ["url"]
    assert found == {"results": search_results("ollama engine", 1)}
