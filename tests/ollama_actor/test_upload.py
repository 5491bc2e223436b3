"""Streamed uploads: `create_blob` from bytes, a path or a file, with backpressure, flat memory."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from actors._loop import event_loop
from ollama_actor import (
    ConnectionLost,
    HTTPError,
    Ollama,
    OllamaError,
    ReadTimeout,
    StreamCancelled,
    Timeout,
    ValidationError,
)
from ollama_actor._engine import UPLOAD_PIECE
from tests.ollama_actor.rawserver import CLOSE, RawServer, response

BOUNDS = Timeout(connect=5, read=10, total=60)
CREATED = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def weights(tmp_path) -> tuple[Path, bytes]:
    data = os.urandom(1 << 20) * 3 + b"tail"  # 3 MiB and a bit: several pieces
    path = tmp_path / "weights.gguf"
    path.write_bytes(data)
    return path, data


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "str", "Path", "file", "BytesIO"])
def test_create_blob_from_each_kind_of_source(client, emu, weights, kind):
    path, data = weights
    sources = {
        "bytes": lambda: data,
        "bytearray": lambda: bytearray(data),
        "str": lambda: str(path),
        "Path": lambda: path,
        "file": lambda: path.open("rb"),
        "BytesIO": lambda: io.BytesIO(data),
    }
    source = sources[kind]()
    seen = []
    assert client.create_blob(source, progress=seen.append) == digest_of(data)
    assert client.check_blob(digest_of(data)) is True
    assert seen[-1] == {
        "status": f"copying file {digest_of(data)}",
        "digest": digest_of(data),
        "total": len(data),
        "completed": len(data),
    }
    if kind in ("str", "Path", "file", "BytesIO"):
        assert [s["completed"] for s in seen] == sorted(s["completed"] for s in seen)
        assert len(seen) == -(-len(data) // UPLOAD_PIECE)  # one report per piece handed on
    if hasattr(source, "close"):
        source.close()


def test_a_file_is_sent_from_its_current_position():
    data = b"HEADER" + b"x" * 1000
    with RawServer(lambda r: [CREATED]) as server, Ollama(server.url, timeout=BOUNDS) as client:
        file = io.BytesIO(data)
        file.seek(6)
        assert client.create_blob(file) == digest_of(data[6:])
    (request,) = server.requests
    assert request.body == data[6:]
    assert request.headers["content-length"] == str(len(data) - 6)
    assert request.headers["content-type"] == "application/octet-stream"
    assert "transfer-encoding" not in request.headers


def test_a_source_that_is_not_seekable_or_binary_is_refused(tmp_path):
    client = Ollama("http://127.0.0.1:9")
    read_end, write_end = os.pipe()
    with open(read_end, "rb") as pipe, pytest.raises(ValidationError, match="seekable"):
        client.create_blob(pipe)
    os.close(write_end)
    text = tmp_path / "text.txt"
    text.write_text("not bytes")
    with text.open() as file, pytest.raises(ValidationError, match="binary"):
        client.create_blob(file)
    with pytest.raises(ValidationError, match="cannot be read"):
        client.create_blob(tmp_path / "missing.gguf")
    with pytest.raises(ValidationError, match="bytes, a path or a binary file"):
        client.create_blob(3.5)


class Shrinking(io.BytesIO):
    """A file that loses its end after it was hashed (someone truncated it meanwhile)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.passes = 0

    def seek(self, *args):
        self.passes += 1
        if self.passes == 2:  # the seek back to the start, after hashing
            self.truncate(len(self.getvalue()) // 2)
        return super().seek(*args)


def test_a_file_that_ends_early_ends_the_call():
    with (
        RawServer(lambda r: [CREATED], sink=True) as server,
        Ollama(server.url, timeout=BOUNDS) as client,
        pytest.raises(OllamaError, match=r"ended after 1048576 of its 2097152 bytes"),
    ):
        client.create_blob(Shrinking(b"z" * (2 << 20)))


def test_an_early_answer_stops_the_upload_and_the_connection_is_not_reused():
    big = b"q" * (64 << 20)

    def respond(request):
        if request.method == "POST":
            return [response(b'{"error":"digest mismatch"}', "400 Bad Request"), 1.0, CLOSE]
        return [response(b'{"version":"1"}')]

    read = []

    class Counting(io.BytesIO):
        def read(self, n=-1):
            piece = super().read(n)
            read.append(len(piece))
            return piece

    with RawServer(respond, early=True) as server, Ollama(server.url, timeout=BOUNDS) as client:
        source = Counting(big)
        with pytest.raises(HTTPError, match="digest mismatch"):
            client.create_blob(source)
        sent = sum(read) - len(big)  # the first pass hashed it all
        assert sent < 32 << 20  # the upload stopped once the answer came
        assert client.version() == {"version": "1"}
        assert server.connections == 2


def test_backpressure_reads_only_a_little_ahead_of_a_server_that_does_not_read():
    """The server takes the head, then reads nothing: the source is read a bounded way ahead."""
    size = 256 << 20
    stalled = threading.Event()
    read = []

    class Counting(io.RawIOBase):
        def __init__(self):
            self.pos = 0

        def readable(self):
            return True

        def seekable(self):
            return True

        def seek(self, pos, whence=0):
            self.pos = {0: pos, 1: self.pos + pos, 2: size + pos}[whence]
            return self.pos

        def tell(self):
            return self.pos

        def read(self, n=-1):
            n = min(n if n >= 0 else size, size - self.pos)
            self.pos += n
            read.append(n)
            return b"\0" * n

    with (
        RawServer(lambda r: [stalled.wait(10) and 0.0, CLOSE], early=True) as server,
        Ollama(server.url, timeout=Timeout(connect=5, read=30)) as client,
    ):
        source = Counting()
        failures = []

        def upload():
            try:
                client.create_blob(source)
            except OllamaError as exc:
                failures.append(exc)

        thread = threading.Thread(target=upload)
        thread.start()
        deadline = time.monotonic() + 20
        while sum(read) < size and time.monotonic() < deadline:  # the hashing pass
            time.sleep(0.01)
        time.sleep(1.0)  # the upload runs into the unread socket
        ahead = sum(read) - size
        client.close()
        stalled.set()
        thread.join(10)
    assert 0 < ahead < 24 << 20  # socket buffers and a piece or two, not the 256 MiB
    assert isinstance(failures[0], OllamaError)  # closing the client ended the upload


def test_a_stalled_upload_ends_with_read_timeout(tmp_path):
    path = tmp_path / "big.bin"
    with path.open("wb") as f:
        f.truncate(128 << 20)
    with (
        RawServer(lambda r: [30.0, CLOSE], early=True) as server,
        Ollama(server.url, timeout=Timeout(connect=5, read=0.5)) as client,
    ):
        started = time.monotonic()
        with pytest.raises(ReadTimeout, match="took none of the upload"):
            client.create_blob(path)
        assert time.monotonic() - started < 10


def test_closing_the_client_cancels_an_upload(tmp_path):
    path = tmp_path / "big.bin"
    with path.open("wb") as f:
        f.truncate(128 << 20)
    with RawServer(lambda r: [30.0, CLOSE], early=True) as server:
        client = Ollama(server.url, timeout=Timeout(connect=5, read=30))
        errors = []

        def upload():
            try:
                client.create_blob(path)
            except OllamaError as exc:
                errors.append(exc)

        thread = threading.Thread(target=upload)
        thread.start()
        time.sleep(0.5)
        client.close()
        thread.join(10)
        assert not thread.is_alive()
        assert isinstance(errors[0], StreamCancelled)


def test_an_upload_is_never_sent_twice():
    """A pooled connection lost under an upload: not retried (it is a POST)."""

    def respond(request):
        if request.index == 1:
            return [CLOSE]
        return [CREATED]

    with RawServer(respond, sink=True) as server, Ollama(server.url, timeout=BOUNDS) as client:
        client.create_blob(io.BytesIO(b"a" * 1000))
        with pytest.raises(ConnectionLost):
            client.create_blob(io.BytesIO(b"b" * (4 << 20)))
        assert server.count("POST") == 2


def test_create_model_uploads_local_files_first(client, emu, weights):
    path, data = weights
    adapter = b"lora"
    result = client.create_model(
        model="mine", files={"weights.gguf": path}, adapters={"a.bin": adapter}
    )
    assert result["status"] == "success"
    body = emu.last_request("/api/create").body
    assert body["files"] == {"weights.gguf": digest_of(data)}
    assert body["adapters"] == {"a.bin": digest_of(adapter)}
    assert client.check_blob(digest_of(data)) is True


def test_peak_memory_stays_flat_for_a_large_file(tmp_path):
    """In a child process: uploading 96 MiB raises its peak RSS by a few MiB, not 96."""
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(1 << 20) * 96)
    with RawServer(lambda r: [CREATED], sink=True) as server:
        script = textwrap.dedent(
            f"""
            import json, resource, sys
            from ollama_actor import Ollama
            client = Ollama({server.url!r}, timeout=60)
            client.version  # imports done
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            digest = client.create_blob({str(path)!r})
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(json.dumps({{"digest": digest, "grew_kib": after - before}}))
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
        )
        result = json.loads(done.stdout)
        assert server.requests[0].size == 96 << 20
        assert server.requests[0].digest == result["digest"]
    assert result["grew_kib"] < 16 * 1024, result


def test_a_source_that_gives_more_than_asked_cannot_overrun_the_framing():
    class Generous(io.BytesIO):
        """Gives extra bytes on every read of the sending pass (after its second seek)."""

        seeks = 0

        def seek(self, *args):
            self.seeks += 1
            return super().seek(*args)

        def read(self, n=-1):
            piece = super().read(n)
            return piece + b"SMUGGLED" if piece and self.seeks >= 2 else piece

    data = b"d" * 1000
    with (
        RawServer(lambda r: [CREATED]) as server,
        Ollama(server.url, timeout=BOUNDS) as client,
    ):
        file = Generous(data)
        digest = client.create_blob(file)
        assert client.create_blob(b"next") == digest_of(b"next")
    assert [(r.method, r.body) for r in server.requests] == [("POST", data), ("POST", b"next")]
    assert server.leftovers == [b""] * server.connections  # not a byte past a body
    assert digest == digest_of(data)


def test_an_upload_whose_pooled_connection_cannot_send_goes_whole_on_a_fresh_one(weights):
    """Go's rule sends a request whose head never left again, on a fresh connection; its body
    must then go whole there, not short of a piece read for the connection that was dead.

    The loop is held, right after the head failed, until the uploading thread has read a piece
    and handed it on (or a second passes): the thread sees the dead connection still attached.
    """
    path, data = weights
    piece_read = threading.Event()

    class Watched(io.FileIO):
        def read(self, size=-1):
            if size == UPLOAD_PIECE:  # sending, not hashing (1 MiB pieces)
                piece_read.set()
            return super().read(size)

    with (
        RawServer(lambda r: [CREATED], sink=True, hold_half_closed=True) as server,
        Ollama(server.url, timeout=Timeout(connect=5, read=5, total=30)) as client,
        Watched(path) as source,
    ):
        client.create_blob(b"first")
        (conns,) = client._engine._idle.values()
        conns[0].transport.get_extra_info("socket").shutdown(socket.SHUT_WR)  # cannot send

        def hold_the_loop():
            if not client._engine._calls:  # the upload has not begun yet
                event_loop().call_soon(hold_the_loop)
                return
            if piece_read.wait(1):  # the lost connection is noticed after this,
                time.sleep(0.1)  # and after the thread has handed the piece to the loop

        event_loop().call_soon_threadsafe(hold_the_loop)
        assert client.create_blob(source) == digest_of(data)
    uploads = [(r.connection, r.size, r.digest) for r in server.requests]
    assert uploads == [(1, 5, digest_of(b"first")), (2, len(data), digest_of(data))]
