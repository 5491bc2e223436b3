"""The conversation of ``chat`` and of ``run`` without a prompt, as ``ollama run`` holds one.

Each line typed is a question, unless it is a command or part of a longer message:

- ``\"\"\"`` opens a message of several lines, and the line that ends with ``\"\"\"`` sends it;
- ``/set parameter NAME VALUE...``, ``/set system TEXT`` (``\"\"\"`` for several lines),
  ``/set verbose``/``quiet``, ``/set think [LEVEL]``/``nothink``, ``/set format json``/
  ``noformat``, ``/set history``/``nohistory``;
- ``/show info|license|modelfile|parameters|system|template``, ``/load MODEL``, ``/save NAME``,
  ``/list``, ``/clear``, ``/bye`` (or ``/exit``), ``/?`` (or ``/help``; ``/? set``, ``/? show``,
  ``/? shortcuts``).

The same lines may come from a pipe (one question per line). On a terminal the prompt is ``>>> ``
(``... `` inside a message) with line editing and history (readline), Ctrl-D leaves, Ctrl-C at
the prompt says how to leave, and Ctrl-C during an answer stops it (the question is dropped).
What the commands say goes to stderr, but for what ``/show`` and ``/list`` show; answers go
to stdout.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ollama_actor._cli._show import go_value, show_info
from ollama_actor._errors import HTTPError, ValidationError
from ollama_actor._schemas import ENDPOINTS, option_type, validate

if TYPE_CHECKING:
    from ollama_actor._cli._commands import Session

__all__ = ["Conversation", "Repl"]

PROMPT = ">>> "
MORE = "... "
QUOTES = '"""'
LEAVE = "Use Ctrl + d or /bye to exit."

_USAGE = """Available Commands:
  /set            Set session variables
  /show           Show model information
  /load <model>   Load a session or model
  /save <model>   Save your current session
  /clear          Clear session context
  /bye            Exit
  /?, /help       Help for a command
  /? shortcuts    Help for keyboard shortcuts

Use \"\"\" to begin a multi-line message.
"""
_USAGE_SET = """Available Commands:
  /set parameter ...     Set a parameter
  /set system <string>   Set system message
  /set history           Enable history
  /set nohistory         Disable history
  /set format json       Enable JSON mode
  /set noformat          Disable formatting
  /set verbose           Show LLM stats
  /set quiet             Disable LLM stats
  /set think             Enable thinking
  /set nothink           Disable thinking
"""
_USAGE_SHORTCUTS = """Available keyboard shortcuts:
  Ctrl + a            Move to the beginning of the line (Home)
  Ctrl + e            Move to the end of the line (End)
   Alt + b            Move back (left) one word
   Alt + f            Move forward (right) one word
  Ctrl + k            Delete the sentence after the cursor
  Ctrl + u            Delete the sentence before the cursor
  Ctrl + w            Delete the word before the cursor

  Ctrl + l            Clear the screen
  Ctrl + c            Stop the model from responding
  Ctrl + d            Exit ollama-actor (/bye)
"""
_USAGE_SHOW = """Available Commands:
  /show info         Show details for this model
  /show license      Show model license
  /show modelfile    Show Modelfile for this model
  /show parameters   Show parameters for this model
  /show system       Show system message
  /show template     Show prompt template
"""
_USAGE_PARAMETERS = """Available Parameters:
  /set parameter seed <int>             Random number seed
  /set parameter num_predict <int>      Max number of tokens to predict
  /set parameter top_k <int>            Pick from top k num of tokens
  /set parameter top_p <float>          Pick token based on sum of probabilities
  /set parameter min_p <float>          Pick token based on top token probability * min_p
  /set parameter num_ctx <int>          Set the context size
  /set parameter temperature <float>    Set creativity level
  /set parameter repeat_penalty <float> How strongly to penalize repetitions
  /set parameter repeat_last_n <int>    Set how far back to look for repetitions
  /set parameter num_gpu <int>          The number of layers to send to the GPU
  /set parameter stop <string> <string> ...   Set the stop parameters
"""

