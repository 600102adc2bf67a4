"""The register upload in a real browser: a large file runs in the Celery worker and the
page's progress bar follows it to the report."""

import pytest

from consent.models import HCALCS, Premise
from tests.browser.conftest import browser_as, chromium, screenshot  # noqa: F401 - fixtures
from tests.consent.registers import register_rows, register_write


@pytest.mark.browser
@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_large_register_upload_shows_progress_then_the_report(browser_as, live_stack, engineer, tmp_path):  # noqa: F811
    path = register_write(tmp_path / "register.csv", register_rows(3500, hcalcs_per_meter=2))
    assert path.stat().st_size > 1_000_000  # over the inline limit: goes to the worker
    page = browser_as(engineer)
    page.goto(f"{live_stack.web_url}/consent/import/")
    page.set_input_files("input[type=file]", str(path))
    page.click("main form button[type=submit]")
    page.wait_for_url("**/consent/import/*/")  # the job page, polling the worker's progress
    page.wait_for_selector("text=Imported · 7000 rows", timeout=180_000)
    screenshot(page, "consent-import-report")
    assert Premise.objects.count() == 3500
    assert HCALCS.objects.count() == 7000
