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
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from ollama_actor._cli._exit import OK, UsageError
from ollama_actor._cli._terminal import shown_by, unfiltered
from ollama_actor._errors import ConnectError

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.tree import Tree

__all__ = ["fetch_status", "top"]

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

MAX_DOCUMENT = 8 << 20
"""Bytes of a status document read at most (a `StatusServer`'s is a few kilobytes)."""

_MALFORMED = (LookupError, TypeError, ValueError, AttributeError, OverflowError)
"""What drawing a document of the wrong shape raises (a number that is a string, ...)."""


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
            body = response.read(MAX_DOCUMENT + 1)
        if len(body) > MAX_DOCUMENT:
            raise ConnectError(f"{url} answered a status too large (over {MAX_DOCUMENT} bytes)")
        document = json.loads(body)
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
    # rich writes its own styling and cursor moves; the server's text is made harmless below
    console = Console(file=unfiltered(out), highlight=False)
    clean = shown_by(out)

    def frame(document: dict[str, Any], problem: str | None) -> RenderableType:
        try:
            return render(document, url, problem, clean)
        except _MALFORMED as exc:
            raise ConnectError(f"{url} answered a malformed status ({exc!r})") from None

    if once or not console.is_terminal:
        console.print(frame(document, None))
        return OK
    with _keys() as pressed, Live(console=console, auto_refresh=False, screen=False) as live:
        problem: str | None = None
        while True:
            try:
                drawn = frame(document, problem)
            except ConnectError as exc:
                drawn = frame({}, str(exc))
            live.update(drawn, refresh=True)
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


def render(
    document: dict[str, Any], url: str, problem: str | None, clean: Callable[[str], str] = str
) -> RenderableType:
    """One frame: header, trees, streams, hosts, errors.

    Every text of the document is the program's to choose: ``clean`` shows its control
    characters (`shown_by` the output), and it is never read as rich markup.
    """
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    def text(value: Any) -> str:
        """A value of the document, as markup that shows exactly it."""
        return escape(clean(str(value)))

    parts: list[RenderableType] = [_header(document, url, problem, clean)]
    tree = document.get("tree") or []
    for root in tree:
        parts.append(_tree(root, text))
    streams = document.get("streams") or {}
    table = Table(title=f"streams in flight: {streams.get('in_flight', 0)}", title_justify="left")
    for column in ("ref", "model", "host", "attempt", "age", "first chunk"):
        table.add_column(column)
    for stream in streams.get("oldest", [])[:20]:
        first = stream.get("time_to_first_chunk")
        table.add_row(
            text(stream["ref"]),
            text(stream.get("model") or ""),
            text(stream.get("host") or ""),
            text(stream.get("attempt", 0)),
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
            text(host["host"]),
            "-" if up is None else ("up" if up else "DOWN"),
            text(host.get("in_flight", 0)),
            text(host.get("started", 0)),
            text(host.get("finished", 0)),
            text(host.get("errors", 0)),
        )
    parts.append(hosts)
    errors = document.get("errors") or []
    lines = Text("recent errors:" + ("" if errors else " none"))
    for error in errors[:8]:
        stamp = time.strftime("%H:%M:%S", time.localtime(error.get("time", 0)))
        lines.append(clean(f"\n  {stamp} {error.get('what')}: {error.get('text')}"))
    parts.append(lines)
    return Group(*parts)


def _header(
    document: dict[str, Any], url: str, problem: str | None, clean: Callable[[str], str]
) -> RenderableType:
    from rich.text import Text

    app = document.get("application") or {}
    loop = document.get("loop") or {}
    state = str(app.get("state", "-"))
    text = Text()
    text.append(clean(f"{url}  pid {document.get('pid')}  "), style="bold")
    text.append(clean(f"{app.get('name') or 'application'}: "))
    text.append(clean(state), style="bold yellow" if state == "draining" else "bold green")
    text.append(f"  up {_duration(document.get('uptime', 0))}")
    text.append(
        f"  loop lag {loop.get('lag', 0) * 1000:.1f}ms (max {loop.get('max_lag', 0) * 1000:.1f}ms)"
    )
    if loop.get("blocked") is not None:
        text.append(f"  LOOP BLOCKED {loop['blocked']:.1f}s", style="bold red")
    if problem is not None:
        text.append(clean(f"\nnot answering: {problem}"), style="bold red")
    return text


def _tree(root: dict[str, Any], text: Callable[[Any], str]) -> Tree:
    from rich.tree import Tree

    tree = Tree(_supervisor_label(text(root.get("name")), root, text))
    _children(tree, root, text)
    return tree


def _children(tree: Tree, node: dict[str, Any], text: Callable[[Any], str]) -> None:
    for child in node.get("children", []):
        nested = child.get("supervisor")
        if isinstance(nested, dict):
            label = _supervisor_label(text(child["id"]), nested, text)
            _children(tree.add(label), nested, text)
            continue
        state = child["state"]
        style = {"running": "green", "restarting": "yellow"}.get(state, "dim")
        restarts = f" restarts {text(child['restarts'])}" if child.get("restarts") else ""
        tree.add(f"{text(child['id'])} [{style}]{text(state)}[/]{restarts}")
    if node.get("more"):
        tree.add(f"[dim]... {text(node['more'])} more[/]")


def _supervisor_label(name: str, node: dict[str, Any], text: Callable[[Any], str]) -> str:
    """``name`` is markup already; the rest of ``node`` is the document's."""
    kind = text(node.get("kind"))
    if node.get("busy"):
        return f"[bold]{name}[/] {kind} [yellow](busy)[/]"
    counts = node.get("counts") or {}
    shown = ", ".join(f"{text(n)} {text(state)}" for state, n in counts.items() if n)
    draining = " [yellow]draining[/]" if node.get("draining") else ""
    limit = node.get("max_restarts")
    return (
        f"[bold]{name}[/] {kind} {text(node.get('strategy'))}{draining} "
        f"restarts {text(node.get('restarts', 0))}/{'∞' if limit is None else text(limit)} "
        f"({shown or 'no children'})"
    )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
