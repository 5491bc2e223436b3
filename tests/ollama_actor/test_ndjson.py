"""NDJSON framing: lines cut across reads, many per read, blank lines, limits, bad lines."""

import json
import random

import pytest

from ollama_actor import DecodeError, LineTooLong
from ollama_actor._ndjson import LineDecoder


def feed(decoder, data):
    out = []
    decoder.feed(data, out.append)
    return out


def finish(decoder):
    out = []
    decoder.finish(out.append)
    return out


OBJECTS = [{"n": i, "text": "é<&>" * (i % 5), "nested": {"ok": i % 2 == 0}} for i in range(200)]
WIRE = b"".join(json.dumps(o).encode() + b"\n" for o in OBJECTS)


@pytest.mark.parametrize("seed", range(25))
def test_any_cut_gives_the_same_objects(seed):
    rng = random.Random(seed)
    decoder = LineDecoder()
    out, pos = [], 0
    while pos < len(WIRE):
        step = rng.randint(1, 300)
        out += feed(decoder, WIRE[pos : pos + step])
        pos += step
    assert out == OBJECTS
    assert finish(decoder) == []


def test_blank_and_whitespace_lines_are_skipped():
    assert feed(LineDecoder(), b'\n\n{"a":1}\n \r\n\n{"b":2}\n') == [{"a": 1}, {"b": 2}]


def test_last_line_without_newline_is_decoded_by_finish():
    decoder = LineDecoder()
    assert feed(decoder, b'{"a":1}\n{"b"') == [{"a": 1}]
    assert feed(decoder, b":2}") == []
    assert finish(decoder) == [{"b": 2}]


def test_line_over_the_limit_fails_before_its_end_and_memory_stays_bounded():
    decoder = LineDecoder(max_line=1000)
    feed(decoder, b"x" * 600)
    with pytest.raises(LineTooLong, match="1000"):
        feed(decoder, b"x" * 600)


def test_complete_line_over_the_limit_fails():
    with pytest.raises(LineTooLong):
        feed(LineDecoder(max_line=10), b'{"a":"' + b"y" * 20 + b'"}\n')


def test_line_exactly_at_the_limit_passes():
    line = b'{"a":"' + b"y" * 12 + b'"}'
    assert feed(LineDecoder(max_line=len(line)), line + b"\n") == [{"a": "y" * 12}]


def test_malformed_json_line_fails_after_the_good_lines_before_it():
    out = []
    with pytest.raises(DecodeError, match="not valid JSON"):
        LineDecoder().feed(b'{"a":1}\nnot json\n{"b":2}\n', out.append)
    assert out == [{"a": 1}]


def test_invalid_utf8_line():
    with pytest.raises(DecodeError, match="UTF-8"):
        feed(LineDecoder(), b'{"a":"\xff\xfe"}\n')


def test_a_partial_line_of_exactly_the_limit_is_kept_and_one_more_byte_fails():
    decoder = LineDecoder(max_line=10)
    assert feed(decoder, b'{"a":') == []
    assert feed(decoder, b'"xy"}') == []  # 10 bytes held, no newline yet
    with pytest.raises(LineTooLong) as info:
        feed(decoder, b" ")
    assert str(info.value) == (
        "a streamed line exceeds the 10-byte limit (11 bytes without a newline)"
        "; Ollama(max_line=...) allows longer lines"
    )
    again = LineDecoder(max_line=10)
    feed(again, b'{"a":"xy"}')
    assert feed(again, b"\n") == [{"a": "xy"}]
    assert feed(again, b'{"b":"xy"}') == []  # the count starts again after each line
    assert finish(again) == [{"b": "xy"}]


def test_the_messages_say_how_long_the_line_was():
    with pytest.raises(LineTooLong) as info:
        feed(LineDecoder(max_line=10), b'{"a":"xyzw"}\n')
    assert str(info.value) == (
        "a streamed line of 12 bytes exceeds the 10-byte limit"
        "; Ollama(max_line=...) allows longer lines"
    )


def test_a_bad_line_is_previewed_even_when_the_cut_splits_a_character():
    line = b"x" * 79 + "é".encode() + b"tail"  # the 80-byte preview ends inside the é
    with pytest.raises(DecodeError) as info:
        feed(LineDecoder(), line + b"\n")
    assert str(info.value).endswith(": '" + "x" * 79 + "\ufffd'")
    assert "Expecting value" in str(info.value)


def test_a_recursion_error_inside_the_decoder_is_a_decode_error():
    """Nesting within the bound can still exhaust a stack that is already deep."""
    import sys

    from ollama_actor import _ndjson

    line = b"[" * 200 + b"]" * 200  # within the 256-level bound

    def decode_from_deep_down(levels_left: int) -> object:
        if levels_left:
            return decode_from_deep_down(levels_left - 1)
        return _ndjson._decode_json(line)

    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    with pytest.raises(DecodeError) as info:  # 100 frames of room left: not enough for 200
        decode_from_deep_down(sys.getrecursionlimit() - depth - 100)
    assert str(info.value) == "a streamed line of 400 bytes is nested too deeply"
