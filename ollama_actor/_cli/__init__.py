"""The ``ollama-actor`` command line, one concept per module.

- `_args`: the argument parser; the endpoint flags are generated from `_schemas.ENDPOINTS`.
- `_commands`: what each command does.
- `_printer`: a stream delivered to a printing actor (``stream=<actor>``), and Ctrl-C.
- `_repl`: a conversation as ``ollama run`` holds one (``\"\"\"``, ``/set``, ``/show``...).
- `_spinner`: the spinner shown on a terminal until the first token.
- `_show`: a model's details as ``ollama show`` prints them.
- `_views`: how a generation's messages are shown (tokens, thinking, JSON lines).
- `_terminal`: control characters from the server shown harmlessly on a terminal.
- `_progress`: progress for pull, push and create: plain text, or `_rich_progress`'s live
  bars when the optional rich package is installed.
- `_format`: sizes, durations and tables as Ollama's own command line shows them.
- `_modelfile`: the Modelfile that ``create -f`` reads.
- `_exit`: exit codes, and every error as one line.

The entry point is `ollama_actor.cli.main`.
"""
