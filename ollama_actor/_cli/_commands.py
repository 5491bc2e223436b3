"""What each command does. Each takes a `Session` and returns an exit code, or raises."""

from __future__ import annotations

import argparse
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TextIO, cast

from actors import Recipient
from ollama_actor._cli._args import schema_params
from ollama_actor._cli._exit import OK, UsageError
from ollama_actor._cli._format import ago, human_bytes, table, until
from ollama_actor._cli._modelfile import read_modelfile
from ollama_actor._cli._once import Attempts, Held, Output, Screen
from ollama_actor._cli._printer import run_stream
from ollama_actor._cli._progress import progress_view
from ollama_actor._cli._views import JsonView, TokenView, View, dumps
from ollama_actor._client import Ollama
from ollama_actor._errors import HTTPError
from ollama_actor._handle import RetryPolicy, StreamHandle
from ollama_actor._pool_client import OllamaPool

__all__ = ["COMMANDS", "Session"]


@dataclass
class Session:
    """One run of the command: its arguments, client and standard streams."""

    args: argparse.Namespace
    client: Ollama
    stdin: TextIO
    out: TextIO
    err: TextIO

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    @property
    def color(self) -> bool:
        return self.out.isatty() and "NO_COLOR" not in os.environ

    @property
    def retry(self) -> RetryPolicy:
        """``--retries N``: the stream's own restart budget."""
        retries: int = self.args.retries
        if retries == 0:
            return RetryPolicy(restart="temporary")
        return RetryPolicy(max_restarts=retries)

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def print_json(self, value: Any) -> None:
        self.print(dumps(value))

    def answer(self, kind: str) -> tuple[View, bool]:
        """How a generation is shown, and whether what it writes is written for good.

        ``--json``: each chunk as a line, a retry marked. ``--buffer``: the answer is held until
        it is complete. A terminal: a retry erases the partial answer. A file or a pipe: the
        answer is written as it comes, so a retry is no longer possible once text was written.
        """
        if self.json:
            return JsonView(self.out), False
        args = self.args

        def make(out: Output | TextIO) -> View:
            return TokenView(
                "chat" if kind == "chat" else "generate",
                cast("TextIO", out),
                self.err,
                color=self.color,
                hide_thinking=args.hidethinking,
                verbose=args.verbose,
            )

        if args.buffer:
            return Attempts(make, Held(self.out), self.err), False
        if self.out.isatty():
            return Attempts(make, Screen(self.out), self.err), False
        return make(self.out), True

    def run_answer(self, kind: str, start: Callable[[Recipient, RetryPolicy], StreamHandle]) -> Any:
        """Stream a generation (``start(recipient, retry)``) to the screen, a file or JSON lines."""
        view, written_for_good = self.answer(kind)
        return run_stream(
            start,
            view,
            self.retry,
            written_for_good=written_for_good,
            thinking_shown=not self.args.hidethinking,
        )

    def progress_view(self) -> View:
        if self.json:
            return JsonView(self.out)
        return progress_view(self.args.progress, self.out, self.err)

    def api_path(self, path: str) -> str:
        """The request path a client call uses (for errors the client reports as False)."""
        return urllib.parse.urlsplit(self.client.base_url).path.rstrip("/") + path


def _not_found(session: Session, model: str, method: str, path: str) -> HTTPError:
    """The error for a yes/no endpoint that answered no (Ollama's 404)."""
    return HTTPError(404, f"model '{model}' not found", method=method, path=session.api_path(path))


def generate(session: Session) -> int:
    args = session.args
    prompt = args.prompt
    if prompt is None:
        if session.stdin.isatty():
            raise UsageError("give a PROMPT, or pipe one into the command")
        prompt = session.stdin.read().removesuffix("\n")
    params = schema_params(args)
    client = session.client
    session.run_answer(
        "generate",
        lambda recipient, retry: client.completion(
            model=args.model, prompt=prompt, stream=recipient, retry=retry, **params
        ),
    )
    return OK


_CHAT_HELP = "commands: /bye (or end of input) ends the chat, /clear forgets the conversation"


def _read_line(session: Session, interactive: bool) -> str | None:
    """The next line the user typed, or None at the end of input."""
    if interactive:
        try:
            return input(">>> ")
        except EOFError:
            session.print()
            return None
    line = session.stdin.readline()
    return line if line else None


