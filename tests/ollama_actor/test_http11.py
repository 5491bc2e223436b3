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


def test_framing_fields_in_trailers_are_dropped_unread():
    """RFC 9110 forbids framing fields in trailers and says a recipient must not merge
    trailers into the head: they are dropped, whatever their values (h11 checks them as head
    fields and refuses ``Transfer-Encoding: gzip`` there; difference 7 of the differential
    test)."""
    rec = Recorder()
    rest = rec.parser.feed(
        CHUNKED + b"3\r\nabc\r\n0\r\nContent-Length: 99\r\nTransfer-Encoding: gzip\r\n\r\n"
    )
    assert (rest, rec.body, rec.completed, rec.parser.keep_alive) == (b"", [b"abc"], 1, True)


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


# -- every rule of the parser, one by one (these pin down what mutation testing changes) --------

import gzip  # noqa: E402
import zlib  # noqa: E402

from ollama_actor import DecodeError, OllamaError  # noqa: E402
from ollama_actor._http11 import MAX_HEAD, header_problem, shown_header_name  # noqa: E402

OK = b"HTTP/1.1 200 OK\r\n"
CHUNKED = OK + b"Transfer-Encoding: chunked\r\n\r\n"


def parse(*pieces, **kwargs):
    """Feed ``pieces`` one by one; the recorder, and what each feed returned."""
    rec = Recorder(**kwargs)
    returned = [rec.parser.feed(piece) for piece in pieces]
    assert all(rec.body), "an empty body callback"
    return rec, returned


