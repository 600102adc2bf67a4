"""Browser-test fixtures (a pytest plugin loaded by tests/conftest.py): Playwright (sync API) driving Debian's chromium against the live stack of
``tests.processes``: a real uvicorn server, Celery worker and DCC simulator.

Browsers are never downloaded: ``executable_path`` is Debian's /usr/bin/chromium
(installed by scripts/ensure_system_packages.sh). Screenshots go to ``test-artefacts/``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTEFACTS = ROOT / "test-artefacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct-horse-battery"  # tests/conftest.py's users


@pytest.fixture(scope="module")
def chromium(live_processes):
    """One chromium per test module, started after the test database and the processes.

    Module scope, not session: while Playwright runs, its asyncio loop occupies this
    thread, and every later test that uses ``async_to_sync`` (Channels) would fail; the
    loop ends with the last browser test of the module.

    Playwright's sync API keeps an asyncio loop in this thread for as long as it runs, and
    Django then refuses every ORM call in the thread ("cannot call this from an async
    context"), including pytest-django's own flushes. The tests' database work is ordinary
    synchronous code, so the guard is lifted while the browser runs and restored after.
    """
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_as(chromium, live_stack) -> Iterator[Callable]:
    """``browser_as(user)`` -> a page logged in through the real login form."""
    ARTEFACTS.mkdir(exist_ok=True)
    contexts = []

    def open_as(user):
        context = chromium.new_context(viewport={"width": 1920, "height": 1080}, locale="en-GB")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{live_stack.web_url}/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_selector("form.logout")
        return page

    yield open_as
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