def _chat_turn(
    session: Session, messages: list[dict[str, Any]], params: dict[str, Any]
) -> Callable[[Recipient, RetryPolicy], StreamHandle]:
    """What starts one turn of the chat: the conversation so far, streamed to the recipient."""

    def start(recipient: Recipient, retry: RetryPolicy) -> StreamHandle:
        return session.client.chat(
            model=session.args.model,
            messages=messages,
            stream=recipient,
            retry=retry,
            **params,
        )

    return start


def chat(session: Session) -> int:
    args = session.args
    params = schema_params(args)
    session.client.show_model(model=args.model)  # an unknown model fails now, not at line one
    start: list[dict[str, Any]] = []
    if args.system:
        start.append({"role": "system", "content": args.system})
    history = list(start)
    interactive = session.stdin.isatty() and not session.json
    if interactive:
        session.err.write(f"{_CHAT_HELP}; Ctrl-C stops an answer\n")
    while True:
        line = _read_line(session, interactive)
        if line is None:
            return OK
        text = line.strip()
        if not text:
            continue
        if text in ("/bye", "/exit"):
            return OK
        if text == "/clear":
            history = list(start)
            session.err.write("Cleared the conversation.\n")
            continue
        if text.startswith("/"):
            session.err.write(f"unknown command {text.split()[0]}; {_CHAT_HELP}\n")
            continue
        turn = [*history, {"role": "user", "content": line.rstrip("\n")}]
        try:
            response = session.run_answer("chat", _chat_turn(session, turn, params))
        except KeyboardInterrupt:
            if not interactive:
                raise
            session.err.write("[cancelled: this question is not kept]\n")
            continue
        history = [*turn, response["message"]]
        if interactive:
            session.print()


def _progress_command(name: str) -> Callable[[Session], int]:
    def command(session: Session) -> int:
        args = session.args
        params = schema_params(args)
        method = getattr(session.client, name)
        run_stream(
            lambda recipient, retry: method(
                model=args.model, stream=recipient, retry=retry, **params
            ),
            session.progress_view(),
            session.retry,
        )
        return OK

    command.__name__ = name
    return command


def create(session: Session) -> int:
    """``create MODEL [-f Modelfile]``: upload the Modelfile's local files, then create.

    Each file is hashed and streamed from disk (memory stays flat whatever its size), its
    progress shown like a pulled layer's.
    """
    args = session.args
    params: dict[str, Any] = {}
    if args.file:
        modelfile = read_modelfile(args.file)
        params.update(modelfile.params)
        uploads = [
            (key, name, path)
            for key, files in (("files", modelfile.files), ("adapters", modelfile.adapters))
            for name, path in files.items()
        ]
        if uploads:
            params.update(_upload(session, uploads))
    params.update(schema_params(args))
    client = session.client
    run_stream(
        lambda recipient, retry: client.create_model(
            model=args.model, stream=recipient, retry=retry, **params
        ),
        session.progress_view(),
        session.retry,
    )
    return OK


def _upload(session: Session, uploads: list[tuple[str, str, Path]]) -> dict[str, dict[str, str]]:
    """Upload each ``(key, name, path)`` as a blob; ``{key: {name: digest}}``."""
    view = session.progress_view()
    shown: dict[str, int] = {}

    def progress(chunk: dict[str, Any]) -> None:  # a line or a redraw per percent, not per piece
        percent = chunk["completed"] * 100 // max(chunk["total"], 1)
        if shown.get(chunk["digest"]) != percent:
            shown[chunk["digest"]] = percent
            view.data(chunk)

    digests: dict[str, dict[str, str]] = {}
    try:
        for key, name, path in uploads:
            digests.setdefault(key, {})[name] = session.client.create_blob(path, progress=progress)
    except BaseException as exc:
        view.error(exc)
        raise
    view.done({})
    return digests


def _host_table(
    session: Session,
    header: tuple[str, ...],
    response: dict[str, Any],
    row: Callable[[dict[str, Any]], tuple[str, ...]],
) -> None:
    """A table of ``response["models"]``; for a pool, with each model's host first, and a
    warning on stderr for each host that did not answer."""
    models = response.get("models", [])
    rows = [row(m) for m in models]
    if isinstance(session.client, OllamaPool):
        header = ("HOST", *header)
        rows = [(str(m.get("host", "")), *r) for m, r in zip(models, rows, strict=True)]
        for failed in response.get("errors", []):
            session.err.write(f"warning: {failed.get('host')}: {failed.get('error')}\n")
    session.print(table(header, rows))


