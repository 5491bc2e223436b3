"""Peak memory of uploading one large blob: this client's `create_blob(path)` and the official one.

Each upload runs in a fresh child process, against one emulator subprocess; the figures are the
child's peak resident set (``ru_maxrss``) once connected and idle, after the upload, and the
growth, so the emulator's own memory is not counted.

    .venv/bin/python -m bench.upload_memory [--mib 200]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path

from bench._common import run_child
from ollama_actor.emulator import EmulatorProcess


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(which: str, url: str, path: str) -> None:
    """Upload ``path`` once with ``which`` client; print the peak-RSS growth as JSON."""
    if which == "ours":
        from ollama_actor import Ollama

        client = Ollama(url + "/api", timeout=120)
        client.version()  # connection made, imports done
        before = _peak_kib()
        digest = client.create_blob(path)
    else:
        import ollama

        official = ollama.Client(host=url, timeout=120)
        official.list()
        before = _peak_kib()
        digest = official.create_blob(path)
    after = _peak_kib()
    row = {
        "client": which,
        "digest": digest,
        "peak_rss_before_mib": round(before / 1024, 1),
        "peak_rss_after_mib": round(after / 1024, 1),
        "growth_mib": round((after - before) / 1024, 1),
    }
    print(json.dumps(row))


def run(mib: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blob.bin"
        with path.open("wb") as file:
            piece = bytes(range(256)) * 4096  # 1 MiB
            for i in range(mib):
                file.write(piece[i % 256 :] + piece[: i % 256])
        with EmulatorProcess() as emulator:
            rows = [
                run_child("bench.upload_memory", ["--child", which, emulator.url, str(path)], 600)
                for which in ("ours", "official")
            ]
    return {"mib": mib, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=200)
    parser.add_argument("--child", nargs=3, metavar=("CLIENT", "URL", "PATH"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    result = run(args.mib)
    for row in result["rows"]:  # type: ignore[attr-defined]
        print(json.dumps(row), file=sys.stdout)


if __name__ == "__main__":
    main()
