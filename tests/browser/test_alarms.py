"""The control room on a bad evening, in a real browser against the live stack (issue 16):
forty alarms at once, all in the list and ordered by severity; a new one sounds and shows
as not acknowledged; three acknowledged at once, and one by keyboard only; the overview
re-sorts and the network view recolours when a feeder's status changes; the feeder chart
opens on the last hour.

Alerts and statuses are written through the same services the ingest and the SCADA API
use, from the test process, so their pushes reach the page through the real channel
layer. The worker runs without beat: no offline sweep moves a status under the test."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from core.models import AuditEntry
from core.times import london_wallclock
from curtailment.choices import ClockState, EscalationStage
from curtailment.models import FailureClock
from feeders.choices import FeederStatus
from feeders.models import Feeder, FeederAlert, FeederReading
from feeders.services import feeder_status_set
from feeders.services.detection import feeder_alert_raise_external
from tests.browser.conftest import screenshot
from tests.feeders.factories import FeederFactory, SubstationFactory

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

SEVERITY_RANK = {"critical": 1, "high": 2, "medium": 3, "low": 4}


def _live(page) -> None:
    expect(page.locator("body")).to_have_attribute("data-live", "live")


def _forty_alarms() -> list[FeederAlert]:
    """Forty feeders alarmed at once: three critical (an operator alarm, two over their
    rating), the rest at risk, raised over the last forty minutes."""
    now = timezone.now()
    alerts = []
    for n in range(40):
        feeder = FeederFactory(code=f"EVE{n:02d}", automatic_curtailment=False, status=FeederStatus.AT_RISK)
        alert = FeederAlert.objects.create(
            feeder=feeder, kind="threshold", raised_at=now - dt.timedelta(minutes=40 - n), load_percent=91 + n % 9
        )
        alerts.append(alert)
        if n in (5, 17, 33):
            FailureClock.objects.create(
                feeder=feeder,
                alert=alert,
                computed_at=now,
                state=ClockState.OVER_RATING,
                minutes_to_failure=4.0,
                stage=EscalationStage.OPERATOR if n == 33 else EscalationStage.WAITING,
                stage_started_at=now,
                alarm="Relief not confirmed in time: consider a load transfer" if n == 33 else "",
            )
    return alerts


def test_forty_alarms_a_new_one_sounds_and_three_are_acknowledged_at_once(
    live_stack_without_beat, browser_as, operator
):
    stack = live_stack_without_beat
    alerts = _forty_alarms()
    page = browser_as(operator)
    page.goto(f"{stack.web_url}/alarms/")
    _live(page)
    expect(page.locator("#last-updated")).to_be_visible()

    # Every alarm is in the list, most severe first.
    rows = page.locator("#alarm-table tr.alarm-row")
    expect(rows).to_have_count(40)
    expect(page.locator("#alarm-total")).to_have_text("40")
    severities = rows.evaluate_all("(rows) => rows.map((row) => row.dataset.severity)")
    assert [SEVERITY_RANK[s] for s in severities] == sorted(SEVERITY_RANK[s] for s in severities)
    assert severities[:3] == ["critical"] * 3
    assert rows.nth(0).get_attribute("data-feeder-code") == "EVE33"  # the operator alarm: soonest to fail
    assert page.locator("#alarm-table tr.alarm-row.unacked").count() == 40
    screenshot(page, "alarms-1-forty-alarms")

    # The browser lets a page sound only after a click: the page says so until then.
    expect(page.locator("#sound-state")).to_be_visible()
    page.click("#sound-enable")
    expect(page.locator("#sound-state")).to_be_hidden()
    page.evaluate("window.__notReloaded = true")

    # A new alarm arrives over the socket: the chime starts, the banner names it, the row
    # is marked new and not acknowledged.
    fresh_feeder = FeederFactory(code="EVE99", automatic_curtailment=False)
    fresh = feeder_alert_raise_external(
        feeder=fresh_feeder, raised_at=timezone.now(), reason="SCADA overload", source="scada", load_percent=97.0
    ).alert
    cue = page.locator("#alarm-cue")
    expect(cue).to_be_visible()
    expect(cue).to_have_attribute("data-cues", "1")
    expect(cue).to_have_attribute("data-tone", "playing")
    expect(page.locator("#alarm-cue-text")).to_have_text("New alarm: EVE99")
    new_row = page.locator(f'tr[data-alarm-key="alert-{fresh.pk}"]')
    expect(new_row).to_have_class(re.compile(r"\bunacked\b.*\bfresh\b"))
    expect(new_row.locator(".ack-cell")).to_have_text("NEW · not acknowledged")
    expect(rows).to_have_count(41)
    assert int(cue.get_attribute("data-chimes")) >= 1
    assert page.evaluate("window.__notReloaded") is True
    assert page.title().startswith("(41) ")
    screenshot(page, "alarms-2-new-alarm-cue")

    page.click("#alarm-silence")
    expect(cue).to_have_attribute("data-tone", "silenced")
    expect(cue).to_be_hidden()

    # Three at once, with a reason.
    chosen = [alerts[0], alerts[1], fresh]
    for alert in chosen:
        page.check(f'input.alarm-select[value="{alert.pk}"]')
    expect(page.locator("#selected-count")).to_have_text("3")
    page.fill("#ack-reason", "Evening peak: automatic curtailment in hand")
    page.click("#ack-selected")
    expect(page.locator(".messages")).to_contain_text("Acknowledged 3 alarms")
    for alert in chosen:
        expect(page.locator(f'tr[data-alarm-key="alert-{alert.pk}"]')).to_have_class(re.compile(r"\backed\b"))
    expect(page.locator("#alarm-table tr.alarm-row.unacked")).to_have_count(38)
    acknowledged = FeederAlert.objects.filter(pk__in=[a.pk for a in chosen], acknowledged_by=operator)
    assert acknowledged.count() == 3
    entries = AuditEntry.objects.filter(action="alert.acknowledge", actor_user=operator)
    assert {e.reason for e in entries} == {"Evening peak: automatic curtailment in hand"}
    assert entries.count() == 3
    screenshot(page, "alarms-3-three-acknowledged")

    # Keyboard only: type the reason, Tab to a row's own button, press Enter.
    target = alerts[2]
    page.locator("#ack-reason").focus()
    page.keyboard.type("Seen")
    for _ in range(200):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.getAttribute('aria-label') || ''")
        if focused == "Acknowledge the alarm on EVE02":
            break
    else:
        pytest.fail("no Acknowledge button for EVE02 reached with Tab")
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("Acknowledged 1 alarm: EVE02.")
    assert FeederAlert.objects.get(pk=target.pk).acknowledged_by == operator


def test_the_overview_resorts_and_the_network_recolours_when_a_feeder_goes_at_risk(
    live_stack_without_beat, browser_as, viewer
):
    stack = live_stack_without_beat
    now = timezone.now()
    quiet = SubstationFactory(code="QUIET")
    for n in range(54):
        FeederFactory(
            code=f"QUIET-F{n:02d}",
            substation=quiet,
            status=FeederStatus.NORMAL,
            last_load_percent=40.0 + n / 2,
            last_reading_at=now,
            automatic_curtailment=False,
        )
    mover_sub = SubstationFactory(code="MOVER")
    mover = FeederFactory(
        code="MOVER-F01", substation=mover_sub, status=FeederStatus.NORMAL, last_load_percent=5.0, last_reading_at=now
    )

    page = browser_as(viewer)
    page.goto(f"{stack.web_url}/")
    _live(page)
    expect(page.locator("#last-updated")).to_be_visible()
    # Page 1 of 2, said above the table; the lightest feeder is on page 2.
    expect(page.locator("#feeder-pager-top .pager-count")).to_have_text("page 1 of 2 · 1\N{EN DASH}50 of 55")
    expect(page.locator(f'#feeder-rows tr[data-feeder-id="{mover.pk}"]')).to_have_count(0)
    cell = page.locator(f'#network .cell[data-feeder-id="{mover.pk}"]')
    expect(cell).to_have_class("cell status-normal")
    background_before = cell.evaluate("(node) => getComputedStyle(node).backgroundColor")
    page.evaluate("window.__notReloaded = true")

    feeder_status_set(feeder=mover, status=FeederStatus.AT_RISK)

    first_row = page.locator("#feeder-rows tr").first
    expect(first_row).to_have_attribute("data-feeder-id", str(mover.pk))
    expect(first_row.locator(".status")).to_have_text("At risk")
    expect(cell).to_have_class("cell status-at_risk")
    expect(page.locator('#network .substation[data-substation="MOVER"]')).to_have_attribute("data-status", "at_risk")
    expect(page.locator('#network .substation[data-substation="QUIET"]')).to_have_attribute("data-status", "normal")
    assert cell.evaluate("(node) => getComputedStyle(node).backgroundColor") != background_before
    assert page.evaluate("window.__notReloaded") is True
    screenshot(page, "alarms-4-overview-resorted-network-at-risk")

    # Back to normal: it returns to the bottom (page 2) and its cell to normal.
    feeder_status_set(feeder=mover, status=FeederStatus.NORMAL)
    expect(page.locator(f'#feeder-rows tr[data-feeder-id="{mover.pk}"]')).to_have_count(0)
    expect(cell).to_have_class("cell status-normal")

    # A new alarm shows on the overview too: the banner names it, the attention panel marks
    # it new, and its row comes to the top. This viewer has not clicked: the page says the
    # browser kept it silent rather than pretend it sounded.
    alarmed = Feeder.objects.get(code="QUIET-F10")
    feeder_alert_raise_external(feeder=alarmed, raised_at=timezone.now(), reason="SCADA overload", source="scada")
    expect(page.locator("#alarm-cue-text")).to_have_text("New alarm: QUIET-F10")
    expect(page.locator("#alarm-cue")).to_have_attribute("data-cues", "1")
    expect(page.locator("#alarm-cue")).to_have_attribute("data-tone", "blocked")
    expect(page.locator("#sound-state")).to_be_visible()
    expect(page.locator(f"#attention-{alarmed.pk}")).to_have_class(re.compile(r"\bunacked\b"))
    expect(page.locator("#feeder-rows tr").first).to_have_attribute("data-feeder-id", str(alarmed.pk))
    assert page.evaluate("window.__notReloaded") is True
    screenshot(page, "alarms-5-overview-new-alarm")

    # A column header sorts; the header says which way.
    page.click("#feeder-table th a:has-text('Feeder')")
    expect(page.locator("#feeder-rows tr").first).to_contain_text("MOVER-F01")
    expect(page.locator("#feeder-table th[aria-sort='ascending']")).to_contain_text("Feeder")
    page.click("#feeder-pager-top a[data-page='2']")
    expect(page.locator("#feeder-pager-top .pager-count")).to_have_text("page 2 of 2 · 51\N{EN DASH}55 of 55")
    screenshot(page, "alarms-6-overview-sorted-page-2")


def test_the_feeder_chart_opens_on_the_last_hour_with_the_live_edge_in_view(live_stack, browser_as, viewer):
    feeder = FeederFactory(rating_amps=400, last_load_percent=60.0)
    now = timezone.now()
    FeederReading.objects.bulk_create(
        FeederReading(
            feeder=feeder,
            measured_at=now - dt.timedelta(minutes=m),
            received_at=now,
            amps_l1=200.0 + m,
            amps_l2=190.0,
            amps_l3=180.0,
            kw=130.0,
        )
        for m in range(0, 6 * 60, 2)
    )
    page = browser_as(viewer)
    page.goto(f"{live_stack.web_url}/feeders/{feeder.pk}/")
    _live(page)
    page.wait_for_function("document.getElementById('load-chart')._fullLayout !== undefined")

    start, end = page.evaluate("document.getElementById('load-chart')._fullLayout.xaxis.range")
    shown_from = dt.datetime.fromisoformat(start[:19])
    shown_to = dt.datetime.fromisoformat(end[:19])
    an_hour_ago = dt.datetime.fromisoformat(london_wallclock(now - dt.timedelta(hours=1)))
    latest = dt.datetime.fromisoformat(london_wallclock(now))
    assert abs((shown_from - an_hour_ago).total_seconds()) < 120
    assert latest < shown_to <= latest + dt.timedelta(minutes=15)  # the live edge, with room for the forecast
    expect(page.locator(".ranges a.active")).to_have_text("1 h")
    screenshot(page, "alarms-7-feeder-chart-last-hour")


def test_a_large_network_draws_a_feeder_that_leaves_normal(live_stack_without_beat, browser_as, viewer):
    """Above NETWORK_CELLS_MAX feeders a normal feeder has no cell: when it goes at risk the
    page fetches the network view again and its cell and substation colour appear."""
    stack = live_stack_without_beat
    now = timezone.now()
    quiet = SubstationFactory(code="QUIET")
    count = settings.DNOCTL["NETWORK_CELLS_MAX"] + 1
    Feeder.objects.bulk_create(
        [
            FeederFactory.build(
                code=f"QUIET-F{n:04d}",
                substation=quiet,
                monitor_device_id=None,
                last_load_percent=40.0,
                last_reading_at=now,
                automatic_curtailment=False,
            )
            for n in range(count)
        ]
    )
    mover = FeederFactory(code="MOVER-F01", substation=SubstationFactory(code="MOVER"), last_load_percent=5.0)

    page = browser_as(viewer)
    page.goto(f"{stack.web_url}/")
    _live(page)
    expect(page.locator("#network")).to_have_attribute("data-compact", "1")
    expect(page.locator("#network .cell")).to_have_count(0)
    expect(page.locator('#network .substation[data-substation="MOVER"] .normal-not-drawn')).to_have_text("1 normal")
    page.evaluate("window.__notReloaded = true")

    feeder_status_set(feeder=mover, status=FeederStatus.AT_RISK)

    cell = page.locator(f'#network .cell[data-feeder-id="{mover.pk}"]')
    expect(cell).to_have_class("cell status-at_risk")
    expect(page.locator('#network .substation[data-substation="MOVER"]')).to_have_attribute("data-status", "at_risk")
    expect(page.locator('#network .substation[data-substation="QUIET"]')).to_have_attribute("data-status", "normal")
    expect(page.locator("#feeder-rows tr").first).to_have_attribute("data-feeder-id", str(mover.pk))
    assert page.evaluate("window.__notReloaded") is True
    screenshot(page, "alarms-6-large-network-feeder-at-risk")
