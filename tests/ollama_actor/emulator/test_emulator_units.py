"""The emulator's pure parts: Go-compatible decoding and encoding, names, the fake model."""

from __future__ import annotations

import pytest

from ollama_actor.emulator import embedding, expected_reply, expected_tokens
from ollama_actor.emulator._bind import (
    CHAT,
    CREATE,
    GENERATE,
    bind,
    parse_duration,
    parse_keep_alive,
)
from ollama_actor.emulator._clock import rfc3339_ns
from ollama_actor.emulator._gojson import DecodeError, MissingBody, decode_json, dumps
from ollama_actor.emulator._names import Name


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{x", "invalid character 'x' looking for beginning of object key string"),
        (b'{"a" 1}', "invalid character '1' after object key"),
        (b'{"a":1 "b"}', "invalid character '\"' after object key:value pair"),
        (b"[1 2]", "invalid character '2' after array element"),
        (b"tru", "unexpected EOF"),
        (b"trux", "invalid character 'x' in literal true (expecting 'e')"),
        (b'"a\x01"', "invalid character '\\x01' in string literal"),
        (b'"\\q"', "invalid character 'q' in string escape code"),
        (b'"\\u12x4"', "invalid character 'x' in \\u hexadecimal character escape"),
        (b"-x", "invalid character 'x' in numeric literal"),
        (b"1.x", "invalid character 'x' after decimal point in numeric literal"),
        (b"1ex", "invalid character 'x' in exponent of numeric literal"),
        (b"NaN", "invalid character 'N' looking for beginning of value"),
        (b"'a'", "invalid character '\\'' looking for beginning of value"),
        (b'{"a":', "unexpected EOF"),
        (b"1.", "unexpected EOF"),
    ],
)
def test_go_syntax_errors(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as error:
        decode_json(body)
    assert str(error.value) == message


def test_decoder_reads_the_first_value_only() -> None:
    assert decode_json(b' {"a":1} trailing') == {"a": 1}
    with pytest.raises(MissingBody):
        decode_json(b" \r\n")


def test_binding_checks_types_case_insensitively() -> None:
    fields = bind({"Model": "m", "PROMPT": "p", "unknown": 1, "stream": None}, GENERATE, "X")
    assert fields == {"model": "m", "prompt": "p"}
    with pytest.raises(DecodeError, match=r"number 1\.5 into Go struct field X\.top_logprobs"):
        bind({"top_logprobs": 1.5}, GENERATE, "X")
    with pytest.raises(DecodeError, match=r"string into Go struct field X\.context of type int"):
        bind({"context": ["a"]}, GENERATE, "X")
    with pytest.raises(DecodeError, match="illegal base64 data at input byte 1"):
        bind({"images": ["a!"]}, GENERATE, "X")
    with pytest.raises(DecodeError, match="think must be a boolean or string"):
        bind({"think": 1}, GENERATE, "X")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": "x"}, "string into Go struct field X.messages of type []api.Message"),
        ({"messages": [1]}, "number into Go struct field X.messages of type api.Message"),
        (
            {"messages": [{"tool_calls": ["x"]}]},
            "string into Go struct field X.messages.tool_calls of type api.ToolCall",
        ),
        ({"messages": [{"content": 1}]}, "number into Go struct field X.messages.content of type"),
        ({"tools": {}}, "object into Go struct field X.tools of type api.Tools"),
        ({"tools": [[]]}, "array into Go struct field X.tools of type api.Tool"),
        ({"options": []}, "array into Go struct field X.options of type map[string]interface {}"),
        ({"stream": "yes"}, "string into Go struct field X.stream of type bool"),
        ({"think": True, "stream": 1}, "number into Go struct field X.stream of type bool"),
    ],
)
def test_a_type_error_names_the_go_type_of_the_value_or_of_the_list_item(body, message) -> None:
    with pytest.raises(DecodeError) as error:
        bind(body, CHAT, "X")
    assert str(error.value).startswith(f"json: cannot unmarshal {message}")