_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_GO_INT = re.compile(r"[+-]?[0-9]+")
_GO_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT64 = range(-(2**63), 2**63)
_FLOAT32_MAX = 3.4028234663852886e38


def _go_quote(text: str) -> str:
    """``"text"`` as Go's ``%q`` quotes it (for the ASCII texts of the errors quoted here)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parameter_value(name: str, values: list[str]) -> Any:
    """A ``/set parameter`` value read as Ollama's ``api.FormatParams`` reads it, by the type
    of the option; raises ValueError with Ollama's words for an unknown name or a bad value."""
    kind = option_type(name)
    if kind is None:
        raise ValueError(f"unknown parameter '{name}'")
    shown = "[" + " ".join(values) + "]"
    first = values[0]
    if kind is list:
        return list(values)
    if kind is bool:
        if first not in _TRUE + _FALSE:
            raise ValueError(f"invalid bool value {shown}")
        return first in _TRUE
    # as Go's strconv reads a number (ASCII digits, no "_"; an int64, a float32), and finite:
    # Ollama takes "nan" and "inf", and then cannot send the next question (JSON has no NaN)
    if kind is int and _GO_INT.fullmatch(first) and int(first) in _INT64:
        return int(first)
    if kind is float and _GO_FLOAT.fullmatch(first) and abs(float(first)) <= _FLOAT32_MAX:
        return float(first)
    raise ValueError(f"invalid {kind.__name__} value {shown}")


@dataclass
class Conversation:
    """What a chat keeps: the model, its messages, and what ``/set`` changed."""

    model: str
    params: dict[str, Any]
    """The endpoint parameters sent with each question (think, format, keep_alive, ...)."""
    system: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    """What ``/set parameter`` set, sent as ``options`` (over the command line's ``-o``)."""
    parent: str = ""
    """The model it was created from (``details.parent_model``), which ``/save`` builds on."""
    stored: list[dict[str, Any]] = field(default_factory=list)
    """The model's own messages (``show``), which ``/save`` keeps."""

    def set_system(self, text: str) -> None:
        """The system message: the last message if that is one, else a new last message."""
        self.system = text
        message = {"role": "system", "content": text}
        if self.messages and self.messages[-1].get("role") == "system":
            self.messages[-1] = message
        else:
            self.messages.append(message)

    def clear(self) -> None:
        self.messages = [{"role": "system", "content": self.system}] if self.system else []

    def request(self) -> dict[str, Any]:
        """The parameters of the next question's chat request, the messages aside."""
        params = dict(self.params)
        if self.options:
            params["options"] = {**(params.get("options") or {}), **self.options}
        return params


