"""The Reports page in a real browser against the live web server: charts drawn, the
period inputs follow the chosen kind, a download's progress is polled until its link
appears, and the file downloads."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from reports.services import export_path, report_export_get
from tests.browser.conftest import screenshot
from tests.consent.factories import eligible_charger
from tests.reports.factories import curtail, event_with, utc

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def test_reports_page_shows_charts_and_downloads_a_polled_export(browser_as, live_stack, viewer, tmp_path):
    charger = eligible_charger()
    feeder = charger.meter.premise.feeder
    curtail(event_with(feeder=feeder, start=utc(2026, 6, 3, 17, 0)), charger, minutes=45)
    curtail(event_with(feeder=feeder, start=utc(2026, 6, 9, 17, 0), minutes=90), charger, minutes=30)
    page = browser_as(viewer)

    page.goto(f"{live_stack.web_url}/reports/")
    page.select_option("#period-kind", "month")
    expect(page.locator("#period-form input[name=month]")).to_be_visible()
    expect(page.locator("#period-form input[name=start]")).to_be_hidden()
    page.fill("#period-form input[name=month]", "2026-06")
    page.click("#period-form button[type=submit]")

    expect(page.locator("#summary-events")).to_have_text("2")
    expect(page.locator("#summary-mpans")).to_have_text("1")
    for chart in ("durations", "months", "worst"):
        expect(page.locator(f"#chart-{chart} svg.main-svg").first).to_be_visible()
    expect(page.locator("#worst-total")).to_contain_text(charger.meter.mpans.get().core)

    page.click("#report-download button[value=json]")
    expect(page.locator("#export-status")).to_be_visible()
    export_id = page.url.split("export=")[1].split("&")[0]
    # The live Celery worker generates the file; the page polls until its link appears.
    link = page.locator("#export-link")
    expect(link).to_be_visible(timeout=60_000)
    assert report_export_get(export_id=export_id)["state"] == "done"
    screenshot(page, "reports-page")
    with page.expect_download() as download_info:
        link.click()
    saved = tmp_path / "report.json"
    download_info.value.save_as(saved)
    report = json.loads(saved.read_text())
    assert report["summary"]["events"] == 2
    assert report["summary"]["charger_minutes"] == 75
    export_path(report_export_get(export_id=export_id)).unlink()
