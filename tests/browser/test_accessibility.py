"""Accessibility of the control-room pages, judged by axe-core (Deque's engine, installed
from npm into tests/judges by ``make test``) in Debian's chromium: the overview, the alarm
list, a feeder page, an event page (with a limited and a switched-off charger, also listed
on its feeder's page), the compliance page and the Ofgem report, with alarms, an event and
a clock on them, at a wall display's 1920 px and a laptop's 800 px, have no serious or
critical violation and do not scroll sideways."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from core.models import AuditEntry
from curtailment.choices import ActionKind, ClockState, EscalationStage
from curtailment.models import CurtailmentEvent, FailureClock
from feeders.models import FeederAlert, FeederReading
from tests.browser_support import PASSWORD, ROOT, screenshot
from tests.consent.factories import eligible_charger
from tests.curtailment.factories import action, open_event
from tests.feeders.factories import FeederFactory

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

AXE = ROOT / "tests" / "judges" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = {"serious", "critical"}


def _bad_evening(operator) -> tuple[int, int]:
    """A dozen alarms (some acknowledged, one with an event and an escalation alarm) and a
    feeder with an hour of readings; returns that feeder's id and the event's."""
    now = timezone.now()
    event = None
    for n in range(12):
        feeder = FeederFactory(code=f"AX{n:02d}", automatic_curtailment=False)
        acknowledged = n % 3 == 0
        alert = FeederAlert.objects.create(
            feeder=feeder,
            kind="threshold",
            raised_at=now - dt.timedelta(minutes=n),
            load_percent=93.0,
            acknowledged_at=now if acknowledged else None,
            acknowledged_by=operator if acknowledged else None,
        )
        if n == 1:
            event = open_event(feeder=feeder, alert=alert)
            _chargers_held(event)
            FailureClock.objects.create(
                feeder=feeder,
                event=event,
                alert=alert,
                computed_at=now,
                state=ClockState.RISING,
                minutes_to_rating=3.0,
                minutes_to_failure=8.0,
                stage=EscalationStage.OPERATOR,
                stage_started_at=now,
                alarm="Relief on AX01 not confirmed in time",
            )
    FeederReading.objects.bulk_create(
        FeederReading(
            feeder=feeder,
            measured_at=now - dt.timedelta(minutes=m),
            received_at=now,
            amps_l1=300.0,
            amps_l2=290.0,
            amps_l3=280.0,
            kw=200.0,
        )
        for m in range(60)
    )
    return feeder.pk, event.pk


def _chargers_held(event) -> None:
    """A limited APC whose level the closed loop lowered, and a switched-off HCALCS: the
    event page's level strip and labels, the feeder page's charger list."""
    apc = eligible_charger(feeder=event.feeder, controller_type="apc", rated_kw=11.0)
    limit = action(event=event, hcalcs=apc, kind=ActionKind.LIMIT, level_percent=48, demand_kw=11.0, expected_kw=5.72)
    AuditEntry.objects.create(
        at=limit.started_at + dt.timedelta(minutes=2),
        actor="rule:auto-curtail",
        action="action.limit_lower",
        target_type="curtailment.curtailmentaction",
        target_id=str(limit.pk),
        reason="lower from 62 % to 48 %",
        inputs={"event_id": event.pk, "level": 48, "previous_level": 62, "reduction_kw": 5.72},
    )
    action(event=event, hcalcs=eligible_charger(feeder=event.feeder))


@pytest.mark.skipif(not AXE.exists(), reason=f"axe-core is not installed ({AXE}): run `make judges`")
@pytest.mark.parametrize("width", [1920, 800])
def test_the_control_room_pages_have_no_serious_accessibility_violation(
    chromium, live_stack_without_beat, operator, width
):
    stack = live_stack_without_beat
    feeder_id, event_id = _bad_evening(operator)
    axe_source = Path(AXE).read_text()
    context = chromium.new_context(viewport={"width": width, "height": 1000}, locale="en-GB")
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{stack.web_url}/accounts/login/")
        page.fill("#id_username", operator.username)
        page.fill("#id_password", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_selector("form.logout")

        found = {}
        pages = {
            "overview": "/",
            "alarms": "/alarms/",
            "feeder": f"/feeders/{feeder_id}/",
            "event": f"/curtailment/events/{event_id}/",
            "feeder with its event's chargers": f"/feeders/{CurtailmentEvent.objects.get(pk=event_id).feeder_id}/",
            "compliance": "/curtailment/compliance/",
            "reports": "/reports/",
        }
        for name, path in pages.items():
            page.goto(f"{stack.web_url}{path}")
            if name in ("compliance", "reports"):
                page.wait_for_load_state("networkidle")  # no live socket: their charts load once
            else:
                page.wait_for_selector('body[data-live="live"]')
            page.evaluate(axe_source)  # through the DevTools protocol: the page's CSP is untouched
            result = page.evaluate("axe.run(document, { resultTypes: ['violations'] })")
            serious = [
                f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
                for v in result["violations"]
                if v["impact"] in SERIOUS
            ]
            sideways = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if serious or sideways > 0:
                screenshot(page, f"a11y-{width}-{name}")
                found[name] = {"violations": serious, "scrolls_sideways_px": sideways}
        assert found == {}
    finally:
        context.close()