class Repl:
    """Reads lines and acts on them; ``ask`` streams one question's answer and returns the
    assistant's message (it raises KeyboardInterrupt when the answer is stopped)."""

    def __init__(
        self,
        session: Session,
        conversation: Conversation,
        ask: Callable[[Conversation, list[dict[str, Any]]], dict[str, Any]],
        *,
        interactive: bool,
    ) -> None:
        self.session = session
        self.chat = conversation
        self._ask = ask
        self.interactive = interactive
        self._lines: list[str] = []
        self._multiline: str | None = None  # "prompt" or "system" inside a """ message
        if interactive:
            with contextlib.suppress(ImportError):  # line editing and history, where available
                import readline  # noqa: F401

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> int:
        """Read and act until ``/bye`` or the end of input; returns the exit code (0)."""
        while True:
            try:
                line = self._read()
            except KeyboardInterrupt:  # Ctrl-C at the prompt: say how to leave
                if not self.interactive:
                    raise
                self._say(f"\n{LEAVE}", out=True)
                self._lines, self._multiline = [], None
                continue
            if line is None or not self.feed(line):
                return 0

    def _read(self) -> str | None:
        if self.interactive:
            try:
                return input(MORE if self._multiline else PROMPT)
            except EOFError:
                self._say("", out=True)
                return None
        line = self.session.stdin.readline()
        return line.removesuffix("\n") if line else None

    def feed(self, line: str) -> bool:
        """Act on one line; False when the conversation should end."""
        if self._multiline is not None:
            closed = line.endswith(QUOTES)
            self._lines.append(line[: -len(QUOTES)] if closed else line)
            if not closed:
                return True
            kind, text = self._multiline, "\n".join(self._lines)
            self._lines, self._multiline = [], None
            if kind == "system":
                self.chat.set_system(text)
                self._say("Set system message.")
                return True
            return self._question(text)
        if line.startswith(QUOTES):
            rest = line[len(QUOTES) :]
            if rest.endswith(QUOTES) and rest:
                text = rest[: -len(QUOTES)]
                return self._question(text) if text else True  # as ollama, nothing to send
            self._lines, self._multiline = [rest], "prompt"
            return True
        words = line.split()
        command = words[0] if words else ""
        if command in ("/bye", "/exit"):
            return False
        if command.startswith("/"):
            self._command(command, words[1:], line)
            return True
        if not line.strip():
            return True
        return self._question(line)

    # -- questions -----------------------------------------------------------------------------

    def _question(self, text: str) -> bool:
        turn = [*self.chat.messages, {"role": "user", "content": text}]
        try:
            reply = self._ask(self.chat, turn)
        except KeyboardInterrupt:
            if not self.interactive:
                raise
            self._say("[cancelled: this question is not kept]")
            return True
        except HTTPError as exc:
            if "does not support thinking" not in exc.error:
                raise
            self._say(f"error: {exc.error}")  # as Ollama: mended with /set nothink
            return True
        self.chat.messages = [*turn, reply]
        if self.interactive:
            self.session.print()
        return True

    # -- commands ------------------------------------------------------------------------------

    def _say(self, text: str, *, out: bool = False) -> None:
        stream = self.session.out if out else self.session.err
        stream.write(text + "\n")
        stream.flush()

    def _command(self, command: str, args: list[str], line: str) -> None:
        if command in ("/?", "/help"):
            topic = args[0].lstrip("/") if args else ""
            shortcuts = topic in ("shortcut", "shortcuts")
            text = {"set": _USAGE_SET, "show": _USAGE_SHOW}.get(topic, _USAGE)
            self._say(_USAGE_SHORTCUTS if shortcuts else text)
        elif command == "/set":
            self._set(args, line)
        elif command == "/show":
            self._show(args)
        elif command == "/load":
            self._load(args)
        elif command == "/save":
            self._save(args)
        elif command == "/clear":
            self.chat.clear()
            self._say("Cleared session context")
        elif command == "/list":
            from ollama_actor._cli._commands import list_models

            list_models(self.session)
        else:
            self._say(f"Unknown command '{command}'. Type /? for help")

    def _set(self, args: list[str], line: str) -> None:
        if not args:
            self._say(_USAGE_SET)
            return
        what, chat, params = args[0], self.chat, self.chat.params
        if what == "parameter":
            if len(args) < 3:
                self._say(_USAGE_PARAMETERS)
                return
            try:
                chat.options[args[1]] = parameter_value(args[1], args[2:])
            except ValueError as exc:
                self._say(f"Couldn't set parameter: {_go_quote(str(exc))}")
                return
            self._say(f"Set parameter '{args[1]}' to '{', '.join(args[2:])}'")
        elif what == "system":
            if len(args) < 2:
                self._say(_USAGE_SET)
                return
            text = line.split(None, 2)[2]
            if text.startswith(QUOTES):
                text = text[len(QUOTES) :]
                if not (text.endswith(QUOTES) and len(text) >= len(QUOTES)):
                    self._lines, self._multiline = [text], "system"
                    return
                text = text[: -len(QUOTES)]
            chat.set_system(text)
            self._say("Set system message.")
        elif what in ("verbose", "quiet"):
            self.session.verbose = what == "verbose"
            self._say(f"Set '{what}' mode.")
        elif what == "think":
            value: bool | str = args[1] if len(args) > 1 else True
            try:
                validate(ENDPOINTS["chat"], {"model": chat.model, "messages": [], "think": value})
            except ValidationError as exc:
                self._say(f"error: {exc.problem}")
                return
            params["think"] = value
            level = f" to '{value}'" if len(args) > 1 else ""
            self._say(f"Set 'think' mode{level}.")
        elif what == "nothink":
            params["think"] = False
            self._say("Set 'nothink' mode.")
        elif what == "format":
            if args[1:2] != ["json"]:
                self._say("Invalid or missing format. For 'json' mode use '/set format json'")
                return
            params["format"] = "json"
            self._say("Set format to 'json' mode.")
        elif what == "noformat":
            params.pop("format", None)
            self._say("Disabled format.")
        elif what in ("history", "nohistory"):
            with contextlib.suppress(ImportError, AttributeError):
                import readline

                readline.set_auto_history(what == "history")
        else:
            self._say(f"Unknown command '/set {what}'. Type /? for help")

    def _show(self, args: list[str]) -> None:
        if not args:
            self._say(_USAGE_SHOW)
            return
        chat = self.chat
        extra: dict[str, Any] = {"system": chat.system} if chat.system else {}
        if chat.options:
            extra["options"] = chat.options
        response = self.session.client.show_model(model=chat.model, **extra)
        what = args[0]
        if what == "info":
            self._say(show_info(response), out=True)
        elif what in ("license", "modelfile", "template"):
            missing = {
                "license": "No license was specified for this model.",
                "template": "No prompt template was specified for this model.",
            }
            self._say(str(response.get(what) or missing.get(what, "")), out=True)
        elif what == "parameters":
            lines = ["Model defined parameters:"]
            defined = str(response.get("parameters") or "")
            if defined:
                lines += [f"  {line}" for line in defined.split("\n")]
            else:
                lines.append("  No additional parameters were specified for this model.")
            lines.append("")
            if chat.options:
                lines.append("User defined parameters:")
                lines += [f"  {k:<30} {go_value(v)}" for k, v in chat.options.items()]
                lines.append("")
            self._say("\n".join(lines), out=True)
        elif what == "system":
            system = chat.system or str(response.get("system") or "")
            shown = f"{system}\n" if system else "No system message was specified for this model."
            self._say(shown, out=True)
        else:
            self._say(f"Unknown command '/show {what}'. Type /? for help")

    def _load(self, args: list[str]) -> None:
        if len(args) != 1:
            self._say("Usage:\n  /load <modelname>")
            return
        model = args[0]
        self._say(f"Loading model '{model}'")
        client = self.session.client
        try:
            info = client.show_model(model=model)
            loaded = self.session.load(model, self.chat.params)
        except HTTPError as exc:
            if exc.status != 404:
                raise
            loaded = False
        if not loaded:
            self._say(f"Couldn't find model '{model}'")
            return
        self.chat.model = model
        self.chat.parent = str((info.get("details") or {}).get("parent_model") or "")
        self.chat.stored = list(info.get("messages") or [])
        self.chat.clear()

    def _save(self, args: list[str]) -> None:
        if len(args) != 1:
            self._say("Usage:\n  /save <modelname>")
            return
        name, chat = args[0], self.chat
        request: dict[str, Any] = {"model": name, "from_": chat.parent or chat.model}
        if chat.system:
            request["system"] = chat.system
        if chat.options:
            request["parameters"] = chat.options
        if chat.stored or chat.messages:
            request["messages"] = [*chat.stored, *chat.messages]
        try:
            self.session.client.create_model(**request)
        except HTTPError as exc:
            if "invalid model name" not in exc.error:
                raise
            self._say(f"error: The model name '{name}' is invalid")
            return
        self._say(f"Created new model '{name}'")
