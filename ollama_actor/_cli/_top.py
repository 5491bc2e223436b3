"""``ollama-actor top URL``: a running program's `StatusServer`, drawn live (as ``observer``).

It reads ``URL/status`` every ``--interval`` seconds and draws, with rich (the ``cli`` extra):
the program (pid, application state, uptime, the loop's lag), its supervision trees (each
child's state and restarts; a stream supervisor's children counted by state), the streams in
flight (the oldest first), the load per host and the recent errors. Ctrl-C or ``q`` ends it.
On anything but a terminal (or with ``--once``) it draws one frame and ends; ``--json`` prints
the status itself. A program that stops answering is shown as such, and drawn again when it
answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import sys
import termios
import time
import tty
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from ollama_actor._cli._exit import OK, UsageError
from ollama_actor._errors import ConnectError

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.tree import Tree

__all__ = ["fetch_status", "top"]

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def status_url(url: str) -> str:
    """``URL`` as given on the command line, to the status document."""
    if "://" not in url:
        url = "http://" + url
    url = url.rstrip("/")
    return url if url.endswith("/status") else url + "/status"


def fetch_status(url: str, timeout: float = 2.0) -> dict[str, Any]:
    """GET the status document; `ConnectError` naming the URL if it cannot be had."""
    try:
        with _NO_PROXY.open(url, timeout=timeout) as response:
            document = json.loads(response.read())
    except (OSError, ValueError) as exc:
        raise ConnectError(f"cannot read the status at {url}: {exc}") from None
    if not isinstance(document, dict):
        raise ConnectError(f"{url} did not answer a status document")
    return document


def top(url: str, *, interval: float, once: bool, as_json: bool, out: TextIO) -> int:
    """Run the command; the exit code."""
    url = status_url(url)
    document = fetch_status(url)
    if as_json:
        out.write(json.dumps(document, indent=2) + "\n")
        return OK
    try:
        from rich.console import Console
        from rich.live import Live
    except ImportError:
        raise UsageError(
            "ollama-actor top draws with rich: pip install 'ollama-actor[cli]'"
        ) from None
    console = Console(file=out, highlight=False)
    if once or not console.is_terminal:
        console.print(render(document, url, None))
        return OK
    with _keys() as pressed, Live(console=console, auto_refresh=False, screen=False) as live:
        problem: str | None = None
        while True:
            live.update(render(document, url, problem), refresh=True)
            if pressed(interval):
                return OK
            try:
                document, problem = fetch_status(url), None
            except ConnectError as exc:
                problem = str(exc)


@contextlib.contextmanager
def _keys() -> Iterator[Any]:
    """``pressed(seconds)``: wait that long, True as soon as ``q`` is typed (a terminal's
    stdin is read key by key meanwhile; anything else just waits)."""
    stdin = sys.stdin
    if not stdin.isatty():

        def wait(seconds: float) -> bool:
            time.sleep(seconds)
            return False

        yield wait
        return
    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)

    def pressed(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([fd], [], [], left)
            if ready and os.read(fd, 1) in (b"q", b"Q"):
                return True
        return False

    try:
        yield pressed
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


# -- drawing ----------------------------------------------------------------------------------


def render(document: dict[str, Any], url: str, problem: str | None) -> RenderableType:
    """One frame: header, trees, streams, hosts, errors."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[RenderableType] = [_header(document, url, problem)]
    tree = document.get("tree") or []
    for root in tree:
        parts.append(_tree(root))
    streams = document.get("streams") or {}
    table = Table(title=f"streams in flight: {streams.get('in_flight', 0)}", title_justify="left")
    for column in ("ref", "model", "host", "attempt", "age", "first chunk"):
        table.add_column(column)
    for stream in streams.get("oldest", [])[:20]:
        first = stream.get("time_to_first_chunk")
        table.add_row(
            str(stream["ref"]),
            str(stream.get("model") or ""),
            str(stream.get("host") or ""),
            str(stream.get("attempt", 0)),
            f"{stream.get('age', 0):.1f}s",
            "-" if first is None else f"{first * 1000:.0f}ms",
        )
    parts.append(table)
    hosts = Table(title="hosts", title_justify="left")
    for column in ("host", "up", "in flight", "started", "finished", "errors"):
        hosts.add_column(column)
    for host in document.get("hosts", []):
        up = host.get("up")
        hosts.add_row(
            str(host["host"]),
            "-" if up is None else ("up" if up else "DOWN"),
            str(host.get("in_flight", 0)),
            str(host.get("started", 0)),
            str(host.get("finished", 0)),
            str(host.get("errors", 0)),
        )
    parts.append(hosts)
    errors = document.get("errors") or []
    lines = Text("recent errors:" + ("" if errors else " none"))
    for error in errors[:8]:
        stamp = time.strftime("%H:%M:%S", time.localtime(error.get("time", 0)))
        lines.append(f"\n  {stamp} {error.get('what')}: {error.get('text')}")
    parts.append(lines)
    return Group(*parts)


def _header(document: dict[str, Any], url: str, problem: str | None) -> RenderableType:
    from rich.text import Text

    app = document.get("application") or {}
    loop = document.get("loop") or {}
    state = app.get("state", "-")
    text = Text()
    text.append(f"{url}  pid {document.get('pid')}  ", style="bold")
    text.append(f"{app.get('name') or 'application'}: ")
    text.append(state, style="bold yellow" if state == "draining" else "bold green")
    text.append(f"  up {_duration(document.get('uptime', 0))}")
    text.append(
        f"  loop lag {loop.get('lag', 0) * 1000:.1f}ms (max {loop.get('max_lag', 0) * 1000:.1f}ms)"
    )
    if loop.get("blocked") is not None:
        text.append(f"  LOOP BLOCKED {loop['blocked']:.1f}s", style="bold red")
    if problem is not None:
        text.append(f"\nnot answering: {problem}", style="bold red")
    return text


def _tree(root: dict[str, Any]) -> Tree:
    from rich.tree import Tree

    tree = Tree(_supervisor_label(str(root.get("name")), root))
    _children(tree, root)
    return tree


def _children(tree: Tree, node: dict[str, Any]) -> None:
    for child in node.get("children", []):
        nested = child.get("supervisor")
        if isinstance(nested, dict):
            _children(tree.add(_supervisor_label(child["id"], nested)), nested)
            continue
        state = child["state"]
        style = {"running": "green", "restarting": "yellow"}.get(state, "dim")
        restarts = f" restarts {child['restarts']}" if child.get("restarts") else ""
        tree.add(f"{child['id']} [{style}]{state}[/]{restarts}")
    if node.get("more"):
        tree.add(f"[dim]... {node['more']} more[/]")


def _supervisor_label(name: str, node: dict[str, Any]) -> str:
    if node.get("busy"):
        return f"[bold]{name}[/] {node.get('kind')} [yellow](busy)[/]"
    counts = node.get("counts") or {}
    shown = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    draining = " [yellow]draining[/]" if node.get("draining") else ""
    limit = node.get("max_restarts")
    return (
        f"[bold]{name}[/] {node.get('kind')} {node.get('strategy')}{draining} "
        f"restarts {node.get('restarts', 0)}/{'∞' if limit is None else limit} "
        f"({shown or 'no children'})"
    )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
