"""Throttling end to end (issue 17) through real processes: PostgreSQL, Redis, the Celery
worker with beat, uvicorn receiving the DCC's callbacks, and the DCC simulator over HTTP,
whose APC devices hold the levels they are sent.

A feeder with a mixed fleet: when throttling the APC chargers covers the need, no charger
is switched off (no 7.6 at all) and the devices hold the commanded levels until the
release lifts them; when it cannot, the fewest HCALCS are switched off for the rest.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from core.models import AuditEntry
from curtailment.choices import ActionKind
from curtailment.models import CurtailmentEvent
from dcc.models import ServiceRequest
from feeders.services import monitor_token_issue
from tests.consent.factories import eligible_charger
from tests.feeders.factories import FeederFactory

from .test_e2e import assert_each_request_processed_once, load_drops, post_readings, recheck_now, wait_until

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def _feeder(live_stack, *, apc_kw: list[float], hcalcs_kw: list[float]):
    feeder = FeederFactory(
        rating_amps=100, at_risk_percent=90, clear_percent=80, high_risk=True, automatic_curtailment=True
    )
    apcs = [eligible_charger(feeder=feeder, controller_type="apc", rated_kw=kw) for kw in apc_kw]
    hcalcs = [eligible_charger(feeder=feeder, rated_kw=kw) for kw in hcalcs_kw]
    live_stack.register_meters()
    return feeder, apcs, hcalcs, monitor_token_issue(name=f"e2e-apc-{feeder.code}")


def _confirmed(event):
    return (rows := list(event.actions.all())) and all(a.status == "confirmed" for a in rows) and rows


def _switch(live_stack, charger) -> dict:
    return live_stack.simulator.device_state(charger.meter.esme_eui64)["switches"][str(charger.switch_index)]


def test_throttling_covers_the_need_and_no_charger_is_switched_off(live_stack):
    feeder, apcs, hcalcs, token = _feeder(live_stack, apc_kw=[11.0] * 4, hcalcs_kw=[7.0, 7.0])

    # 95 % of rating, 65 kW: 65 x 15/95 x 1.1 = 11.3 kW to shed; four 11 kW APCs can give 26.8.
    post_readings(live_stack.web_url, token, feeder, [(timezone.now(), 95.0, 65.0)])
    event = wait_until(lambda: CurtailmentEvent.objects.filter(feeder=feeder).first())
    actions = wait_until(lambda: _confirmed(event))

    assert {a.hcalcs_id for a in actions} == {c.pk for c in apcs}
    assert all(a.kind == ActionKind.LIMIT for a in actions)
    assert sum(a.expected_kw for a in actions) >= event.required_reduction_kw
    assert not ServiceRequest.objects.filter(srv="7.6").exists()  # nobody was switched off
    by_charger = {a.hcalcs_id: a for a in actions}
    for charger in apcs:
        switch = _switch(live_stack, charger)
        level = by_charger[charger.pk].level_percent
        assert (switch["state"], switch["level"]) == ("limited", level)
        assert switch["charger_kw"] == pytest.approx(11.0 * level / 100, abs=0.01)  # the load follows
        assert switch["charger_kw"] >= 4.2  # the guaranteed minimum
    for charger in hcalcs:
        assert _switch(live_stack, charger)["state"] == "on"

    load_drops(live_stack.web_url, token, feeder)
    wait_until(lambda: CurtailmentEvent.objects.get(pk=event.pk).status == "ended", every=recheck_now)
    for action in event.actions.all():
        assert (action.status, action.end_reason) == ("ended", "released")
        assert action.lift_request.state == "responded"
        assert action.confirmed_at < action.ended_at <= action.expected_end_at
    for charger in apcs:
        assert (_switch(live_stack, charger)["state"], _switch(live_stack, charger)["level"]) == ("on", 100)
    assert not ServiceRequest.objects.filter(srv__in=["7.6", "7.8"]).exists()
    assert_each_request_processed_once(live_stack)


def test_what_throttling_cannot_cover_is_met_by_switching_off_the_fewest_hcalcs(live_stack):
    feeder, apcs, hcalcs, token = _feeder(live_stack, apc_kw=[11.0], hcalcs_kw=[3.0, 3.0, 3.0, 3.0, 7.0, 7.0])
    big = {c.pk for c in hcalcs if c.rated_kw == 7.0}

    # 130 kW at 95 %: 22.6 kW to shed. The APC gives at most 11 - 4.29 = 6.71 kW; the 15.9 kW
    # left takes three switch-offs at least (7 + 7 + 3), not the four or five 3 kW ones.
    post_readings(live_stack.web_url, token, feeder, [(timezone.now(), 95.0, 130.0)])
    event = wait_until(lambda: CurtailmentEvent.objects.filter(feeder=feeder).first())
    actions = wait_until(lambda: _confirmed(event))

    limits = [a for a in actions if a.kind == ActionKind.LIMIT]
    off = [a for a in actions if a.kind == ActionKind.SWITCH_OFF]
    assert [a.hcalcs_id for a in limits] == [apcs[0].pk]
    assert len(off) == 3 and big <= {a.hcalcs_id for a in off}
    assert sum(a.expected_kw for a in actions) >= event.required_reduction_kw
    [apc] = apcs
    switch = _switch(live_stack, apc)
    assert (switch["state"], switch["level"]) == ("limited", limits[0].level_percent)
    # The switch-offs cover 17 kW: what they give beyond 15.9 kW goes back to the APC, held
    # above its guaranteed minimum only as far as the need allows.
    assert switch["charger_kw"] == pytest.approx(11.0 * limits[0].level_percent / 100, abs=0.01)
    assert switch["charger_kw"] >= 4.2 and 11.0 - switch["charger_kw"] >= event.required_reduction_kw - 17.0
    for action in off:
        assert {sr.srv for sr in action.service_requests.all()} >= {"7.6"}
        assert not action.service_requests.filter(srv="7.16").exists()
        assert _switch(live_stack, action.hcalcs)["state"] == "off"
    start = AuditEntry.objects.get(action="event.start", target_id=str(event.pk))
    assert sorted(start.inputs["allocation"]["switched_off"]) == sorted(a.hcalcs_id for a in off)
    assert_each_request_processed_once(live_stack)


def test_as_the_load_falls_the_devices_limits_rise_then_lift(live_stack):
    """The closed loop through the real processes: the need follows the metered load down,
    each device is raised with a new 7.16, then lifted with a 7.16 at 100 %."""
    feeder, apcs, _hcalcs, token = _feeder(live_stack, apc_kw=[11.0] * 4, hcalcs_kw=[])
    post_readings(live_stack.web_url, token, feeder, [(timezone.now(), 95.0, 65.0)])
    event = wait_until(lambda: CurtailmentEvent.objects.filter(feeder=feeder).first())
    actions = wait_until(lambda: _confirmed(event))
    first = {a.hcalcs_id: a.level_percent for a in actions}
    assert all(level < 100 for level in first.values())

    # 75 % metered with ~11.3 kW withheld: ~91 % without the event, which needs ~8.7 kW.
    post_readings(live_stack.web_url, token, feeder, [(timezone.now(), 75.0, 51.3)])

    def raised_on_the_devices():
        levels = {c.pk: _switch(live_stack, c)["level"] for c in apcs}
        return all(levels[pk] > first[pk] for pk in first) and levels

    levels = wait_until(raised_on_the_devices, every=recheck_now)
    event.refresh_from_db()
    assert event.required_reduction_kw < 10
    for action in event.actions.all():
        assert (action.status, action.level_percent) == ("confirmed", levels[action.hcalcs_id])
        assert _switch(live_stack, action.hcalcs)["charger_kw"] == pytest.approx(11.0 * action.level_percent / 100)
    assert AuditEntry.objects.filter(action="event.need_follow", target_id=str(event.pk)).exists()

    # Below the clear level even without the event: every limit is lifted.
    post_readings(live_stack.web_url, token, feeder, [(timezone.now(), 50.0, 34.0)])
    wait_until(lambda: all(_switch(live_stack, c)["level"] == 100 for c in apcs), every=recheck_now)
    ended = wait_until(
        lambda: (rows := list(event.actions.all())) and all(a.status == "ended" for a in rows) and rows,
        every=recheck_now,
    )
    assert {(a.end_reason, a.lift_request.state) for a in ended} == {("released", "responded")}
    assert not ServiceRequest.objects.filter(srv__in=["7.6", "7.8"]).exists()
    assert_each_request_processed_once(live_stack)
