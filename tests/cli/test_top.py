"""``ollama-actor top URL``: a running tree's status drawn live on a pseudo-terminal (redrawn as
streams come and go; q and Ctrl-C end it with 0), once on a pipe, as JSON with --json."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading

import pytest

import actors
from actors import ChildSpec, DynamicSupervisor, Supervisor
from ollama_actor import Ollama, StatusServer

from .conftest import CLI, WAIT, environment
from .terminal import Pty, run_on_pty


@pytest.fixture
def program(ollama_emulator):
    """A running tree with a status server and slow streams in flight (what top looks at)."""
    ollama_emulator.set_pacing(10.0)
    root = Supervisor.start(
        [
            ChildSpec("status", StatusServer.start, name="status"),
            ChildSpec(
                "streams",
                lambda: DynamicSupervisor.start(max_restarts=None),
                type="supervisor",
                name="streams",
            ),
        ]
    )
    client = Ollama(ollama_emulator.base_url)
    url = actors.Address("status").proxy().url.get(timeout=5)

    def start_streams(n, prompt="q"):
        return [
            client.completion(
                model="llama3.2",
                prompt=f"{prompt}{i}",
                stream=actors.Inbox(),
                supervisor=actors.whereis("streams"),
                options={"num_predict": 10_000},
            )
            for i in range(n)
        ]

    yield url, start_streams
    root.stop()
    client.close()


def test_top_draws_the_tree_and_the_streams_live_and_q_ends_it(program):
    url, start_streams = program
    handles = start_streams(3)
    top = Pty(["top", url, "--interval", "0.2"], environment("http://127.0.0.1:1"))
    try:
        top.wait_for("streams in flight: 3", timeout=WAIT)
        top.wait_for("DynamicSupervisor one_for_one", timeout=WAIT)
        top.wait_for("3 running", timeout=WAIT)
        top.wait_for("llama3.2", timeout=WAIT)  # the frame may come in several reads
        top.wait_for(str(handles[0].ref), timeout=WAIT)
        more = start_streams(2, prompt="more")
        top.wait_for("streams in flight: 5", timeout=WAIT)  # redrawn as streams come
        for handle in handles + more:
            handle.cancel()
        top.wait_for("streams in flight: 0", timeout=WAIT)  # ... and go
        top.wait_for("stream error", timeout=WAIT)
        top.type("q")
        assert top.exit_code(timeout=WAIT) == 0
    finally:
        top.close()


def test_ctrl_c_ends_top_with_0_and_a_program_that_goes_away_is_shown(program):
    url, _start_streams = program
    top = Pty(["top", url, "--interval", "0.2"], environment("http://127.0.0.1:1"))
    try:
        top.wait_for("streams in flight: 0", timeout=WAIT)
        actors.whereis("status").stop()  # the program stops answering
        top.wait_for("not answering", timeout=WAIT)
        top.type("\x03")
        assert top.exit_code(timeout=WAIT) == 0
    finally:
        top.close()


def test_on_a_pipe_top_draws_once_and_json_prints_the_status(program):
    url, start_streams = program
    handles = start_streams(2)
    env = environment("http://127.0.0.1:1")
    drawn = subprocess.run(
        [*CLI, "top", url], capture_output=True, text=True, timeout=WAIT, env=env, check=False
    )
    assert drawn.returncode == 0, drawn.stderr
    assert "Supervisor one_for_one" in drawn.stdout
    assert "streams in flight:" in drawn.stdout
    printed = subprocess.run(
        [*CLI, "--json", "top", url],
        capture_output=True,
        text=True,
        timeout=WAIT,
        env=env,
        check=False,
    )
    assert printed.returncode == 0, printed.stderr
    document = json.loads(printed.stdout)
    assert {s["ref"] for s in document["streams"]["oldest"]} >= {str(h.ref) for h in handles}
    for handle in handles:
        handle.cancel()


def test_a_url_that_does_not_answer_is_one_error_line():
    done = subprocess.run(
        [*CLI, "top", "127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=WAIT,
        env=environment("http://127.0.0.1:1"),
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot read the status at http://127.0.0.1:1/status")
    assert done.stderr.count("\n") == 1


class Hostile:
    """A status endpoint that answers whatever document (or bytes) the test sets."""

    def __init__(self):
        owner = self
        self.body = b"{}"

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *_args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile():
    server = Hostile()
    yield server
    server.close()


EVIL = "\x1b]0;pwned\x07\x1b[2J[/][bold red]x"


def hostile_document():
    child = {"id": EVIL, "state": "running", "restarts": 1}
    return {
        "pid": 1,
        "uptime": 3,
        "application": {"name": EVIL, "state": EVIL},
        "loop": {"lag": 0.0, "max_lag": 0.0, "blocked": None},
        "tree": [{"name": EVIL, "kind": EVIL, "strategy": EVIL, "children": [child]}],
        "streams": {"in_flight": 1, "oldest": [{"ref": EVIL, "model": EVIL, "host": EVIL}]},
        "hosts": [{"host": EVIL, "up": True}],
        "errors": [{"time": 0, "what": EVIL, "text": EVIL}],
    }


def test_server_text_is_drawn_as_text_with_its_control_characters_visible(hostile):
    """Names, models, hosts and errors are the program's to choose: rich markup in them is
    shown as written, escape sequences are shown visibly, and top's own styling works."""
    hostile.body = json.dumps(hostile_document()).encode()
    code, shown = run_on_pty(
        ["top", hostile.url, "--once"], environment("http://127.0.0.1:1"), columns=200
    )
    assert code == 0, shown
    assert "\x1b]0;" not in shown
    assert "\x1b[2J" not in shown
    assert "␛]0;pwned␇␛[2J[/][bold red]x" in shown
    assert "␛[1m" not in shown, "top's own styling is shown as text"


@pytest.mark.parametrize(
    "body",
    [
        b'{"streams": {"oldest": [{"age": "old"}]}, "hosts": [5], "errors": ["x"]}',
        b'{"loop": {"lag": "slow"}, "uptime": "long", "tree": [{"children": [7]}]}',
        b'{"errors": [{"time": 1e300}], "application": []}',
    ],
)
def test_a_malformed_status_is_one_error_line_not_a_traceback(hostile, body):
    hostile.body = body
    done = subprocess.run(
        [*CLI, "top", hostile.url, "--once"],
        capture_output=True,
        text=True,
        timeout=WAIT,
        env=environment("http://127.0.0.1:1"),
        check=False,
    )
    assert done.returncode == 1, done.stdout
    assert done.stderr.startswith(f"error: {hostile.url}/status answered a malformed status")
    assert done.stderr.count("\n") == 1


def test_a_huge_answer_is_refused_not_read_into_memory(hostile):
    hostile.body = b'{"pad": "' + b"x" * (40 << 20) + b'"}'
    done = subprocess.run(
        [*CLI, "top", hostile.url, "--once"],
        capture_output=True,
        text=True,
        timeout=WAIT,
        env=environment("http://127.0.0.1:1"),
        check=False,
    )
    assert done.returncode == 1
    assert "too large" in done.stderr
