"""NDJSON framing: lines cut across reads, many per read, blank lines, limits, bad lines."""

import json
import random

import pytest

from ollama_actor import DecodeError, LineTooLong
from ollama_actor._ndjson import LineDecoder

OBJECTS = [{"n": i, "text": "é<&>" * (i % 5), "nested": {"ok": i % 2 == 0}} for i in range(200)]
WIRE = b"".join(json.dumps(o).encode() + b"\n" for o in OBJECTS)


@pytest.mark.parametrize("seed", range(25))
def test_any_cut_gives_the_same_objects(seed):
    rng = random.Random(seed)
    decoder = LineDecoder()
    out, pos = [], 0
    while pos < len(WIRE):
        step = rng.randint(1, 300)
        out += decoder.feed(WIRE[pos : pos + step])
        pos += step
    assert out == OBJECTS
    assert decoder.finish() == []


def test_blank_and_whitespace_lines_are_skipped():
    assert LineDecoder().feed(b'\n\n{"a":1}\n \r\n\n{"b":2}\n') == [{"a": 1}, {"b": 2}]


def test_last_line_without_newline_is_decoded_by_finish():
    decoder = LineDecoder()
    assert decoder.feed(b'{"a":1}\n{"b"') == [{"a": 1}]
    assert decoder.feed(b":2}") == []
    assert decoder.finish() == [{"b": 2}]


def test_line_over_the_limit_fails_before_its_end_and_memory_stays_bounded():
    decoder = LineDecoder(max_line=1000)
    decoder.feed(b"x" * 600)
    with pytest.raises(LineTooLong, match="1000"):
        decoder.feed(b"x" * 600)


def test_complete_line_over_the_limit_fails():
    with pytest.raises(LineTooLong):
        LineDecoder(max_line=10).feed(b'{"a":"' + b"y" * 20 + b'"}\n')


def test_line_exactly_at_the_limit_passes():
    line = b'{"a":"' + b"y" * 12 + b'"}'
    assert LineDecoder(max_line=len(line)).feed(line + b"\n") == [{"a": "y" * 12}]


def test_malformed_json_line():
    with pytest.raises(DecodeError, match="not valid JSON"):
        LineDecoder().feed(b'{"a":1}\nnot json\n')


def test_invalid_utf8_line():
    with pytest.raises(DecodeError, match="UTF-8"):
        LineDecoder().feed(b'{"a":"\xff\xfe"}\n')