MALFORMED = [
    (b"SMTP 220 hello\r\n\r\n", "not an HTTP/1.x status line: b'SMTP 220 hello'"),
    (b"SMTP", "not an HTTP/1.x status line: b'SMTP'"),
    (b"HTTP/1.1 2000 OK\r\n", "not an HTTP/1.x status line: b'HTTP/1.1 2000 OK'"),
    (b"HTTP/1.1 2000 OK\n", "not an HTTP/1.x status line: b'HTTP/1.1 2000 OK'"),
    (
        b"HTTP/1.1 " + b"x" * 200 + b"\r\n",
        "not an HTTP/1.x status line: b'HTTP/1.1 " + "x" * 51 + "'",
    ),
    (b"HTTP/1.1 099 Low\r\n\r\n", "status 99 is not a valid HTTP status code"),
    (b"\r\nHTTP/1.1 200 OK\r\n\r\n", "the response starts with an empty line, not a status line"),
    (b"\nHTTP/1.1 200 OK\r\n\r\n", "the response starts with an empty line, not a status line"),
    (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
        "101 Switching Protocols, though no upgrade was asked for",
    ),
    (b"HTTP/1.1 100 Continue\r\n\r\n" * 6 + OK + b"\r\n", "more than 5 interim (1xx) responses"),
    (OK + b"no colon here\r\n\r\n", "malformed response header line: b'no colon here'"),
    (OK + b"\tfolded\r\nX: 1\r\n\r\n", "response header section starts with a continuation line"),
    (OK + b"Content-Length: -1\r\n\r\n", "bad Content-Length: '-1'"),
    (OK + b"Content-Length: 1, 2\r\n\r\n", "bad Content-Length: '1, 2'"),
    (OK + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n", "bad Content-Length: '2, 3'"),
    (OK + b"Content-Length: \xb2\r\n\r\n", "bad Content-Length: '\xb2'"),
    (OK + b"Content-Length: \r\n\r\n", "bad Content-Length: ''"),
    # Latin-1 bytes that Python's str.strip() takes for spaces: not digits, and not OWS either
    (OK + b"Content-Length: 5\x85\r\n\r\nhello", "bad Content-Length: '5\\x85'"),
    (OK + b"Content-Length: \xa05\r\n\r\nhello", "bad Content-Length: '\\xa05'"),
    (OK + b"Content-Length: 5\x1c, 5\r\n\r\nhello", "bad Content-Length: '5\\x1c, 5'"),
    (
        OK + b"Content-Length: " + b"1" * 19 + b"\r\n\r\n",
        "Content-Length too large: '" + "1" * 19 + "'",
    ),
    (
        OK + b"Transfer-Encoding: gzip\r\n\r\n",
        "unsupported Transfer-Encoding 'gzip': only chunked is",
    ),
    (
        OK + b"Transfer-Encoding: CHUNKEDX\r\n\r\n",
        "unsupported Transfer-Encoding 'CHUNKEDX': only chunked is",
    ),
    (
        OK + b"Transfer-Encoding: chunked, chunked\r\n\r\n",
        "unsupported Transfer-Encoding 'chunked, chunked': only chunked is",
    ),
    (CHUNKED + b"zz\r\n", "bad chunk size line: b'zz'"),
    (CHUNKED + b"\r\n", "bad chunk size line: b''"),
    (CHUNKED + b" 1\r\n", "bad chunk size line: b' 1'"),
    (CHUNKED + b"1 ;x\r\n", "bad chunk size line: b'1 ;x'"),
    (CHUNKED + b"1" * 21 + b"\r\n", "bad chunk size line: b'" + "1" * 21 + "'"),
    (CHUNKED + b"3\r\nabcXY", "chunk data not followed by CRLF"),
    (CHUNKED + b"3\r\nabc\rX", "chunk data not followed by CRLF"),
    (CHUNKED + b"3\r\nabcX", "chunk data not followed by CRLF"),
    (CHUNKED + b"1;" + b"e" * 1023 + b"\r\n", "chunk size line too long"),
    (CHUNKED + b"1" * 1026, "chunk size line too long"),
    (CHUNKED + b"0\r\nbad trailer\r\n\r\n", "malformed trailer line: b'bad trailer'"),
    (OK + b"X: a\r\n \x0bb\r\n\r\n", "malformed response header line: b'X: a \\x0bb'"),
    (b"HTTP/1.1 100 Continue\r\n\r\nSMTP", "not an HTTP/1.x status line: b'SMTP'"),
    (CHUNKED + b"0\r\n folded\r\n\r\n", "trailer section starts with a continuation line"),
    (OK + b"X: y\r\n" * 11000 + b"\r\n", f"response head larger than {MAX_HEAD} bytes"),
    (OK + b"X: y\r\n" * 11000, f"response head larger than {MAX_HEAD} bytes"),
    (CHUNKED + b"0\r\n" + b"T: y\r\n" * 11000, f"trailer section larger than {MAX_HEAD} bytes"),
    (
        CHUNKED + b"0\r\n" + b"T: y\r\n" * 11000 + b"\r\n",
        f"trailer section larger than {MAX_HEAD} bytes",
    ),
]


@pytest.mark.parametrize(("wire", "message"), MALFORMED)
def test_every_malformed_response_names_what_was_wrong_at_once(wire, message):
    with pytest.raises(ProtocolError) as info:
        Recorder().parser.feed(wire)
    assert str(info.value) == message


def test_an_encoding_not_asked_for_is_a_decode_error_naming_it():
    with pytest.raises(DecodeError) as info:
        Recorder().parser.feed(OK + b"Content-Encoding: gzip, br\r\nContent-Length: 1\r\n\r\nx")
    assert str(info.value) == (
        "the response is encoded with 'br', which was not asked for "
        "(Accept-Encoding: gzip, deflate)"
    )
    with pytest.raises(DecodeError, match=r"encoded with 'gzip\\x85', which was not asked"):
        Recorder().parser.feed(OK + b"Content-Encoding: gzip\x85\r\nContent-Length: 1\r\n\r\nx")


def test_shown_header_name():
    assert shown_header_name("X-Key") == "'X-Key'"
    long = "X" * 50
    assert shown_header_name(long) == repr("X" * 40)
    assert (
        shown_header_name(long + ": Bearer k")
        == repr("X" * 40) + " (then ':', not allowed in a name)"
    )
    assert shown_header_name("") == "''"
    assert shown_header_name(" x") == "'' (then ' ', not allowed in a name)"


@pytest.mark.parametrize(
    "wire",
    [
        b"H",
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.1 200 OK\r\nX: 1\r",
        CHUNKED + b"3\r\nabc\r",
        CHUNKED + b"1;" + b"e" * 1022 + b"\r",  # a size line of 1024 bytes, its LF to come
        CHUNKED + b"1" * 1025,
        CHUNKED + b"0\r\nT: 1\r\n",
    ],
)
def test_incomplete_but_valid_prefixes_wait_for_more(wire):
    rec, returned = parse(wire)
    assert returned == [b""]
    assert rec.completed == 0
    assert not rec.parser.complete


def test_a_chunk_size_line_of_the_maximum_length_is_accepted():
    line = b"3;" + b"e" * 1022
    rec, _ = parse(CHUNKED + line + b"\r\nabc\r\n0\r\n\r\n")
    assert rec.body == [b"abc"]


@pytest.mark.parametrize(
    ("size_line", "size"),
    [
        (b"A", 10),
        (b"a", 10),
        (b"000000000000000a", 10),  # 16 digits
        (b"0000000000000000000a", 10),  # 20 digits, as h11 allows
        (b"a ", 10),
        (b"a\t", 10),
        (b"a;name=value", 10),
        (b"10;name=value", 16),
        (b"10 ", 16),
        (b"00000000000000010", 16),  # 17 digits: the slow path
        (b'a;q="x y"', 10),
    ],
)
def test_chunk_size_lines(size_line, size):
    rec, _ = parse(CHUNKED + size_line + b"\r\n" + b"z" * size + b"\r\n0\r\n\r\n")
    assert b"".join(rec.body) == b"z" * size


def test_exactly_five_interim_responses_are_skipped():
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" + b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    wire = interim * 2 + b"HTTP/1.1 102\r\n\r\n" + OK + b"Content-Length: 2\r\n\r\nhi"
    rec, returned = parse(wire)
    assert rec.head[0] == 200  # on_head once, for the final response (Recorder checks once)
    assert rec.body == [b"hi"]
    assert returned == [b""]


def test_interim_responses_across_reads_each_byte_apart():
    wire = b"HTTP/1.1 100 Continue\r\n\r\n" + OK + b"Content-Length: 2\r\n\r\nhi"
    rec, returned = parse(*[wire[i : i + 1] for i in range(len(wire))])
    assert rec.head[0] == 200
    assert b"".join(rec.body) == b"hi"
    assert set(returned) == {b""}


@pytest.mark.parametrize(
    ("head", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n", False),
        (b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n", False),
        (b"HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n", True),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n", False),
        (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n", True),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n", True),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alived\r\nContent-Length: 0\r\n", False),
        (b"HTTP/1.1 204 No Content\r\n", True),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n", True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n", False),
    ],
)
def test_keep_alive(head, keep_alive):
    wire = head + b"\r\n" + (b"0\r\n\r\n" if b"chunked" in head else b"")
    rec, returned = parse(wire)
    assert rec.completed == 1
    assert returned == [b""]
    assert rec.parser.keep_alive is keep_alive


def test_bytes_past_the_end_are_returned_and_the_connection_is_not_kept():
    for wire in (
        OK + b"Content-Length: 2\r\n\r\nhiEXTRA",
        CHUNKED + b"2\r\nhi\r\n0\r\n\r\nEXTRA",
        b"HTTP/1.1 204 No Content\r\n\r\nEXTRA",
    ):
        rec, returned = parse(wire)
        assert returned == [b"EXTRA"]
        assert rec.parser.keep_alive is False
        assert rec.completed == 1


def test_a_content_length_body_in_many_reads_keeps_every_piece():
    rec, returned = parse(OK + b"Content-Length: 10\r\n\r\nab", b"cde", b"", b"fghi", b"jKL")
    assert rec.body == [b"ab", b"cde", b"fghi", b"j"]
    assert returned == [b"", b"", b"", b"", b"KL"]
    assert rec.completed == 1


def test_a_content_length_of_eighteen_digits_is_accepted():
    rec, _ = parse(OK + b"Content-Length: 000000000000000002\r\n\r\nhi")
    assert rec.body == [b"hi"]


def test_complete_and_eof():
    rec = Recorder()
    assert not rec.parser.complete
    rec.parser.feed(OK + b"Content-Length: 4\r\n\r\nab")
    assert rec.parser.eof() is False
    assert not rec.parser.complete
    rec.parser.feed(b"cd")
    assert rec.parser.complete is True
    assert rec.parser.eof() is True
    assert rec.completed == 1
    closing = Recorder()
    assert closing.parser.feed(OK + b"\r\n") == b""
    assert closing.parser.eof() is True
    assert closing.parser.complete is True
    assert closing.body == []


def test_reason_and_headers():
    rec, _ = parse(
        b"HTTP/1.1 200\r\nX-A: 1\r\nx-a:  2 \r\nX-Fold: a\r\n \t b\r\n\tXc\r\nEmpty:\r\n"
        b"Obs: \xe9t\xe9\r\nContent-Length: 0\r\n\r\n"
    )
    status, reason, headers = rec.head
    assert (status, reason) == (200, "")
    assert headers == {
        "x-a": "1, 2",
        "x-fold": "a b Xc",
        "empty": "",
        "obs": "\xe9t\xe9",
        "content-length": "0",
    }
    rec, _ = parse(b"HTTP/1.1 404 Not \xe9 Found\r\nContent-Length: 0\r\n\r\n")
    assert rec.head[1] == "Not \xe9 Found"


def test_trailers_across_reads():
    rec, returned = parse(CHUNKED + b"2\r\nhi\r\n0\r\nX-T", b": 1\r", b"\n", b"\r\nNEXT")
    assert rec.body == [b"hi"]
    assert returned == [b"", b"", b"", b"NEXT"]
    assert rec.completed == 1


def gzip0(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


TEXT = b"".join(b'{"n":%d,"response":"token %d"}\n' % (i, i) for i in range(300))


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip0),
        ("x-gzip", gzip0),
        ("deflate", zlib.compress),
        ("deflate", raw_deflate),
        ("deflate, gzip", lambda d: gzip0(zlib.compress(d))),
        ("gzip, deflate", lambda d: zlib.compress(gzip0(d))),
        ("identity, gzip", gzip0),
        ("gzip", lambda d: gzip0(d[:5000]) + gzip0(d[5000:])),  # two gzip members
        ("gzip", lambda d: gzip0(d) + b"\0\0\0"),  # padding after the end
    ],
)
@pytest.mark.parametrize("seed", range(4))
def test_content_coding_is_undone_whatever_the_read_boundaries(coding, encode, seed):
    encoded = encode(TEXT)
    head = OK + f"Content-Encoding: {coding}\r\nContent-Length: {len(encoded)}\r\n\r\n".encode()
    wire = head + encoded
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(wire)), 12))
    rec, _ = parse(*[wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)])
    assert b"".join(rec.body) == TEXT
    assert rec.completed == 1


