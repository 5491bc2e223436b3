"""Live progress bars with the optional `rich` package (the ``cli`` extra).

Imported only when rich is installed. One row per layer (keyed by digest) with a bar, the bytes
done and the rate; one row per status line, in the order they came, as Ollama shows them.
"""

from __future__ import annotations

from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from ollama_actor._cli._exit import one_line
from ollama_actor._cli._terminal import shown_by, unfiltered

__all__ = ["RichProgress"]


class _ForLayers(ProgressColumn):
    """Shows another column only on layer rows; status rows are their text alone."""

    def __init__(self, column: ProgressColumn) -> None:
        super().__init__()
        self.column = column

    def render(self, task: Task) -> Any:
        if task.fields.get("layer"):
            return self.column.render(task)
        return Text("")


class RichProgress:
    """A `View` that draws pull, push and create progress as live bars."""

    def __init__(self, out: TextIO, err: TextIO, *, force_terminal: bool) -> None:
        self.err = err
        self.shown = shown_by(out)  # rich draws on the terminal itself: server text is made safe
        self.console = Console(
            file=unfiltered(out), force_terminal=force_terminal or None, highlight=False
        )
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            _ForLayers(TaskProgressColumn()),
            _ForLayers(BarColumn(bar_width=24)),
            _ForLayers(DownloadColumn()),
            _ForLayers(TransferSpeedColumn()),
            console=self.console,
        )
        self._layers: dict[str, TaskID] = {}
        self._status: TaskID | None = None
        self._started = False

    def _start(self) -> None:
        if not self._started:
            self._started = True
            self.progress.start()

    def _stop(self) -> None:
        if self._started:
            self._started = False
            self.progress.stop()

    def data(self, chunk: dict[str, Any]) -> None:
        self._start()
        status = self.shown(str(chunk.get("status", "")))
        digest = chunk.get("digest")
        if digest and "total" in chunk:
            total = float(chunk.get("total") or 0)
            completed = float(chunk.get("completed") or 0)
            task = self._layers.get(digest)
            if task is None:
                task = self.progress.add_task(status, total=total, layer=True)
                self._layers[digest] = task
            self.progress.update(task, description=status, total=total, completed=completed)
        else:
            self._status = self.progress.add_task(status, total=None, layer=False)

    def restart(self, attempt: int, error: BaseException) -> None:
        self.progress.console.print(
            self.shown(f"[retry {attempt} after: {one_line(str(error))}]"), markup=False
        )

    def done(self, response: dict[str, Any]) -> None:
        self._stop()

    def error(self, exc: BaseException) -> None:
        self._stop()
