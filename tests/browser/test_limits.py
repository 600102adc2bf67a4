"""Throttled chargers as the operator sees them (issue 17), in Debian's chromium against the
live stack (web server, Celery worker, the DCC simulator's APC devices): the operator
curtails a feeder of APC chargers, the event page labels each limit's bar with its level and
the kW withheld; when the closed loop lowers the limits the page follows live with each
charger's levels over time; the feeder page lists the chargers as limited, not off; and
the customers are told their charger is slowed, not paused."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from consent.models import Notification
from curtailment.choices import ActionKind
from curtailment.models import CurtailmentEvent
from curtailment.services import event_top_up
from tests.browser.test_csp import COLLECT_VIOLATIONS
from tests.browser_support import screenshot
from tests.consent.factories import eligible_charger
from tests.curtailment.test_e2e import wait_until
from tests.feeders.factories import FeederFactory

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def test_limited_chargers_show_their_levels_over_time_and_are_never_called_off(browser_as, live_stack, operator):
    page = browser_as(operator)
    page.context.add_init_script(COLLECT_VIOLATIONS)
    feeder = FeederFactory(rating_amps=400, automatic_curtailment=False)
    for _ in range(3):
        eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0)
    live_stack.register_meters()

    page.goto(f"{live_stack.web_url}/feeders/{feeder.pk}/")
    expect(page.locator("body")).to_have_attribute("data-live", "live")
    page.click("text=Curtail now")
    page.fill("#id_reduction_kw", "6")
    page.fill("#id_duration_minutes", "30")
    page.fill("#id_reason", "Browser test: throttle the street's chargers")
    page.check("#id_confirm")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#curtail-form button[type=submit]")
    page.wait_for_url(re.compile(r"/curtailment/events/\d+/$"))
    expect(page.locator("body")).to_have_attribute("data-live", "live")
    confirmed = page.locator('#actions-table td.action-status[data-status="confirmed"]')
    expect(confirmed).to_have_count(3, timeout=45_000)
    event = CurtailmentEvent.objects.get(feeder=feeder)
    first = {a.hcalcs.eui64: a.level_percent for a in event.actions.select_related("hcalcs")}
    assert all(a.kind == ActionKind.LIMIT for a in event.actions.all())

    # Each limit's bar says its level and the kW it withholds; the summary has the mix.
    labels = page.locator("#event-chart text.bartext")
    expect(labels.filter(has_text=re.compile(r"^limited \d+ % · \d+\.\d kW withheld$"))).to_have_count(3)
    expect(page.locator("#throttled-count")).to_have_text("3")
    expect(page.locator("#switched-off-count")).to_have_text("0")

    # The closed loop needs 6 kW more: it lowers the limits (new 7.16s) rather than add chargers.
    event_top_up(event_id=event.pk, reason="feeder still above its at-risk level", extra_kw=6)
    lowered = {a.hcalcs.eui64: a for a in event.actions.select_related("hcalcs")}
    assert all(lowered[eui64].level_percent < level for eui64, level in first.items())
    expect(page.locator("#actions-table .limit-history")).to_have_count(3, timeout=30_000)
    for eui64, level in first.items():
        now = lowered[eui64]
        row = page.locator("#actions-table tr", has=page.locator(f"code:text-is('{eui64}')"))
        expect(row.locator(".action-level")).to_have_text(f"{now.level_percent} %")
        expect(row.locator(".limit-history")).to_have_text(f"({level} % → {now.level_percent} %)")
        label = f"limited {level} % → {now.level_percent} % · {now.expected_kw:.1f} kW withheld"
        expect(labels.filter(has_text=label)).not_to_have_count(0)
    strip = page.evaluate("document.getElementById('event-chart').data.find((t) => t.name === 'limit level')")
    assert sorted(strip["marker"]["color"]) == sorted([*first.values(), *(a.level_percent for a in lowered.values())])
    screenshot(page, "limits-1-event-page-levels")

    # The feeder page lists them as limited, with their level, never as off.
    page.goto(f"{live_stack.web_url}/feeders/{feeder.pk}/")
    chargers = page.locator("#event-chargers li")
    expect(chargers).to_have_count(3)
    for eui64, action in lowered.items():
        item = chargers.filter(has=page.locator(f"code:text-is('{eui64}')"))
        expect(item).to_contain_text(f"limited to {action.level_percent} %")
        expect(item).not_to_contain_text(" off ")
    expect(page.locator("#event-chargers-mix")).to_contain_text("3 limited")
    screenshot(page, "limits-2-feeder-page")

    # Each customer is told their charger was slowed to its level, not paused.
    notices = wait_until(lambda: (rows := list(Notification.objects.filter(event=event))) and len(rows) == 3 and rows)
    for notice in notices:
        assert re.search(r"limited to \d+ % \(about \d+\.\d kW\)", notice.subject)
        assert "paused" not in notice.body.lower() and "paused" not in notice.subject.lower()
    assert page.evaluate("window.__cspViolations") == []
