"""The register upload in a real browser: a large file runs in the Celery worker and the
page's progress bar follows it to the report.

Playwright runs in a thread of its own: its sync API keeps an asyncio loop in the thread
that starts it, and another session-wide browser (tests/browser) may already own this one.
"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from consent.models import HCALCS, Premise
from tests.consent.registers import register_rows, register_write

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"  # Debian's; browsers are never downloaded
PASSWORD = "correct-horse-battery"  # tests/conftest.py's users


def _upload_and_wait(web_url: str, username: str, csv_path: Path) -> dict:
    from playwright.sync_api import sync_playwright

    seen: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(30_000)
            page.goto(f"{web_url}/accounts/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_selector("form.logout")
            page.goto(f"{web_url}/consent/import/")
            page.set_input_files("input[type=file]", str(csv_path))
            page.click("main form button[type=submit]")
            page.wait_for_url("**/consent/import/*/")  # the job page, polling the worker's progress
            seen["job_url"] = page.url
            page.wait_for_selector("text=Imported · 7000 rows", timeout=180_000)
            seen["report"] = page.inner_text("main")
            (ROOT / "test-artefacts").mkdir(exist_ok=True)
            page.screenshot(path=str(ROOT / "test-artefacts" / "consent-import-report.png"), full_page=True)
        finally:
            browser.close()
    return seen


@pytest.mark.browser
@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_large_register_upload_shows_progress_then_the_report(live_stack, engineer, tmp_path):
    path = register_write(tmp_path / "register.csv", register_rows(3500, hcalcs_per_meter=2))
    assert path.stat().st_size > 1_000_000  # over the inline limit: goes to the worker
    with ThreadPoolExecutor(max_workers=1) as pool:
        seen = pool.submit(_upload_and_wait, live_stack.web_url, engineer.username, path).result(timeout=300)
    assert "/consent/import/" in seen["job_url"]
    assert "hcalcs\t7000\t0\t0" in seen["report"]
    assert Premise.objects.count() == 3500
    assert HCALCS.objects.count() == 7000
