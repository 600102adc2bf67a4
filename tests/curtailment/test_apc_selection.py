"""Selection with APC chargers (issue 17): throttle first, switch off only the rest, under
the same eligibility and usage rules as an HCALCS; the closed loop lowers limits before it
adds chargers. Through the engine's services and the database; no DCC here (the tests in
tests/dcc/test_apc_engine.py send the commands)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from consent.choices import ConsentStatus
from consent.models import Consent
from core.models import AuditEntry
from curtailment.allocation import GUARANTEED_MIN_KW
from curtailment.choices import ActionKind, ActionStatus
from curtailment.models import CurtailmentAction
from curtailment.services import curtailment_event_start, event_top_up
from tests.consent.factories import eligible_charger
from tests.curtailment import factories
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db


def _apc(feeder, kw: float = 11.0):
    return eligible_charger(feeder=feeder, controller_type="apc", rated_kw=kw)


def _past_minutes(charger, feeder, minutes: int) -> None:
    """``minutes`` already counted on the charger's ledger, ending an hour ago."""
    start = timezone.now() - dt.timedelta(minutes=minutes + 60)
    end = start + dt.timedelta(minutes=minutes)
    event = factories.open_event(
        feeder=feeder, reduction_kw=5, status="ended", started_at=start, planned_end_at=end, ended_at=end
    )
    factories.action(
        event=event,
        hcalcs=charger,
        kind=ActionKind.LIMIT,
        level_percent=50,
        minutes=minutes,
        expected_kw=3,
        status="ended",
        started_at=start,
        ended_at=end,
    )


def test_throttling_covers_the_need_and_no_hcalcs_is_switched_off(operator):
    feeder = FeederFactory()
    apcs = [_apc(feeder) for _ in range(4)]
    hcalcs = [eligible_charger(feeder=feeder, rated_kw=7.0) for _ in range(2)]

    event = curtailment_event_start(
        feeder=feeder, reduction_kw=10, duration_minutes=30, reason="t", requested_by=operator
    )

    actions = list(event.actions.all())
    assert {a.hcalcs_id for a in actions} == {c.pk for c in apcs}  # every APC a little, no HCALCS
    assert not {a.hcalcs_id for a in actions} & {c.pk for c in hcalcs}
    assert all(a.kind == ActionKind.LIMIT for a in actions)
    levels = {a.level_percent for a in actions}
    assert len(levels) == 1  # water-filling: one common level
    [level] = levels
    assert 11.0 * level / 100 >= GUARANTEED_MIN_KW  # never below the guaranteed minimum
    assert sum(a.expected_kw for a in actions) >= 10  # the withheld kW meet the need
    assert all(a.demand_kw == 11.0 for a in actions)
    entry = AuditEntry.objects.get(action="event.start", target_id=str(event.pk))
    assert entry.inputs["allocation"]["switched_off"] == []
    assert {row["charger_id"] for row in entry.inputs["allocation"]["limits"]} == {c.pk for c in apcs}


def test_only_what_throttling_cannot_cover_is_switched_off_by_the_fewest_hcalcs(operator):
    feeder = FeederFactory()
    apcs = [_apc(feeder) for _ in range(2)]  # each can give 11 - 4.29 = 6.71 kW at most
    small = [eligible_charger(feeder=feeder, rated_kw=3.0) for _ in range(3)]
    big = eligible_charger(feeder=feeder, rated_kw=7.0)

    event = curtailment_event_start(
        feeder=feeder, reduction_kw=18, duration_minutes=30, reason="t", requested_by=operator
    )

    limits = list(event.actions.filter(kind=ActionKind.LIMIT))
    off = list(event.actions.filter(kind=ActionKind.SWITCH_OFF))
    assert {a.hcalcs_id for a in limits} == {c.pk for c in apcs}
    # 13.42 kW from throttling; the 4.58 kW left is met by one 7 kW switch-off, not two 3 kW
    assert [a.hcalcs_id for a in off] == [big.pk]
    assert all(a.level_percent is None for a in off)
    assert sum(a.expected_kw for a in event.actions.all()) >= 18
    assert not {a.hcalcs_id for a in event.actions.all()} & {c.pk for c in small}


def test_an_apc_without_consent_or_allowance_is_not_limited(operator):
    feeder = FeederFactory()
    declined = _apc(feeder)
    Consent.objects.filter(tenancy__premise=declined.meter.premise).update(status=ConsentStatus.DECLINED)
    spent = _apc(feeder)
    _past_minutes(spent, feeder, 115)  # 5 min left in 24 h: below the useful minimum
    fresh = _apc(feeder)

    event = curtailment_event_start(
        feeder=feeder, reduction_kw=3, duration_minutes=30, reason="t", requested_by=operator
    )

    assert [a.hcalcs_id for a in event.actions.all()] == [fresh.pk]
    reasons = {
        row["hcalcs_id"]: row["reason"]
        for row in AuditEntry.objects.get(action="event.start", target_id=str(event.pk)).inputs["candidates"]
    }
    assert "allowance 5 min" in reasons[spent.pk]
    ineligible = AuditEntry.objects.get(action="event.start", target_id=str(event.pk)).inputs["ineligible"]
    assert declined.pk in {row["hcalcs_id"] for row in ineligible}


