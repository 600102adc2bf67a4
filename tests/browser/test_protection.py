"""The time-to-failure clock and the escalation alarm in a real browser (issue 15), against
the real web server, worker and DCC simulator: the alert comes from telemetry posted to the
API, the worker opens the event and the simulated device confirms; the test plays beat's
protection check (the worker runs without beat, see ``tests/curtailment/test_scenarios``)
and each page follows it live, without reloading."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import expect

from curtailment.models import CurtailmentEvent
from curtailment.services import feeder_protection_check
from tests.browser.conftest import screenshot
from tests.curtailment.test_e2e import wait_until
from tests.feeders.factories import FeederFactory

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def _post(stack, token, feeder, rows) -> None:
    body = {
        "readings": [
            {"feeder": feeder.code, "measured_at": at.isoformat(), "amps": [p, p, p], "kw": 0.69 * p} for at, p in rows
        ]
    }
    reply = requests.post(
        f"{stack.web_url}/api/v1/telemetry/", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert reply.status_code == 202, reply.text


def _live(page) -> None:
    expect(page.locator("body")).to_have_attribute("data-live", "live")


def test_the_clock_and_the_escalation_alarm_follow_the_feeder_live_on_every_page(
    live_stack_without_beat, browser_as, operator
):
    stack = live_stack_without_beat
    from feeders.services import monitor_token_issue
    from tests.consent.factories import eligible_charger

    feeder = FeederFactory(
        code="CLOCK01",
        rating_amps=100,
        at_risk_percent=90,
        clear_percent=80,
        high_risk=True,
        automatic_curtailment=True,
    )
    eligible_charger(feeder=feeder)  # one 7 kW charger: not enough for what a 95 % load needs
    stack.register_meters()
    token = monitor_token_issue(name="browser-clock")

    overview = browser_as(operator)
    overview.goto(f"{stack.web_url}/")
    _live(overview)
    overview.evaluate("window.__notReloaded = true")

    # Rising one percent a minute to 95 %: the alert is raised, the worker opens the event.
    now = timezone.now()
    _post(stack, token, feeder, [(now - dt.timedelta(minutes=5 - m), 90.0 + m) for m in range(6)])
    event = wait_until(lambda: CurtailmentEvent.objects.filter(feeder=feeder).first())
    wait_until(lambda: event.actions.filter(status="confirmed").exists())
    feeder_protection_check(feeder_id=feeder.pk)

    clock_row = overview.locator(f"#clock-{feeder.pk}")
    expect(clock_row).to_contain_text("Rating reached in")
    expect(clock_row).to_contain_text("fuse likely to blow in")
    expect(clock_row).to_contain_text("Relief 7.0 of")
    expect(clock_row.locator(".alarm")).to_contain_text("Every eligible charger on CLOCK01 is at its usage limit")

    # Relief is not confirmed by the deadline: the ladder runs out and the operator is alarmed.
    feeder_protection_check(feeder_id=feeder.pk, now=timezone.now() + dt.timedelta(minutes=3))
    expect(clock_row.locator(".alarm")).to_contain_text("Relief on CLOCK01 not confirmed in time")
    expect(clock_row.locator(".alarm")).to_contain_text("Left: 0 eligible charger(s) with allowance")
    expect(overview.locator('[data-counter="protection_alarms"]')).to_have_text("1")
    assert overview.evaluate("window.__notReloaded") is True
    screenshot(overview, "6-overview-clock-and-alarm")

    event_page = overview.context.new_page()
    event_page.goto(f"{stack.web_url}/curtailment/events/{event.pk}/")
    _live(event_page)
    expect(event_page.locator("#event-while-at-risk")).to_have_text("Lasts while the feeder is at risk")
    expect(event_page.locator("#event-clock .alarm")).to_contain_text("not confirmed in time")
    screenshot(event_page, "7-event-clock-and-alarm")

    feeder_page = overview.context.new_page()
    feeder_page.goto(f"{stack.web_url}/feeders/{feeder.pk}/")
    _live(feeder_page)
    panel = feeder_page.locator("#protection")
    expect(panel.locator(".clock")).to_have_attribute("data-stage", "operator")
    expect(panel.locator(".alarm")).to_contain_text("Consider mobile generation or a load transfer")
    screenshot(feeder_page, "8-feeder-clock-and-alarm")

    # The load falls back below the at-risk level: relief, and every page drops the alarm.
    feeder_page.evaluate("window.__notReloaded = true")
    _post(stack, token, feeder, [(timezone.now(), 84.0)])
    feeder_protection_check(feeder_id=feeder.pk)
    expect(panel.locator(".clock")).to_have_attribute("data-stage", "waiting")
    expect(panel.locator(".alarm")).to_have_count(0)
    expect(panel).to_contain_text("✓")
    expect(event_page.locator("#event-clock .alarm")).to_have_count(0)
    expect(overview.locator('[data-counter="protection_alarms"]')).to_have_text("0")
    assert feeder_page.evaluate("window.__notReloaded") is True
    screenshot(feeder_page, "9-feeder-relieved")
