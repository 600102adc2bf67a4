"""The API docs in a real browser: Swagger UI renders every API from the served schema, and
the page asks nothing of any host but dnoctl's (control rooms are often offline)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.browser_support import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def test_the_api_docs_render_every_api_from_local_files_only(browser_as, live_stack, viewer):
    page = browser_as(viewer)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_stack.web_url}/api/v1/docs")

    for tag in ("telemetry and alerts", "consent", "reports", "DCC"):
        expect(page.locator(f'.opblock-tag[data-tag="{tag}"]')).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/telemetry/")).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/dcc/responses/")).to_be_visible()
    screenshot(page, "api-docs")
    hosts = {urlparse(url).netloc for url in requested if not url.startswith(("data:", "blob:"))}
    assert hosts == {urlparse(live_stack.web_url).netloc}, requested


def test_the_api_docs_send_a_logged_out_browser_to_the_login_page(chromium, live_stack):
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(f"{live_stack.web_url}/api/v1/docs")

        expect(page).to_have_url(f"{live_stack.web_url}/accounts/login/?next=/api/v1/docs")
    finally:
        context.close()
