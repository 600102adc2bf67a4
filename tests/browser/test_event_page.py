"""The event page, the events list, the Ofgem page and a premise page as an operator uses
them, in Debian's chromium against the live stack (web server, Celery worker, DCC
simulator): cancel from the event page, the decision in words with EUI-64s, a running
event marked ongoing on the report, a date field that keeps its value, nothing sideways at
800 px, and not one Content-Security-Policy violation on the way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from consent.choices import ConsentStatus
from consent.models import Consent
from core.models import AuditEntry
from core.times import LONDON
from curtailment.choices import ActionStatus, EventEndReason, EventStatus
from curtailment.models import CurtailmentAction, CurtailmentEvent
from tests.browser.test_csp import COLLECT_VIOLATIONS
from tests.browser_support import screenshot
from tests.consent.factories import ConsentFactory, eligible_charger
from tests.curtailment.factories import open_event
from tests.feeders.factories import FeederFactory

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

OVERFLOW = "document.scrollingElement.scrollWidth <= window.innerWidth"


def _live(page) -> None:
    expect(page.locator("body")).to_have_attribute("data-live", "live")


def _no_csp_violations(page) -> None:
    assert page.evaluate("window.__cspViolations") == []


@pytest.fixture
def operator_page(browser_as, operator):
    page = browser_as(operator)
    page.context.add_init_script(COLLECT_VIOLATIONS)
    return page


def _curtailed(page, live_stack, *, chargers: int = 2) -> CurtailmentEvent:
    """An operator curtails a feeder with ``chargers`` eligible chargers and one that is not
    (its tenancy never consented); the devices confirm."""
    feeder = FeederFactory(rating_amps=400, automatic_curtailment=False)
    for _ in range(chargers):
        eligible_charger(feeder=feeder)
    refused = eligible_charger(feeder=feeder)
    Consent.objects.filter(tenancy__premise=refused.meter.premise).update(status=ConsentStatus.DECLINED)
    live_stack.register_meters()
    page.goto(f"{live_stack.web_url}/feeders/{feeder.pk}/")
    _live(page)
    page.click("text=Curtail now")
    page.fill("#id_reduction_kw", "12")
    page.fill("#id_duration_minutes", "30")
    page.fill("#id_reason", "Browser test: fuse running hot")
    page.check("#id_confirm")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#curtail-form button[type=submit]")
    page.wait_for_url(re.compile(r"/curtailment/events/\d+/$"))
    _live(page)
    expect(page.locator('#actions-table td.action-status[data-status="confirmed"]')).to_have_count(
        chargers, timeout=45_000
    )
    return CurtailmentEvent.objects.get(feeder=feeder)


def test_the_decision_reads_in_words_with_eui64s_and_the_operator_cancels_from_the_page(
    operator_page, live_stack, operator
):
    page = operator_page
    event = _curtailed(page, live_stack)
    picked = sorted(event.actions.values_list("hcalcs__eui64", flat=True))
    refused = sorted(set(event.feeder.premises.values_list("meters__hcalcs__eui64", flat=True)) - set(picked))

    # The decision: why, what was needed, who was chosen and who was not, by EUI-64.
    expect(page.locator("#decision-why")).to_contain_text(f"Started by {operator.username}")
    expect(page.locator("#decision-needed")).to_contain_text("12.0 kW")
    for eui64 in picked:
        expect(page.locator("#decision-chosen")).to_contain_text(eui64)
    for eui64 in refused:
        expect(page.locator("#decision-not-chosen")).to_contain_text(eui64)
    expect(page.locator("#decision-not-chosen")).to_contain_text("has not granted consent")
    summary = page.locator("dl.decision-summary").inner_text()
    assert "hcalcs_id" not in summary and "True" not in summary
    raw = page.locator("#decision-raw")
    expect(raw.locator("pre")).to_be_hidden()
    raw.locator("summary").click()
    expect(raw.locator("pre")).to_contain_text('"hcalcs_id"')
    screenshot(page, "event-1-decision-summary")

    # Cancel: a reason, the box, the browser's confirmation.
    page.click("#event-controls summary")
    page.fill("#id_cancel-reason", "Browser test: crew on site")
    page.check("#id_cancel-confirm")
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.click("#event-cancel-form button[type=submit]")
    page.wait_for_url(re.compile(rf"/curtailment/events/{event.pk}/$"))
    assert "reset (7.8)" in dialogs[0]
    expect(page.locator(".messages")).to_contain_text(f"Event {event.pk} on {event.feeder.code} cancelled")
    _live(page)
    raw.locator("summary").click()  # open while the page is still refreshed live
    expect(raw.locator("pre")).to_be_visible()
    # The worker sends the 7.8s, the devices answer, the page follows live.
    expect(page.locator("#event-status")).to_have_attribute("data-status", "ended", timeout=45_000)
    expect(page.locator("#event-ended-by")).to_have_text(f"({operator.username})")
    expect(page.locator("#event-shortfall")).to_have_count(0)
    expect(page.locator("#event-controls")).to_be_hidden()
    event.refresh_from_db()
    assert (event.status, event.end_reason) == (EventStatus.ENDED, EventEndReason.CANCELLED)
    assert not CurtailmentAction.objects.filter(event=event, status=ActionStatus.CONFIRMED).exists()
    end = AuditEntry.objects.get(action="event.end", target_id=str(event.pk))
    assert (end.actor, end.actor_user) == (operator.username, operator)
    # Start and end seconds apart, each milestone on its own row: no label over another.
    rows = page.evaluate("document.getElementById('event-chart').data[0].y")
    assert len(rows) == len(set(rows)) == 2 and "End (cancelled)" in rows[1]
    # The raw record stays open across the live refreshes (one every 20 s at least): wait
    # until the disclosure is a new element, rendered by a refresh.
    page.evaluate("document.getElementById('decision-raw').dataset.before = 'refresh'")
    expect(page.locator("#decision-raw[data-before]")).to_have_count(0, timeout=30_000)
    expect(raw.locator("pre")).to_be_visible()
    _no_csp_violations(page)
    screenshot(page, "event-2-cancelled-from-the-page")


def test_a_viewer_has_no_cancel_control(browser_as, live_stack, viewer):
    feeder = FeederFactory(rating_amps=400, automatic_curtailment=False)
    now = timezone.now()
    event = open_event(feeder=feeder, started_at=now, minutes=30, reduction_kw=5)
    page = browser_as(viewer)
    page.goto(f"{live_stack.web_url}/curtailment/events/{event.pk}/")
    _live(page)
    expect(page.locator("#event-controls")).to_have_count(0)


def test_the_report_marks_a_running_event_ongoing_with_its_minutes_so_far(operator_page, live_stack):
    page = operator_page
    event = _curtailed(page, live_stack, chargers=1)
    cache.clear()  # the page caches its overview for a minute
    month = timezone.now().astimezone(LONDON).strftime("%Y-%m")
    page.goto(f"{live_stack.web_url}/reports/?kind=month&month={month}")
    row = page.locator(f'#ongoing-events a[href="/curtailment/events/{event.pk}/"]').locator("xpath=ancestor::tr")
    expect(row).to_contain_text("ongoing")
    expect(row).to_contain_text("min so far")
    minutes = int(re.search(r"(\d+) min so far", row.inner_text())[1])
    assert minutes < 30  # not the planned 30 minutes: the event began moments ago
    expect(page.locator("#summary-longest-ongoing")).to_be_visible()
    expect(page.locator("#summary-ongoing")).to_have_text("1")
    _no_csp_violations(page)
    screenshot(page, "report-ongoing-event")


def test_the_premise_page_date_field_holds_its_value(operator_page, live_stack):
    page = operator_page
    pending = ConsentFactory(status=ConsentStatus.PENDING, evidence_channel="", evidence_date=None)
    page.goto(f"{live_stack.web_url}/consent/premises/{pending.tenancy.premise_id}/")
    page.click("text=Grant consent")
    field = page.locator("#id_evidence_date")
    expect(field).to_be_visible()
    # The browser keeps a value only in the format an <input type=date> takes.
    assert field.input_value() == timezone.now().astimezone(LONDON).date().isoformat()
    _no_csp_violations(page)
    screenshot(page, "premise-date-field")


def test_nothing_goes_sideways_at_800_px(operator_page, live_stack):
    page = operator_page
    event = _curtailed(page, live_stack)
    page.set_viewport_size({"width": 800, "height": 900})
    for path in (
        f"/curtailment/events/{event.pk}/",
        "/curtailment/events/",
        "/curtailment/audit/",
        f"/feeders/{event.feeder_id}/",
    ):
        page.goto(f"{live_stack.web_url}{path}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate(OVERFLOW), (path, page.evaluate("document.scrollingElement.scrollWidth"))
    page.goto(f"{live_stack.web_url}/curtailment/events/{event.pk}/")
    _live(page)
    assert page.evaluate(OVERFLOW)
    _no_csp_violations(page)
    screenshot(page, "event-800px")


def test_the_events_list_filters_and_exports_what_it_shows(operator_page, live_stack):
    page = operator_page
    event = _curtailed(page, live_stack, chargers=1)
    page.goto(f"{live_stack.web_url}/curtailment/events/")
    page.select_option("#id_status", "active")
    page.fill("input[name=feeder]", event.feeder.code)
    page.click("#event-filters button[type=submit]")
    expect(page.locator("#events-table tbody tr")).to_have_count(1)
    expect(page.locator(f'#events-table tr[data-event-id="{event.pk}"]')).to_contain_text("so far")
    with page.expect_download() as download:
        page.click("#events-csv")
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"{event.pk},{event.feeder.code},")
    _no_csp_violations(page)
    screenshot(page, "events-list-filtered")