@pytest.mark.parametrize(
    ("coding", "body", "message"),
    [
        ("gzip", gzip0(b"abc")[:-4], "the gzip-encoded body was cut short"),
        ("gzip", gzip0(b"abc") + b"junk", "the gzip-encoded body is corrupt"),
        ("gzip", b"not gzip", "the gzip-encoded body is corrupt"),
        ("deflate", zlib.compress(b"abc")[:-2], "the deflate-encoded body was cut short"),
    ],
)
def test_bad_content_coding(coding, body, message):
    wire = OK + f"Content-Encoding: {coding}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    with pytest.raises(DecodeError) as info:
        Recorder().parser.feed(wire + body)
    assert str(info.value).startswith(message)


def test_an_encoded_empty_body_is_empty():
    rec, _ = parse(OK + b"Content-Encoding: gzip\r\nContent-Length: 0\r\n\r\n")
    assert rec.body == []
    assert rec.completed == 1


def test_a_decompression_bomb_comes_out_in_bounded_pieces():
    bomb = gzip0(b"\0" * (8 << 20))
    rec, _ = parse(OK + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb) + bomb)
    assert sum(map(len, rec.body)) == 8 << 20
    assert max(map(len, rec.body)) == 256 * 1024


SMALL = b'{"a":1}\n{"b":2}\n'


