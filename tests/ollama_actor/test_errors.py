"""Every error path: each failure arrives as the right `OllamaError`, in bounded time."""

import socket
import time

import pytest

from ollama_actor import (
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    DecodeError,
    HTTPError,
    LineTooLong,
    Ollama,
    OllamaError,
    ReadTimeout,
    ResponseError,
    Timeout,
    TotalTimeout,
    ValidationError,
)
from ollama_actor.emulator import (
    blank_lines,
    close_before_response,
    cut,
    delay,
    endless_line,
    error_line,
    expected_tokens,
    invalid_utf8,
    long_line,
    malformed_line,
    stall,
    status,
)

PROMPT = "Why is the sky blue?"


def stream(client, **extra):
    return client.completion(model="llama3.2", prompt=PROMPT, stream=True, **extra)


def generate(client, streamed):
    """One completion, consumed whole: streamed (iterated to the end) or not."""
    if streamed:
        return list(stream(client))
    return client.completion(model="llama3.2", prompt=PROMPT)


def consume(streaming):
    """Iterate to the end; return the chunks seen and the error raised (or None)."""
    seen = []
    try:
        for chunk in streaming:
            seen.append(chunk)
    except OllamaError as exc:
        return seen, exc
    return seen, None


@pytest.mark.parametrize("streamed", [False, True])
def test_unknown_model_is_http_404_with_ollamas_text(client, streamed):
    call = client.completion
    with pytest.raises(HTTPError) as info:
        list(call(model="nope", prompt="x", stream=True)) if streamed else call(
            model="nope", prompt="x"
        )
    assert info.value.status == 404
    assert info.value.error == "model 'nope' not found"
    assert not info.value.retryable
    assert "HTTP 404" in str(info.value)


def test_server_side_validation_error_keeps_ollamas_text(client):
    with pytest.raises(HTTPError) as info:
        client.chat(model="llama3.2", messages=[{"role": "user", "content": "x"}], think=True)
    assert info.value.status == 400
    assert info.value.error == '"llama3.2" does not support thinking'


@pytest.mark.parametrize(
    ("code", "retryable"), [(400, False), (404, False), (429, True), (500, True), (503, True)]
)
@pytest.mark.parametrize("streamed", [False, True])
def test_status_before_the_stream(client, emu, code, retryable, streamed):
    emu.inject(status(code), path="/api/generate")
    with pytest.raises(HTTPError) as info:
        generate(client, streamed)
    assert info.value.status == code
    assert info.value.retryable is retryable
    assert info.value.error  # Ollama's JSON error text, not an empty message


def test_queue_full_503_text(client, emu):
    emu.inject(status(503), path="/api/chat")
    with pytest.raises(HTTPError) as info:
        client.chat(model="llama3.2", messages=[{"role": "user", "content": "x"}])
    assert info.value.error == "server busy, please try again.  maximum pending requests exceeded"


def test_plain_text_error_bodies_are_kept(client, emu):
    emu.inject(status(405, "405 method not allowed"), path="/api/tags")
    with pytest.raises(HTTPError) as info:
        client.list_models()
    assert info.value.status == 405


def test_error_line_mid_stream_raises_response_error_after_the_chunks(client, emu):
    emu.inject(error_line(after=3, message="an error was encountered while running the model"))
    seen, exc = consume(stream(client))
    assert [c["response"] for c in seen] == expected_tokens("llama3.2", PROMPT)[:3]
    assert isinstance(exc, ResponseError)
    assert exc.error == "an error was encountered while running the model"


def test_cut_stream_raises_connection_lost(client, emu):
    emu.inject(cut(after=4))
    seen, exc = consume(stream(client))
    assert len(seen) == 4
    assert isinstance(exc, ConnectionLost)
    assert exc.retryable


def test_close_before_response(client, emu):
    emu.inject(close_before_response())
    with pytest.raises(ConnectionLost, match="before responding"):
        client.completion(model="llama3.2", prompt=PROMPT)


def test_stalled_stream_ends_with_read_timeout_once_it_passes(emu):
    emu.inject(stall(after=2))
    with Ollama(emu.base_url, timeout=Timeout(connect=2, read=0.3)) as c:
        start = time.monotonic()
        seen, exc = consume(stream(c))
        elapsed = time.monotonic() - start
    assert len(seen) == 2
    assert isinstance(exc, ReadTimeout)
    assert isinstance(exc, TimeoutError)
    assert 0.25 <= elapsed < 3.0


