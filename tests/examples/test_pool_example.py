"""examples/pool.py: streams spread over three emulator processes, one killed and restarted."""

import io
import re

from .test_examples import load


def test_every_stream_ends_whole_and_the_cut_ones_restart_elsewhere():
    pool = load("pool")
    out = io.StringIO()
    result = pool.run(seconds=3.0, interval=0.05, tokens=10, rate=20.0, out=out)
    text = out.getvalue()
    assert result["ended"], text
    assert result["outcomes"]["done"] == result["streams"] >= 20, text
    assert result["outcomes"].get("restarted", 0) >= 1, text
    victim = re.search(r"port (\d+) will crash", text).group(1)
    moved = re.findall(r"on port (\d+) -> (\d+)", text)
    assert moved, text
    assert all(first == victim != then for first, then in moved), moved
    assert "--- SIGKILL port" in text
    assert "started again" in text
    hosts = result["hosts"]
    assert sum(h["requests"] for h in hosts) >= result["streams"]
    assert [h["in_flight"] for h in hosts] == [0, 0, 0]
