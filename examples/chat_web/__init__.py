"""The LiveView example, for real: a chat page whose tokens are pushed live by an actor.

Each browser connection (a WebSocket) gets its own `ChatSession`, a loop actor that starts the
chat with ``stream=<itself>``, receives ``(ref, ("data", chunk))`` and pushes each token to the
page as it arrives. The page's Cancel button cancels the stream; the actor then receives
``(ref, ("error", StreamCancelled(...)))`` and the page shows the answer as cancelled.

Run it (needs the ``web`` extra: ``pip install 'ollama-actor[web]'``)::

    python -m examples.chat_web                        # against the bundled emulator
    python -m examples.chat_web --ollama http://127.0.0.1:11434 --model llama3.2

and open the address it prints. Served on another address than loopback (``--host 0.0.0.0``),
name each host name people use for it with ``--allow-host NAME``: any other ``Host`` gets 403
(see `Guard`), as does a chat WebSocket opened from another origin than the page's own.
"""

from examples.chat_web.app import create_app
from examples.chat_web.guard import Guard
from examples.chat_web.server import WebServer
from examples.chat_web.session import ChatSession

__all__ = ["ChatSession", "Guard", "WebServer", "create_app"]