@pytest.mark.parametrize(
    ("coding", "encoded"),
    [
        ("gzip", gzip0(SMALL)),
        ("gzip", gzip0(SMALL[:5]) + gzip0(SMALL[5:]) + b"\0\0"),  # two members, then padding
        ("deflate", zlib.compress(SMALL)),
        ("deflate", raw_deflate(SMALL)),
        ("gzip, deflate", zlib.compress(gzip0(SMALL))),
    ],
)
def test_an_encoded_chunked_body_cut_at_every_byte(coding, encoded):
    """Every place a read can end: inside the head, a chunk-size line and its CRLF, the gzip
    header, the deflate stream, the trailer; in two reads, and in one read per byte."""
    pieces = [encoded[:3], encoded[3:4], encoded[4:11], encoded[11:]]  # inside the gzip header
    wire = OK + f"Content-Encoding: {coding}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    wire += b"".join(b'%x;x="y"\r\n%s\r\n' % (len(p), p) for p in pieces if p)
    wire += b"0\r\nX-T: 1\r\n\r\n"
    ways = [[wire[:at], wire[at:]] for at in range(1, len(wire))]
    ways.append([wire[at : at + 1] for at in range(len(wire))])
    for reads in ways:
        rec, returned = parse(*reads)
        assert (b"".join(rec.body), rec.completed, set(returned)) == (SMALL, 1, {b""}), reads