def test_a_limited_minute_counts_on_the_ledger_like_a_switched_off_one(operator):
    feeder = FeederFactory()
    charger = _apc(feeder)
    _past_minutes(charger, feeder, 100)

    event = curtailment_event_start(
        feeder=feeder, reduction_kw=3, duration_minutes=60, reason="t", requested_by=operator
    )

    [action] = event.actions.all()
    assert action.planned_minutes == 20  # 120 - 100 limited minutes already counted


def test_when_more_is_needed_the_limits_in_force_are_lowered_before_chargers_are_added(operator):
    feeder = FeederFactory()
    apcs = [_apc(feeder) for _ in range(3)]
    spare = eligible_charger(feeder=feeder, rated_kw=7.0)
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=6, duration_minutes=60, reason="t", requested_by=operator
    )
    before = {a.pk: a.level_percent for a in event.actions.all()}
    CurtailmentAction.objects.filter(event=event).update(status=ActionStatus.CONFIRMED, confirmed_at=timezone.now())

    added = event_top_up(event_id=event.pk, reason="feeder still above its at-risk level", extra_kw=6)

    assert added == []  # throttling deeper covers 12 kW: no charger added, the HCALCS untouched
    after = {a.pk: a for a in event.actions.all()}
    assert set(after) == set(before)
    assert all(after[pk].level_percent < before[pk] for pk in before)
    assert sum(a.expected_kw for a in after.values()) >= 12
    assert not event.actions.filter(hcalcs=spare).exists()
    lowered = AuditEntry.objects.filter(action="action.limit_lower", target_type="curtailment.curtailmentaction")
    assert {int(e.target_id) for e in lowered} == set(before)
    assert {c.pk for c in apcs} == {a.hcalcs_id for a in after.values()}


def test_the_event_page_shows_each_chargers_level_and_the_mix_withheld(operator, viewer_client):
    feeder = FeederFactory()
    apcs = [_apc(feeder) for _ in range(2)]
    hcalcs = eligible_charger(feeder=feeder, rated_kw=7.0)
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=20, duration_minutes=30, reason="t", requested_by=operator
    )
    CurtailmentAction.objects.filter(event=event).update(status=ActionStatus.CONFIRMED, confirmed_at=timezone.now())
    limits = list(event.actions.filter(kind=ActionKind.LIMIT))
    [off] = event.actions.filter(kind=ActionKind.SWITCH_OFF)
    assert off.hcalcs_id == hcalcs.pk and {a.hcalcs_id for a in limits} == {c.pk for c in apcs}

    page = viewer_client.get(reverse("curtailment:event_detail", args=[event.pk])).content.decode()

    for action in limits:
        assert f'Limited to <strong class="action-level">{action.level_percent} %</strong>' in page
    assert "Switched off</td>" in page
    assert 'id="throttled-count">2<' in page and 'id="switched-off-count">1<' in page
    withheld = sum(a.expected_kw for a in event.actions.all())
    assert f'id="withheld-kw">{withheld:.1f} kW<' in page


def test_a_limit_past_its_end_date_time_is_released_without_a_command(operator):
    from curtailment.services import action_release
    from dcc.models import ServiceRequest

    feeder = FeederFactory()
    _apc(feeder)
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=3, duration_minutes=30, reason="t", requested_by=operator
    )
    [action] = event.actions.all()
    ended = timezone.now() - dt.timedelta(seconds=5)
    CurtailmentAction.objects.filter(pk=action.pk).update(
        started_at=ended - dt.timedelta(minutes=21),
        status=ActionStatus.RELEASING,
        end_reason="cancelled",
        confirmed_at=ended - dt.timedelta(minutes=20),
        expected_end_at=ended,
    )
    ServiceRequest.objects.create(
        request_id="90-B3-D5-1F-30-02-00-00:00-11-00-00-00-00-00-01:7",
        srv="7.16",
        command_variant=5,
        originator_eui64="90-B3-D5-1F-30-02-00-00",
        target_eui64="00-11-00-00-00-00-00-01",
        counter=7,
        request_document="<x/>",
        action=action,
        state="responded",
    )

    assert action_release(action_id=action.pk) == "ended by its EndDateTime"

    action.refresh_from_db()
    assert (action.status, action.ended_at, action.lift_request_id) == (ActionStatus.ENDED, ended, None)
    assert ServiceRequest.objects.filter(action=action).count() == 1  # no lift was sent
