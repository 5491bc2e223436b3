"""The sans-I/O response parser, fed every way the network can cut a response."""

import random

import pytest

from ollama_actor import ProtocolError
from ollama_actor._http11 import ResponseParser, encode_request


class Recorder:
    def __init__(self, **kwargs):
        self.head = None
        self.body = []
        self.completed = 0
        self.parser = ResponseParser(self.on_head, self.body.append, self.on_complete, **kwargs)

    def on_head(self, status, reason, headers):
        assert self.head is None, "head reported twice"
        self.head = (status, reason, headers)

    def on_complete(self):
        self.completed += 1


def chunked(lines):
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for line in lines:
        out += b"%x\r\n%s\r\n" % (len(line), line)
    return out + b"0\r\n\r\n"


LINES = [b'{"n":%d,"response":"tok\\u003c%d"}\n' % (i, i) for i in range(300)]


@pytest.mark.parametrize("seed", range(20))
def test_chunked_body_survives_any_read_boundaries(seed):
    wire = chunked(LINES)
    rng = random.Random(seed)
    rec = Recorder()
    pos = 0
    while pos < len(wire):
        step = rng.choice([1, 2, 3, 7, 64, 1000, 5000])
        rest = rec.parser.feed(wire[pos : pos + step])
        assert rest == b""
        pos += step
    assert rec.head[0] == 200
    assert rec.head[2]["transfer-encoding"] == "chunked"
    assert b"".join(rec.body) == b"".join(LINES)
    assert rec.completed == 1
    assert rec.parser.keep_alive


def test_whole_response_in_one_read_joins_chunks():
    rec = Recorder()
    rec.parser.feed(chunked(LINES))
    assert len(rec.body) == 1  # one callback for everything one read carried
    assert rec.completed == 1


def test_content_length_body_and_bytes_after_it():
    rec = Recorder()
    rest = rec.parser.feed(b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nhelloEXTRA")
    assert rec.head[:2] == (404, "Not Found")
    assert rec.body == [b"hello"]
    assert rest == b"EXTRA"
    assert rec.completed == 1


def test_close_delimited_body_ends_at_eof_and_is_not_kept_alive():
    rec = Recorder()
    rec.parser.feed(b"HTTP/1.0 200 OK\r\n\r\nsome")
    rec.parser.feed(b" body")
    assert rec.completed == 0
    assert rec.parser.eof() is True
    assert b"".join(rec.body) == b"some body"
    assert rec.completed == 1
    assert not rec.parser.keep_alive


def test_eof_inside_chunked_body_is_not_completion():
    rec = Recorder()
    rec.parser.feed(chunked(LINES[:3])[:-20])
    assert rec.parser.eof() is False
    assert rec.completed == 0


def test_head_request_has_no_body():
    rec = Recorder(head_only=True)
    rec.parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
    assert rec.completed == 1
    assert rec.body == []


def test_connection_close_header_disables_keep_alive():
    rec = Recorder()
    rec.parser.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert rec.completed == 1
    assert not rec.parser.keep_alive


def test_chunk_extensions_and_trailers_are_accepted():
    rec = Recorder()
    rec.parser.feed(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"
    )
    assert rec.body == [b"abc"]
    assert rec.completed == 1


@pytest.mark.parametrize(
    "wire",
    [
        b"SMTP 220 hello\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 2000,
    ],
)
def test_malformed_responses_raise_protocol_error(wire):
    with pytest.raises(ProtocolError):
        Recorder().parser.feed(wire)


def test_oversized_head_is_refused():
    with pytest.raises(ProtocolError, match="head"):
        Recorder().parser.feed(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 20000)


def test_encode_request():
    wire = encode_request("POST", "/api/chat", "h:1", [("Accept", "application/json")], b"{}")
    assert wire == (
        b"POST /api/chat HTTP/1.1\r\nHost: h:1\r\nAccept: application/json\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    )
