"""Headless Chromium for the browser tests: Debian's chromium driven by Playwright.

No browser is downloaded: ``.ci/run`` installs Debian's ``chromium`` where it can, and a test that
needs it is skipped with a message when it or Playwright's Python package is missing. Host names
ending in ``.test`` resolve to 127.0.0.1 inside this browser, so a test can serve a page under a
foreign name (DNS rebinding) or from another site without any DNS.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP *.test 127.0.0.1",
]  # fmt: skip


@contextmanager
def chromium() -> Iterator[Any]:
    """A Playwright ``Browser`` on Debian's Chromium (the test is skipped without one)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium at /usr/bin/chromium: apt-get install chromium (.ci/run does)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright's Python package is not installed"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=FLAGS, headless=True, timeout=30_000
        )
        try:
            yield browser
        finally:
            browser.close()


def expect(target: Any) -> Any:
    """Playwright's ``expect(target)`` (in a test that has a browser, so Playwright is here)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def page_reply(html: str) -> bytes:
    """A whole HTTP response serving ``html`` (for ``tiny_server``, one page per connection)."""
    body = html.encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\n"
    return head + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