BIG = b"".join(b'{"n":%d}\n' % i for i in range(400_000))  # 3.6 MiB: 15 decoded pieces


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip0),
        ("deflate", raw_deflate),
        ("gzip, gzip", lambda d: gzip0(gzip0(d))),
        ("gzip", lambda d: gzip0(d[:1000]) + gzip0(d[1000:])),  # two members
    ],
)
@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_a_paused_consumer_stops_the_decoding_until_resume(coding, encode, framing):
    """While ``paused()``, at most one decoded piece more comes out, and the end waits; each
    `resume` goes on until the next pause, until all came out, in order, and the end once."""
    encoded = encode(BIG)
    head = OK + f"Content-Encoding: {coding}\r\n".encode()
    if framing == "length":
        wire = head + b"Content-Length: %d\r\n\r\n" % len(encoded) + encoded
    elif framing == "chunked":
        wire = head + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (
            len(encoded),
            encoded,
        )
    else:
        wire = head + b"\r\n" + encoded
    paused = [False]
    body = []
    completed = []

    def on_body(data):
        body.append(data)
        paused[0] = True  # the consumer falls behind at every piece

    parser = ResponseParser(
        lambda *head: None, on_body, lambda: completed.append(1), paused=lambda: paused[0]
    )
    assert parser.feed(wire) == b""
    assert parser.eof() is True  # the framing ended (or the close ends it); the end waits
    assert parser.complete is False
    resumes = 0
    while not completed:
        assert len(body) == resumes + 1  # one piece per resume, no more
        assert sum(map(len, body)) < len(BIG)
        paused[0] = False
        parser.resume()
        resumes += 1
        assert resumes < 100
    assert b"".join(body) == BIG
    assert completed == [1]
    assert parser.complete
    parser.resume()  # nothing left: nothing happens
    assert completed == [1]
    assert resumes >= len(BIG) // (256 * 1024)


def test_header_problem():
    assert header_problem("X-Ok_1!#$%&'*+-.^`|~", "a\tb c~") is None
    assert header_problem("X(Y)", "v") == (
        "is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"
    )
    assert header_problem("X", "caf\xe9") == (
        "has a value with a control character or a character outside ASCII"
    )
    assert header_problem("X", "a\x7f") is not None
    assert header_problem("", "v") is not None


def test_encode_request_writes_the_framing_itself():
    wire = encode_request("POST", "/p", "h:1", [("A", "b")], None, content_length=7)
    assert wire == b"POST /p HTTP/1.1\r\nHost: h:1\r\nA: b\r\nContent-Length: 7\r\n\r\n"
    assert encode_request("GET", "/", "h", [], None) == b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
    with pytest.raises(OllamaError) as info:
        encode_request("GET", "/", "h", [("Authorization", "Bearer s3cret"), ("A", "\xe9")], None)
    assert str(info.value) == "the GET request head is not ASCII"
    assert info.value.__context__ is None  # a UnicodeEncodeError would hold the whole head


