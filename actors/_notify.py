"""``sd_notify``: telling a service manager (systemd) how the program is doing, with no dependency.

The protocol is one datagram of ``KEY=VALUE`` lines to the Unix socket named by the
``NOTIFY_SOCKET`` environment variable: a path, or a name in the abstract namespace when it
begins with ``@``. ``READY=1`` says the service has started, ``STOPPING=1`` that it is
stopping, ``STATUS=...`` is shown by ``systemctl status``, ``WATCHDOG=1`` is a keep-alive
when the unit sets ``WatchdogSec=``. Without ``NOTIFY_SOCKET`` (a terminal, a container) it
does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["sd_notify", "watchdog_interval"]

logger = logging.getLogger(__name__)


def sd_notify(state: str, *, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` (``"READY=1"``, or several lines) to ``NOTIFY_SOCKET``.

    Returns True if it was sent, False if there is no service manager to tell (the variable
    is unset or empty) or the send failed (logged as a WARNING: a daemon keeps running
    whatever its manager hears). Any thread; never blocks.
    """
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        logger.warning("NOTIFY_SOCKET=%r is neither a path nor @abstract: not notified", address)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            # a name from argv may hold undecodable bytes (surrogates): send those back as
            # they came rather than raise
            sock.send(state.encode("utf-8", "surrogateescape"), socket.MSG_DONTWAIT)
    except (OSError, UnicodeError) as exc:
        logger.warning("could not notify the service manager at %r: %s", address, exc)
        return False
    return True


def watchdog_interval(*, environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds within which the service manager wants ``WATCHDOG=1`` (``WATCHDOG_USEC``), or
    None when it wants none (unset, or ``WATCHDOG_PID`` names another process)."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1e6
