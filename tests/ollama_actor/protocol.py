"""Helpers to read one stream's messages from an Inbox and check the message protocol."""

from __future__ import annotations

from typing import Any

from actors import Inbox, Ref

TERMINAL = ("done", "error")


def messages_of(inbox: Inbox, ref: Ref, timeout: float = 10.0) -> list[tuple[str, Any]]:
    """Receive ``ref``'s messages up to its terminal one; other messages stay queued."""
    out: list[tuple[str, Any]] = []
    while True:
        msg_ref, (kind, payload) = inbox.receive(match=lambda m: m[0] == ref, timeout=timeout)
        assert msg_ref == ref
        out.append((kind, payload))
        if kind in TERMINAL:
            return out


def assert_protocol(messages: list[tuple[str, Any]]) -> None:
    """``data* (restart data*)* (done | error)``: exactly one terminal message, last."""
    kinds = [kind for kind, _ in messages]
    assert kinds, "no messages at all"
    assert kinds[-1] in TERMINAL, f"no terminal message: {kinds}"
    assert all(k in ("data", "restart") for k in kinds[:-1]), f"bad sequence: {kinds}"
    for kind, payload in messages:
        if kind == "data":
            assert isinstance(payload, dict)
            assert "error" not in payload, "an error line was delivered as data"


def assert_nothing_more(inbox: Inbox, ref: Ref, wait: float = 0.2) -> None:
    """No message for ``ref`` arrives after its terminal one (within ``wait`` seconds)."""
    try:
        extra = inbox.receive(match=lambda m: m[0] == ref, timeout=wait)
    except TimeoutError:
        return
    raise AssertionError(f"a message after the terminal one: {extra!r}")