def test_a_status_line_is_checked_as_soon_as_it_is_whole():
    rec = Recorder()
    assert rec.parser.feed(b"HTTP/1") == b""
    with pytest.raises(ProtocolError, match="2000"):
        rec.parser.feed(b".1 2000 OK\r\n")


def test_a_whole_head_of_exactly_the_cap_is_accepted():
    head = OK + b"Content-Length: 0\r\nX: "
    head += b"y" * (MAX_HEAD - len(head) - 4) + b"\r\n\r\n"
    assert len(head) == MAX_HEAD
    rec, returned = parse(head)
    assert rec.completed == 1
    assert returned == [b""]


def test_a_head_of_exactly_the_cap_waits_for_its_end():
    head = OK + b"X: " + b"y" * (MAX_HEAD - len(OK) - 3)
    assert len(head) == MAX_HEAD
    rec, returned = parse(head)
    assert returned == [b""]
    with pytest.raises(ProtocolError, match="larger than"):
        rec.parser.feed(b"y")


def test_an_empty_trailer_section_after_a_bare_lf():
    rec, returned = parse(CHUNKED + b"2\r\nhi\r\n0\r\n\nEXTRA")
    assert rec.body == [b"hi"]
    assert returned == [b"EXTRA"]


def test_a_read_that_ends_where_chunk_data_begins():
    rec, returned = parse(CHUNKED + b"3\r\n", b"abc\r\n", b"0\r\n\r\n")
    assert rec.body == [b"abc"]  # parse() checks that no callback had empty bytes
    assert returned == [b"", b"", b""]


def test_a_close_delimited_body_returns_nothing_past_its_end():
    rec, returned = parse(OK + b"\r\nab", b"cd")
    assert returned == [b"", b""]
    assert rec.body == [b"ab", b"cd"]


def test_deflate_output_held_back_by_zlib_comes_out_at_the_end():
    data = b"abc" + b"\0" * (256 * 1024)  # raw deflate of this keeps 3 bytes until flush
    encoded = raw_deflate(data)
    head = OK + b"Content-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(encoded)
    rec, _ = parse(head + encoded)
    assert b"".join(rec.body) == data


def test_raw_deflate_is_told_from_zlib_by_its_first_two_bytes_however_they_arrive():
    # A stored raw-deflate block whose first byte looks like a zlib header's (low nibble 8)
    # while the first two bytes fail zlib's check: "abc", then an empty final block.
    encoded = b"\x08\x03\x00\xfc\xffabc" + b"\x01\x00\x00\xff\xff"
    assert zlib.decompress(encoded, -zlib.MAX_WBITS) == b"abc"
    head = OK + b"Content-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(encoded)
    for first in (1, 2, 3):
        rec, _ = parse(head + encoded[:first], encoded[first:])
        assert b"".join(rec.body) == b"abc"
    one_byte = OK + b"Content-Encoding: deflate\r\nContent-Length: 1\r\n\r\nx"
    with pytest.raises(DecodeError, match="cut short"):
        Recorder().parser.feed(one_byte)


@pytest.mark.parametrize(
    ("coding", "body", "expected"),
    [
        ("deflate", zlib.compress(b"abc") + b"junk", b"abc"),  # after a deflate stream: ignored
        ("gzip", gzip0(b"abc") + b"XX", DecodeError),  # after a gzip member: another one, or bad
        ("gzip", zlib.compress(b"abc"), DecodeError),  # zlib-wrapped is not gzip
    ],
)
def test_what_follows_the_end_of_an_encoded_stream(coding, body, expected):
    wire = OK + f"Content-Encoding: {coding}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    if expected is DecodeError:
        with pytest.raises(DecodeError, match="corrupt"):
            Recorder().parser.feed(wire + body)
    else:
        rec, _ = parse(wire + body)
        assert b"".join(rec.body) == expected


def test_an_interim_response_has_no_body_whatever_its_headers_say():
    interim = b"HTTP/1.1 100 Continue\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
    rec, returned = parse(interim + OK + b"Content-Length: 2\r\n\r\nhi")
    assert rec.head[0] == 200
    assert rec.body == [b"hi"]
    assert returned == [b""]
