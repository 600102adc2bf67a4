"""What an operator does, in a real browser against a real server, worker and DCC simulator."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests
from playwright.sync_api import expect

from curtailment.choices import ActionStatus, EventStatus
from curtailment.models import CurtailmentAction, CurtailmentEvent
from feeders.services import monitor_token_issue
from tests.browser.conftest import screenshot
from tests.consent.factories import eligible_charger
from tests.feeders.factories import FeederFactory

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def _live(page) -> None:
    """Wait until the page's WebSocket is open (the body says so)."""
    expect(page.locator("body")).to_have_attribute("data-live", "live")


def _curtailable_feeder(live_stack, chargers: int = 2):
    feeder = FeederFactory(rating_amps=400, automatic_curtailment=False)
    for _ in range(chargers):
        eligible_charger(feeder=feeder)
    live_stack.register_meters()
    return feeder


def test_overview_shows_a_new_reading_without_reload(browser_as, live_stack, viewer):
    feeder = FeederFactory(rating_amps=400, last_load_percent=None)
    token = monitor_token_issue(name="browser-test-headend")
    page = browser_as(viewer)
    page.goto(f"{live_stack.web_url}/")
    _live(page)
    row = page.locator(f'tr[data-feeder-id="{feeder.pk}"]')
    expect(row.locator(".last-reading")).to_have_text("never")
    page.evaluate("window.__notReloaded = true")

    measured = dt.datetime.now(dt.UTC).replace(microsecond=0)
    reply = requests.post(
        f"{live_stack.web_url}/api/v1/telemetry/",
        json={
            "readings": [
                {"feeder": feeder.code, "measured_at": measured.isoformat(), "amps": [300.0, 280.0, 250.0], "kw": 190.0}
            ]
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert reply.status_code == 202, reply.text

    expect(row.locator(".load-value")).to_have_text("75.0")
    expect(row.locator(".last-reading")).to_contain_text(measured.astimezone(dt.UTC).strftime("%M:%S"))
    assert page.evaluate("window.__notReloaded") is True
    screenshot(page, "1-overview-live-reading")


def test_overview_applies_a_head_end_batch_of_sixty_feeders_sent_as_one_list(browser_as, live_stack, viewer):
    """Past 50 feeders a batch reaches feeders.all as one feeder.readings list."""
    feeders = [FeederFactory(code=f"HE{n:03d}", rating_amps=400, last_load_percent=None) for n in range(60)]
    token = monitor_token_issue(name="browser-test-big-headend")
    page = browser_as(viewer)
    page.goto(f"{live_stack.web_url}/")
    _live(page)
    shown = page.locator("tr[data-feeder-id]")
    rows_on_page = shown.count()
    assert rows_on_page >= 50
    page.evaluate("window.__notReloaded = true")

    measured = dt.datetime.now(dt.UTC).replace(microsecond=0)
    reply = requests.post(
        f"{live_stack.web_url}/api/v1/telemetry/",
        json={
            "readings": [
                {"feeder": f.code, "measured_at": measured.isoformat(), "amps": [100.0, 90.0, 80.0], "kw": 62.1}
                for f in feeders
            ]
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert reply.status_code == 202, reply.text

    expect(page.locator('tr[data-feeder-id] .load-value:text-is("25.0")')).to_have_count(rows_on_page)
    assert page.evaluate("window.__notReloaded") is True


def _curtail_in_browser(page, live_stack, feeder, *, kw: str, minutes: str) -> None:
    """Curtail now, as an operator does it: open the form, give a reason, confirm twice."""
    page.goto(f"{live_stack.web_url}/feeders/{feeder.pk}/")
    _live(page)
    page.click("text=Curtail now")
    page.fill("#id_reduction_kw", kw)
    page.fill("#id_duration_minutes", minutes)
    page.fill("#id_reason", "Browser test: fuse running hot")
    page.check("#id_confirm")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#curtail-form button[type=submit]")
    page.wait_for_url(re.compile(r"/curtailment/events/\d+/$"))


def test_operator_curtails_and_the_timeline_shows_actions_confirmed(browser_as, live_stack, operator):
    feeder = _curtailable_feeder(live_stack, chargers=2)
    page = browser_as(operator)
    _curtail_in_browser(page, live_stack, feeder, kw="12", minutes="20")
    event = CurtailmentEvent.objects.get(feeder=feeder)
    assert event.requested_by == operator
    _live(page)
    # The worker sends 7.6 through the simulator; the device confirms; the page follows live.
    expect(page.locator('#actions-table td.action-status[data-status="confirmed"]')).to_have_count(2, timeout=45_000)
    expect(page.locator("#confirmed-count")).to_have_text("2")
    assert CurtailmentAction.objects.filter(event=event, status=ActionStatus.CONFIRMED).count() == 2
    expect(page.locator("#requests-table")).to_contain_text("I0")
    screenshot(page, "2-event-actions-confirmed")


def test_compliance_numbers_move_when_the_event_ends(browser_as, live_stack, operator):
    feeder = _curtailable_feeder(live_stack, chargers=1)
    page = browser_as(operator)
    _curtail_in_browser(page, live_stack, feeder, kw="5", minutes="30")
    event = CurtailmentEvent.objects.get(feeder=feeder)
    page.goto(f"{live_stack.web_url}/curtailment/compliance/")
    _live(page)
    # While live, the action's planned 30 minutes count (invariant 2); a started minute
    # counts whole, so the elapsed seconds and the rest of the plan may round to 31.
    curtailed_now = page.locator('[data-figure="curtailed_now"]')
    used_24h = page.locator("#nearest-table td.used-24h").first
    expect(curtailed_now).to_have_text("1", timeout=30_000)
    expect(used_24h).to_have_text(re.compile(r"^3[01] / 120$"))
    screenshot(page, "3a-compliance-during-event")

    # The operator cancels on the feeder page; the worker sends 7.8 and ends the actions.
    other = page.context.new_page()
    other.goto(f"{live_stack.web_url}/feeders/{feeder.pk}/")
    other.click("text=Cancel the active event")
    other.fill("#id_cancel-reason", "Browser test: load has dropped")
    other.check("#id_cancel-confirm")
    other.once("dialog", lambda dialog: dialog.accept())
    other.click("#cancel-form button[type=submit]")
    other.wait_for_load_state()

    expect(curtailed_now).to_have_text("0", timeout=45_000)
    expect(used_24h).to_have_text(re.compile(r"^[0-9] / 120$"))
    event.refresh_from_db()
    assert event.status in (EventStatus.RELEASING, EventStatus.ENDED)
    screenshot(page, "3b-compliance-after-event")


def test_viewer_sees_no_controls_and_a_forged_post_is_refused(browser_as, live_stack, viewer):
    feeder = _curtailable_feeder(live_stack, chargers=1)
    page = browser_as(viewer)
    page.goto(f"{live_stack.web_url}/feeders/{feeder.pk}/")
    _live(page)
    expect(page.locator("#load-chart .main-svg").first).to_be_visible()
    expect(page.locator("#controls")).to_have_count(0)
    expect(page.locator("form[action$='/curtail/']")).to_have_count(0)

    # The load chart is extended live by a new reading (no reload).
    points = "document.getElementById('load-chart').data[0].x.length"
    before = page.evaluate(points)
    token = monitor_token_issue(name="browser-test-viewer-feed")
    reply = requests.post(
        f"{live_stack.web_url}/api/v1/telemetry/",
        json={
            "readings": [
                {
                    "feeder": feeder.code,
                    "measured_at": dt.datetime.now(dt.UTC).isoformat(),
                    "amps": [120.0, 110.0, 100.0],
                    "kw": 76.0,
                }
            ]
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert reply.status_code == 202, reply.text
    page.wait_for_function(f"{points} === {before + 1}")
    expect(page.locator("#feeder-load")).to_have_text("30.0")
    screenshot(page, "4-viewer-no-controls")

    csrf = page.locator("form.logout input[name=csrfmiddlewaretoken]").get_attribute("value")
    forged = page.request.post(
        f"{live_stack.web_url}/feeders/{feeder.pk}/curtail/",
        form={
            "reduction_kw": "10",
            "duration_minutes": "30",
            "reason": "forged by a viewer",
            "confirm": "on",
            "csrfmiddlewaretoken": csrf,
        },
        headers={"Referer": page.url},
    )
    assert forged.status == 403
    assert not CurtailmentEvent.objects.filter(feeder=feeder).exists()


def test_stale_banner_while_the_server_is_down_and_recovery_without_reload(browser_as, live_stack, viewer):
    from tests.processes import wait_for_http

    FeederFactory()
    page = browser_as(viewer)
    page.goto(f"{live_stack.web_url}/")
    _live(page)
    banner = page.locator("#stale-banner")
    expect(banner).to_be_hidden()
    page.evaluate("window.__notReloaded = true")

    live_stack.web.stop()
    try:
        expect(banner).to_be_visible(timeout=15_000)
        expect(page.locator("body")).to_have_attribute("data-live", "stale")
        screenshot(page, "5-stale-banner")
    finally:
        live_stack.web.start()
        wait_for_http(f"{live_stack.web_url}/healthz/web", live_stack.web.proc, live_stack.web.log)
    # Backoff is capped at 15 s; the socket comes back by itself and the banner goes.
    expect(banner).to_be_hidden(timeout=30_000)
    _live(page)
    assert page.evaluate("window.__notReloaded") is True