def test_a_files_map_holds_strings_only() -> None:
    assert bind({"files": {"a.gguf": "sha256:x"}}, CREATE, "X") == {"files": {"a.gguf": "sha256:x"}}
    with pytest.raises(DecodeError, match=r"number into Go struct field X\.files of type string"):
        bind({"files": {"a.gguf": 1}}, CREATE, "X")


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("5m", 300_000_000_000),
        ("1h30m", 5_400_000_000_000),
        ("1.5s", 1_500_000_000),
        ("-1m", -60_000_000_000),
        ("300ms", 300_000_000),
        ("2µs", 2_000),
    ],
)
def test_go_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5", 'time: missing unit in duration "5"'),
        ("-1", 'time: missing unit in duration "-1"'),
        ("5x", 'time: unknown unit "x" in duration "5x"'),
        ("", 'time: invalid duration ""'),
        ("abc", 'time: invalid duration "abc"'),
        (".s", 'time: invalid duration ".s"'),
    ],
)
def test_go_duration_errors(text: str, message: str) -> None:
    with pytest.raises(DecodeError) as error:
        parse_duration(text)
    assert str(error.value) == message


def test_keep_alive_values() -> None:
    assert parse_keep_alive(0) == 0
    assert parse_keep_alive(1.5) == 1_500_000_000
    assert parse_keep_alive(-1) == (1 << 63) - 1
    assert parse_keep_alive("-1m") == (1 << 63) - 1
    with pytest.raises(DecodeError, match="Unsupported type: 'bool'"):
        parse_keep_alive(True)


def test_go_json_encoding() -> None:
    value = {"b": "<a&b>", "a": "東京 🙂", "c": "\u2028\n\x01", "d": [1, 2.5, None, True]}
    assert (
        dumps(value)
        == (
            '{"b":"\\u003ca\\u0026b\\u003e","a":"東京 🙂","c":"\\u2028\\n\\u0001",'
            '"d":[1,2.5,null,true]}'
        ).encode()
    )
    assert dumps("\ud800") == '"\ufffd"'.encode()


def test_rfc3339_trims_trailing_zeros() -> None:
    assert rfc3339_ns(1_720_480_867_755_286_000) == "2024-07-08T23:21:07.755286Z"
    assert rfc3339_ns(1_720_480_867_000_000_000) == "2024-07-08T23:21:07Z"


@pytest.mark.parametrize(
    ("text", "short", "full", "valid"),
    [
        ("llama3.2", "llama3.2:latest", "registry.ollama.ai/library/llama3.2:latest", True),
        ("me/m:v1", "me/m:v1", "registry.ollama.ai/me/m:v1", True),
        ("host.io/me/m", "host.io/me/m:latest", "host.io/me/m:latest", True),
        ("", ":latest", "registry.ollama.ai/library/:latest", False),
        ("bad name", "bad name:latest", "registry.ollama.ai/library/bad name:latest", False),
    ],
)
def test_model_names(text: str, short: str, full: str, valid: bool) -> None:
    name = Name.parse(text)
    assert (name.short, name.full, name.valid) == (short, full, valid)


def test_fake_model_is_deterministic() -> None:
    tokens = expected_tokens("llama3.2", "hello")
    assert tokens == expected_tokens("llama3.2:latest", "hello")
    assert tokens != expected_tokens("llama3.2", "hello!")
    assert tokens[-1] == "."
    lengths = {len(expected_tokens("llama3.2", f"prompt {i}")) for i in range(200)}
    assert lengths == set(range(12, 21))
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    assert expected_tokens("llama3.2", messages) == tokens


def test_num_predict_counts_thinking_too() -> None:
    plan = expected_reply("qwen3", "x", {"num_predict": 3})
    assert (len(plan.thinking), plan.content, plan.done_reason) == (3, (), "length")
    plan = expected_reply("qwen3", "x", {"num_predict": 30})
    assert len(plan.thinking) + len(plan.content) == plan.eval_count == 30
    assert not expected_reply("qwen3", "x", think=False).thinking


def test_embeddings_are_deterministic_and_normalized() -> None:
    vector = embedding("m", "text", normalize=True)
    assert vector == embedding("m", "text", normalize=True)
    assert abs(sum(v * v for v in vector) - 1) < 1e-4
    assert all(1e-4 <= abs(v) < 1 for v in vector)
    assert len(embedding("m", "text", 40, normalize=False)) == 40