def list_models(session: Session) -> int:
    response = session.client.list_models()
    if session.json:
        session.print_json(response)
        return OK

    def row(m: dict[str, Any]) -> tuple[str, ...]:
        return (
            str(m.get("name", "")),
            str(m.get("digest", ""))[:12],
            human_bytes(int(m.get("size") or 0)),
            ago(str(m.get("modified_at", ""))),
        )

    _host_table(session, ("NAME", "ID", "SIZE", "MODIFIED"), response, row)
    return OK


def _processor(model: dict[str, Any]) -> str:
    size, vram = int(model.get("size") or 0), int(model.get("size_vram") or 0)
    if size <= 0 or vram <= 0:
        return "100% CPU"
    if vram >= size:
        return "100% GPU"
    cpu = round(100 * (size - vram) / size)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def list_running(session: Session) -> int:
    response = session.client.list_running()
    if session.json:
        session.print_json(response)
        return OK

    def row(m: dict[str, Any]) -> tuple[str, ...]:
        return (
            str(m.get("name", "")),
            str(m.get("digest", ""))[:12],
            human_bytes(int(m.get("size") or 0)),
            _processor(m),
            str(m.get("context_length", "")),
            until(str(m.get("expires_at", ""))),
        )

    _host_table(session, ("NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"), response, row)
    return OK


def _section(title: str, rows: list[tuple[str, str]]) -> list[str]:
    if not rows:
        return []
    width = max(len(name) for name, _ in rows)
    return [f"  {title}", *[f"    {n.ljust(width)}    {v}".rstrip() for n, v in rows], ""]


def show(session: Session) -> int:
    args = session.args
    response = session.client.show_model(model=args.model, **schema_params(args))
    if session.json:
        session.print_json(response)
        return OK
    for part in ("license", "modelfile", "parameters", "system", "template"):
        if getattr(args, part):
            session.print(str(response.get(part, "")).rstrip("\n"))
            return OK
    details = response.get("details") or {}
    info = response.get("model_info") or {}
    arch = str(info.get("general.architecture") or details.get("family") or "")
    model_rows = [
        ("architecture", arch),
        ("parameters", str(details.get("parameter_size", ""))),
        ("context length", str(info.get(f"{arch}.context_length", ""))),
        ("embedding length", str(info.get(f"{arch}.embedding_length", ""))),
        ("quantization", str(details.get("quantization_level", ""))),
    ]
    lines = _section("Model", [(n, v) for n, v in model_rows if v])
    lines += _section("Capabilities", [(c, "") for c in response.get("capabilities") or []])
    parameters = str(response.get("parameters") or "")
    rows = [(*row.split(None, 1), "")[:2] for row in parameters.splitlines()]
    lines += _section("Parameters", [(name, value) for name, value in rows])
    if response.get("system"):
        lines += _section("System", [(line, "") for line in str(response["system"]).splitlines()])
    license_text = str(response.get("license") or "")
    if license_text:
        lines += _section("License", [(line, "") for line in license_text.splitlines()[:2]])
    session.print("\n".join(["", *lines]).rstrip("\n"))
    return OK


def copy(session: Session) -> int:
    args = session.args
    if not session.client.copy_model(source=args.source, destination=args.destination):
        raise _not_found(session, args.source, "POST", "/copy")
    if not session.json:
        session.print(f"copied '{args.source}' to '{args.destination}'")
    return OK


def remove(session: Session) -> int:
    for model in session.args.models:
        if not session.client.delete_model(model=model):
            raise _not_found(session, model, "DELETE", "/delete")
        if not session.json:
            session.print(f"deleted '{model}'")
    return OK


def _client_version() -> str:
    try:
        return version("ollama-actor")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def show_version(session: Session) -> int:
    if session.json:
        session.print_json(session.client.version())
        return OK
    session.print(f"client version is {_client_version()}")
    response = session.client.version()
    session.print(f"server version is {response.get('version', 'unknown')}")
    return OK


COMMANDS: dict[str, Callable[[Session], int]] = {
    "generate": generate,
    "chat": chat,
    "pull": _progress_command("pull_model"),
    "push": _progress_command("push_model"),
    "create": create,
    "list": list_models,
    "ps": list_running,
    "show": show,
    "cp": copy,
    "rm": remove,
    "version": show_version,
}