def test_slow_first_byte_beyond_read_timeout(emu):
    emu.inject(delay(2.0))
    with Ollama(emu.base_url, timeout=0.3) as c, pytest.raises(ReadTimeout):
        c.completion(model="llama3.2", prompt=PROMPT)


def test_total_timeout_bounds_a_stream_that_never_stalls(emu):
    emu.inject(blank_lines(after=1, count=None))  # bytes keep coming, so no read timeout
    with Ollama(emu.base_url, timeout=Timeout(connect=2, read=5, total=0.5)) as c:
        start = time.monotonic()
        seen, exc = consume(stream(c))
    assert isinstance(exc, TotalTimeout)
    assert len(seen) == 1
    assert time.monotonic() - start < 3.0


def test_an_httpx_timeout_as_ollama_python_users_pass_it_bounds_the_read(emu):
    import httpx

    emu.inject(delay(2.0))
    assert Timeout.coerce(httpx.Timeout(5, read=None)) == Timeout(connect=5, read=None)
    bounds = httpx.Timeout(None, connect=5, read=0.3)
    with Ollama(emu.base_url, timeout=bounds) as c, pytest.raises(ReadTimeout):
        c.completion(model="llama3.2", prompt=PROMPT)


def test_per_call_timeout_overrides_the_clients(client, emu):
    emu.inject(delay(2.0))
    with pytest.raises(ReadTimeout):
        client.completion(model="llama3.2", prompt=PROMPT, timeout=0.3)


def test_finite_blank_lines_are_skipped(client, emu):
    emu.inject(blank_lines(after=2, count=5))
    seen, exc = consume(stream(client))
    assert exc is None
    assert "".join(c["response"] for c in seen) == "".join(expected_tokens("llama3.2", PROMPT))


@pytest.mark.parametrize(
    ("fault", "error"),
    [(malformed_line(after=2), DecodeError), (invalid_utf8(after=2), DecodeError)],
)
def test_bad_lines_raise_decode_error_and_are_not_retryable(client, emu, fault, error):
    emu.inject(fault)
    seen, exc = consume(stream(client))
    assert len(seen) == 2
    assert isinstance(exc, error)
    assert not exc.retryable


def test_line_over_the_limit(emu):
    emu.inject(long_line(after=1, size=300_000))
    with Ollama(emu.base_url, max_line=64 * 1024, timeout=5) as c:
        seen, exc = consume(stream(c))
    assert len(seen) == 1
    assert isinstance(exc, LineTooLong)


def test_endless_line_ends_with_line_too_long_and_the_connection_closes(emu):
    emu.inject(endless_line(after=1))
    with Ollama(emu.base_url, max_line=256 * 1024, timeout=5) as c:
        _, exc = consume(stream(c))
    assert isinstance(exc, LineTooLong)
    info = emu.wait_until_ended(emu.last_request("/api/generate").id)
    assert info.outcome == "client_closed"
    assert info.bytes_sent < 64 * 1024 * 1024  # we stopped reading long before


def test_connection_refused_is_connect_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with Ollama(f"http://127.0.0.1:{port}") as c:
            with pytest.raises(ConnectError, match="cannot connect") as info:
                c.version()
            # where, and what to check (the remedy)
            assert f"Ollama at http://127.0.0.1:{port}" in str(info.value)
            assert "is Ollama running there?" in str(info.value)
            with pytest.raises(ConnectError):
                list(c.completion(model="m", prompt="x", stream=True))


def test_transport_errors_are_their_builtin_counterparts_too():
    """Code written for ollama-python catches ``ConnectionError`` and ``TimeoutError``."""
    assert issubclass(ConnectError, ConnectionError)
    assert issubclass(ConnectionLost, ConnectionError)
    assert issubclass(ConnectTimeout, ConnectionError)
    assert issubclass(ConnectTimeout, TimeoutError)
    assert issubclass(ReadTimeout, TimeoutError)
    assert not issubclass(ReadTimeout, ConnectionError)  # the connection was made
    assert issubclass(ValidationError, ValueError)
    for error in (ConnectError("x"), ConnectTimeout("y"), ConnectionLost("z")):
        assert isinstance(error, OllamaError)
        assert str(error) in ("x", "y", "z")
        assert error.errno is None


