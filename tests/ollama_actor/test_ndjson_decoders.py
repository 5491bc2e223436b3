"""Both JSON paths of the NDJSON decoder: orjson (a runtime dependency) and the standard library
(the fallback where orjson cannot be installed).

The stdlib path is what runs where orjson cannot be installed, so it is tested here although
orjson is present; the orjson path must accept and reject exactly the lines the stdlib does, with
the same errors.
"""

import json
import subprocess
import sys

import pytest

from ollama_actor import DecodeError
from ollama_actor import _ndjson as ndjson
from ollama_actor._json_depth import MAX_DEPTH
from ollama_actor._ndjson import LineDecoder

DECODERS = ["json"]
if ndjson.JSON_DECODER == "orjson":
    DECODERS.append("orjson")


@pytest.fixture(params=DECODERS)
def decoder_name(request, monkeypatch):
    if request.param == "json":
        monkeypatch.setattr(ndjson, "_decode", ndjson._decode_json)
    return request.param


def decode_all(data: bytes) -> list:
    out: list = []
    decoder = LineDecoder()
    decoder.feed(data, out.append)
    decoder.finish(out.append)
    return out


GOOD = [
    b'{"model":"llama3.2","created_at":"2024-07-08T23:21:07.755286Z","response":"Hi","done":false}',
    b'{"text":"\\u00e9\\ud83d\\ude00 caf\xc3\xa9 \\n\\t\\"q\\"","empty":"","zero":"\\u0000"}',
    b'{"n":-0.0,"f":1.0000000000000002,"e":1e-7,"i":9007199254740993,"u":18446744073709551615}',
    b'{"a":1,"a":2,"nested":{"list":[1,[2,{"x":null}]],"t":true,"f":false}}',
    b'  {"spaced": 1}  ',
    b'{"nan":NaN,"inf":Infinity}',  # json accepts these; orjson defers to it
    b'{"lone":"\\ud800"}',  # a lone surrogate: json accepts it; orjson defers to it
]


@pytest.mark.parametrize("line", GOOD)
def test_decodes_like_the_standard_library(decoder_name, line):
    [obj] = decode_all(line + b"\n")
    expected = json.loads(line)
    assert json.dumps(obj, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_orjson_is_used_when_installed():
    pytest.importorskip("orjson")
    assert ndjson.JSON_DECODER == "orjson"
    assert ndjson._decode is ndjson._decode_orjson


FALLBACK = """
import sys
sys.modules["orjson"] = None  # as where orjson could not be installed: its import fails
from ollama_actor import _ndjson, Ollama
out = []
decoder = _ndjson.LineDecoder()
decoder.feed(b'{"response": "caf\\u00e9", "done": false}\\n{"done": true}\\n', out.append)
print(_ndjson.JSON_DECODER, _ndjson._decode is _ndjson._decode_json, out)
"""


def test_without_orjson_the_standard_library_decodes():
    done = subprocess.run(
        [sys.executable, "-c", FALLBACK], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "json True [{'response': 'café', 'done': False}, {'done': True}]"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"not json", "not valid JSON"),
        (b'{"a":1', "not valid JSON"),
        (b'{"a":"\xff\xfe"}', "not valid UTF-8"),
        (b'{"a":"\xc3"}', "not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),  # not a RecursionError
        (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "nested too deeply"),
    ],
)
def test_bad_lines_fail_with_the_same_error(decoder_name, line, message):
    with pytest.raises(DecodeError, match=message):
        decode_all(b'{"ok":1}\n' + line + b"\n")


@pytest.mark.parametrize("depth", [300, 1_000, 1_020])
def test_both_decoders_refuse_the_same_depths(decoder_name, depth):
    """orjson follows 1,024 levels, json as far as the recursion limit less the caller's stack:
    the same line was a chunk for one and an error for the other, and a chunk that then failed
    every ``json.dumps`` (the command's ``--json``) with a RecursionError. One bound for both."""
    line = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(DecodeError, match=f"nested too deeply \\(more than {MAX_DEPTH} levels"):
        decode_all(line + b"\n")


def test_nesting_up_to_the_bound_decodes(decoder_name):
    inner = MAX_DEPTH - 1  # the object is the first level
    line = b'{"a":' + b"[" * inner + b'"[{"' + b"]" * inner + b"}"  # brackets in a string: text
    [obj] = decode_all(line + b"\n")
    assert json.dumps(obj).count("[") == inner + 1
