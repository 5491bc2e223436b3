"""What each command does. Each takes a `Session` and returns an exit code, or raises."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

import actors
from actors import Recipient
from ollama_actor._cli._args import schema_params
from ollama_actor._cli._exit import OK, UsageError
from ollama_actor._cli._format import ago, human_bytes, table, until
from ollama_actor._cli._modelfile import model_files, parse_modelfile, read_modelfile
from ollama_actor._cli._once import Attempts, Held, Output, Screen
from ollama_actor._cli._printer import run_stream
from ollama_actor._cli._progress import progress_view
from ollama_actor._cli._repl import Conversation, Repl
from ollama_actor._cli._show import show_info
from ollama_actor._cli._spinner import Spinner, UntilShown
from ollama_actor._cli._views import JsonView, TokenView, View, dumps
from ollama_actor._client import Ollama
from ollama_actor._errors import ConnectError, HTTPError
from ollama_actor._handle import StreamHandle
from ollama_actor._pool_client import OllamaPool
from ollama_actor._retry import RetryPolicy

__all__ = ["COMMANDS", "Session"]


@dataclass
class Session:
    """One run of the command: its arguments, client and standard streams."""

    args: argparse.Namespace
    client: Ollama
    stdin: TextIO
    out: TextIO
    err: TextIO
    verbose: bool = field(init=False)
    """``--verbose`` (``/set verbose`` and ``/set quiet`` change it): timings after answers."""

    def __post_init__(self) -> None:
        self.verbose = bool(getattr(self.args, "verbose", False))

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
        started = time.monotonic()

        def make(out: Output | TextIO) -> View:
            return TokenView(
                "chat" if kind == "chat" else "generate",
                cast("TextIO", out),
                self.err,
                color=self.color,
                hide_thinking=args.hidethinking,
                verbose=self.verbose,
                started=started,
            )

        if args.buffer:
            return Attempts(make, Held(self.out), self.err), False
        if self.out.isatty():
            return Attempts(make, Screen(self.out), self.err), False
        return make(self.out), True

    def run_answer(self, kind: str, start: Callable[[Recipient, RetryPolicy], StreamHandle]) -> Any:
        """Stream a generation (``start(recipient, retry)``) to the screen, a file or JSON lines."""
        view, written_for_good = self.answer(kind)
        thinking = not self.args.hidethinking
        with self.spinner() as spinner:
            if spinner is not None:
                view = UntilShown(view, spinner, thinking=thinking)
            return run_stream(
                start, view, self.retry, written_for_good=written_for_good, thinking_shown=thinking
            )

    @contextlib.contextmanager
    def spinner(self) -> Iterator[Spinner | None]:
        """A spinner on stderr while waiting, if stderr is a terminal (and not for --json)."""
        if self.json or not self.err.isatty():
            yield None
            return
        spinner = Spinner(self.err).start()
        try:
            yield spinner
        finally:
            spinner.stop()

    def load(self, model: str, params: dict[str, Any]) -> bool:
        """Load the model into memory (a spinner meanwhile), as ``ollama run`` does before a
        conversation; False if there is no such model."""
        keep_alive = {"keep_alive": params["keep_alive"]} if "keep_alive" in params else {}
        with self.spinner():
            return self.client.preload(model=model, **keep_alive)

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


def _ask(session: Session) -> Callable[[Conversation, list[dict[str, Any]]], dict[str, Any]]:
    """How a conversation asks its next question: streamed to the screen, the reply returned."""

    def ask(chat: Conversation, turn: list[dict[str, Any]]) -> dict[str, Any]:
        response = session.run_answer(
            "chat",
            lambda recipient, retry: session.client.chat(
                model=chat.model, messages=turn, stream=recipient, retry=retry, **chat.request()
            ),
        )
        message: dict[str, Any] = response["message"]
        return message

    return ask


def _converse(session: Session, model: str, info: dict[str, Any], params: dict[str, Any]) -> int:
    """Hold a conversation about ``model`` (its ``show`` reply: ``info``), on the terminal
    (the model is loaded first, and its own messages shown) or line by line from a pipe (or
    when the answers go to a file)."""
    interactive = session.stdin.isatty() and session.out.isatty() and not session.json
    chat = Conversation(model, params)
    chat.parent = str((info.get("details") or {}).get("parent_model") or "")
    chat.stored = list(info.get("messages") or [])
    if session.args.system:
        chat.set_system(session.args.system)
    if interactive:
        session.load(model, params)
        for message in chat.stored:
            if message.get("role") == "user":
                session.print(f">>> {message.get('content', '')}")
            elif message.get("role") == "assistant":
                session.print(f"{message.get('content', '')}\n")
    return Repl(session, chat, _ask(session), interactive=interactive).run()


def chat(session: Session) -> int:
    args = session.args
    params = schema_params(args)
    info = session.client.show_model(model=args.model)  # an unknown model fails before line one
    return _converse(session, args.model, info, params)


def _show_or_pull(session: Session, model: str) -> dict[str, Any]:
    """The model's ``show`` reply; a model that is not here is pulled first (progress on
    stderr), as ``ollama run`` does (not into a pool of servers: a pull is for one of them)."""
    try:
        return session.client.show_model(model=model)
    except HTTPError as exc:
        if exc.status != 404 or isinstance(session.client, OllamaPool):
            raise
    client = session.client
    insecure = True if getattr(session.args, "insecure", False) else None  # None: not sent
    run_stream(
        lambda recipient, retry: client.pull_model(
            model=model, stream=recipient, retry=retry, insecure=insecure
        ),
        progress_view("auto", session.err, session.err),
        session.retry,
    )
    return client.show_model(model=model)


def run(session: Session) -> int:
    """``run MODEL [PROMPT...]``, as ``ollama run``: one answer to the prompt (with what stdin
    holds before it, when stdin is not a terminal), or a conversation on a terminal. An
    embedding model prints the embedding of the prompt."""
    args = session.args
    words: list[str] = list(args.prompt)
    if not session.stdin.isatty():
        piped = session.stdin.read()
        if piped:
            words.insert(0, piped)
    prompt = " ".join(words)
    interactive = not words and session.stdin.isatty() and session.out.isatty()
    info = _show_or_pull(session, args.model)
    params = schema_params(args)
    if "embedding" in (info.get("capabilities") or []):
        if not prompt:
            raise UsageError(
                f'embedding models need input text: ollama-actor run {args.model} "your text"'
            )
        embed_params = {k: v for k, v in params.items() if k in ("keep_alive", "truncate")}
        if args.dimensions:
            embed_params["dimensions"] = args.dimensions
        return _print_embedding(session, args.model, prompt, embed_params)
    if interactive:
        return _converse(session, args.model, info, params)
    if args.system:
        params["system"] = args.system
    client = session.client
    session.run_answer(
        "generate",
        lambda recipient, retry: client.completion(
            model=args.model, prompt=prompt, stream=recipient, retry=retry, **params
        ),
    )
    return OK


def stop(session: Session) -> int:
    """``stop MODEL``: unload it from memory."""
    model = session.args.model
    if not session.client.unload(model=model):
        raise UsageError(f'couldn\'t find model "{model}" to stop')
    return OK


def _print_embedding(session: Session, model: str, text: str, params: dict[str, Any]) -> int:
    response = session.client.embed(model=model, input=text, **params)
    if session.json:
        session.print_json(response)
        return OK
    embeddings = response.get("embeddings") or []
    if not embeddings:
        raise UsageError("no embeddings returned")
    session.print(json.dumps(embeddings[0], separators=(",", ":")))
    return OK


def embed(session: Session) -> int:
    """``embed MODEL [TEXT...]``: the embedding of the text (else of stdin), one JSON line."""
    args = session.args
    text = " ".join(args.text)
    if not text:
        if session.stdin.isatty():
            raise UsageError("give a TEXT, or pipe one into the command")
        text = session.stdin.read().removesuffix("\n")
    return _print_embedding(session, args.model, text, schema_params(args))


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


DEFAULT_MODELFILE = "Modelfile"


def create(session: Session) -> int:
    """``create MODEL [-f Modelfile]``: upload the Modelfile's local files, then create.

    Without ``-f``, and without ``--from`` or ``--files``, the ``Modelfile`` of the current
    directory is read if there is one, else the model files in it are taken (``FROM .``), as
    ``ollama create`` does. Each file is hashed and streamed from disk (memory stays flat
    whatever its size), its progress shown like a pulled layer's.
    """
    args = session.args
    params: dict[str, Any] = {}
    flags = schema_params(args)
    modelfile = None
    if args.file is not None:
        modelfile = read_modelfile(args.file)
    elif not {"from", "files", "modelfile"} & set(flags):  # no source given
        if Path(DEFAULT_MODELFILE).is_file():
            modelfile = read_modelfile(DEFAULT_MODELFILE)
        elif model_files(Path.cwd()):
            modelfile = parse_modelfile("FROM .\n", Path.cwd())
        else:
            raise UsageError(
                "no Modelfile or model files found in this directory"
                " (give a Modelfile with -f, or --from MODEL)"
            )
    if modelfile is not None:
        params.update(modelfile.params)
        uploads = modelfile.uploads()
        if uploads:
            params.update(_upload(session, uploads))
    params.update(flags)
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


_PARTS = ("license", "modelfile", "parameters", "system", "template")


def show(session: Session) -> int:
    args = session.args
    parts = [part for part in _PARTS if getattr(args, part)]
    if len(parts) > 1:
        flags = ", ".join(f"--{part}" for part in _PARTS)
        raise UsageError(f"only one of {flags} can be given")
    response = session.client.show_model(model=args.model, **schema_params(args))
    if session.json:
        session.print_json(response)
    elif parts:
        session.print(str(response.get(parts[0], "")).rstrip("\n"))
    else:
        session.print("\n" + show_info(response, verbose=bool(args.param_verbose)).rstrip("\n"))
    return OK


def copy(session: Session) -> int:
    args = session.args
    if not session.client.copy_model(source=args.source, destination=args.destination):
        raise _not_found(session, args.source, "POST", "/copy")
    if session.json:
        result = {"status": "success", "source": args.source, "destination": args.destination}
        session.print_json(result)
    else:
        session.print(f"copied '{args.source}' to '{args.destination}'")
    return OK


def remove(session: Session) -> int:
    for model in session.args.models:
        if not session.client.delete_model(model=model):
            raise _not_found(session, model, "DELETE", "/delete")
        if session.json:
            session.print_json({"status": "success", "deleted": model})
        else:
            session.print(f"deleted '{model}'")
    return OK


def show_version(session: Session) -> int:
    """``version`` (or ``-v``): this client's version and the server's, as far as it answers."""
    if session.json:
        session.print_json(session.client.version())
        return OK
    session.print(f"client version is {actors.__version__}")
    try:
        response = session.client.version()
    except ConnectError:  # as `ollama -v`: the client's version is still worth knowing
        session.print("Warning: could not connect to a running Ollama instance")
        return OK
    session.print(f"server version is {response.get('version', 'unknown')}")
    return OK


def top(session: Session) -> int:
    """``top URL``: the `StatusServer` of a running program, live; Ctrl-C ends it (0)."""
    from ollama_actor._cli._top import top as draw

    args = session.args
    try:
        return draw(
            args.url, interval=args.interval, once=args.once, as_json=session.json, out=session.out
        )
    except KeyboardInterrupt:
        return OK


COMMANDS: dict[str, Callable[[Session], int]] = {
    "run": run,
    "stop": stop,
    "generate": generate,
    "chat": chat,
    "embed": embed,
    "pull": _progress_command("pull_model"),
    "push": _progress_command("push_model"),
    "create": create,
    "list": list_models,
    "ps": list_running,
    "show": show,
    "cp": copy,
    "rm": remove,
    "version": show_version,
    "top": top,
}