def test_except_connection_error_catches_a_refused_connection_streamed_or_not():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with Ollama(f"http://127.0.0.1:{port}") as c:
            with pytest.raises(ConnectionError, match="cannot connect"):
                c.chat(model="m", messages=[])
            with pytest.raises(ConnectionError, match="cannot connect"):
                for _ in c.chat(model="m", messages=[], stream=True):
                    pass


def test_a_lost_connection_is_a_connection_error(client, emu):
    emu.inject(cut(after=2))
    with pytest.raises(ConnectionError, match="closed the connection"):
        list(stream(client))


def test_no_foreign_exception_escapes(client, emu):
    """httpx, json and socket errors are all mapped to OllamaError subclasses."""
    for fault in (cut(after=1), malformed_line(after=1), close_before_response(), status(500)):
        emu.inject(fault)
        _, exc = consume(stream(client))
        assert isinstance(exc, OllamaError), fault
        assert type(exc).__module__.startswith("ollama_actor"), fault


def test_cancel_errors_keep_their_reason_and_class_through_pickling():
    # (Errors cross processes: a Ray cluster's recipients get them pickled.)
    import pickle

    from ollama_actor import RecipientDead, StreamCancelled
    from ollama_actor._errors import cancelled

    for error in (
        StreamCancelled(),
        StreamCancelled("closed"),
        StreamCancelled("shutdown", "the supervisor X has stopped"),
        RecipientDead(),
        cancelled("recipient_died"),
    ):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert (copy.reason, str(copy)) == (error.reason, str(error))
    assert type(cancelled("recipient_died")) is RecipientDead
    assert str(StreamCancelled()) == "the stream was cancelled"
    assert StreamCancelled("my own words").reason == "my own words"  # kept as given


def test_every_error_pickles_with_its_type_text_and_fields():
    """Errors cross processes (a Ray recipient is told them): each survives pickling whole,
    whatever its ``__init__`` takes (HTTPError's and ValidationError's did not)."""
    import pickle

    import ollama_actor._errors as errors

    made = [
        HTTPError(503, "busy", method="POST", path="/api/chat"),
        ValidationError("chat", "model", "is required"),
        ResponseError("model 'x' not found"),
    ]
    made += [
        cls("some text")
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, OllamaError)
        if cls not in (HTTPError, ValidationError, ResponseError)
    ]
    for exc in made:
        copy = pickle.loads(pickle.dumps(exc))
        assert type(copy) is type(exc)
        assert str(copy) == str(exc)
        assert vars(copy) == vars(exc)
        assert (copy.retryable, copy.refused) == (exc.retryable, exc.refused)


def test_a_cancel_error_and_its_subclasses_pickle_whole_whatever_their_init_takes():
    # Regression: StreamCancelled pickled as (reason, message) only, so an attribute set on it
    # was lost and a subclass with an __init__ of its own came back wrong (or not at all).
    import pickle

    from ollama_actor import RecipientDead, StreamCancelled

    class ByWhom(StreamCancelled):
        def __init__(self, who):
            self.who = who
            super().__init__("caller", f"cancelled by {who}")

    globals()["ByWhom"] = ByWhom  # pickle finds classes by module-level name
    ByWhom.__qualname__ = "ByWhom"
    for error in (ByWhom("ops"), StreamCancelled("shutdown"), RecipientDead("gone")):
        error.node = 3
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert vars(copy) == vars(error)
        assert (copy.reason, str(copy)) == (error.reason, str(error))


def test_a_bound_that_passed_names_the_setting_that_moves_it(emu):
    # Regression: timeouts and an over-long line said what happened but not what to change.
    from ollama_actor import LineTooLong, Ollama, ReadTimeout, Timeout, TotalTimeout
    from ollama_actor.emulator import long_line, stall

    cases = [
        (stall(after=1), Timeout(read=0.2), ReadTimeout, "Timeout(read="),
        (stall(after=1), Timeout(read=10, total=0.2), TotalTimeout, "Timeout(total="),
        (long_line(after=1, size=4000), 10, LineTooLong, "max_line="),
    ]
    for fault, timeout, error, remedy in cases:
        emu.inject(fault, path="/api/generate")
        client = Ollama(emu.base_url, timeout=timeout, max_line=1000)
        with client, pytest.raises(error) as info:
            list(client.completion(model="llama3.2", prompt="hi", stream=True))
        assert remedy in str(info.value)
