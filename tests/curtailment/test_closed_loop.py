"""The closed loop of an event holding APC limits (issue 17): as the load falls the need
follows it down and the limits rise, then lift; the early release waits while only the
limits keep the load below the clear level; an event of switched-off chargers keeps its need."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core.models import AuditEntry
from curtailment.choices import ActionEndReason, ActionKind, ActionStatus, EventStatus, EventTrigger
from curtailment.models import CurtailmentAction, CurtailmentEvent
from curtailment.services import curtailment_event_start, event_recheck
from curtailment.services.closed_loop import load_without_event
from tests.consent.factories import eligible_charger

from .helpers import automatic_feeder, reading
from .test_budget import _sent

pytestmark = pytest.mark.django_db


def _limited_event(operator, *, now, trigger=EventTrigger.MANUAL):
    """Three 11 kW APCs limited for 12 kW on a 100 A feeder (69 kW at 100 %; at risk 90 %,
    clear 80 %), every limit confirmed three minutes ago."""
    feeder, _ = automatic_feeder(chargers=0)
    for _ in range(3):
        eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0)
    event = curtailment_event_start(
        feeder=feeder,
        reduction_kw=12,
        duration_minutes=60,
        reason="t",
        requested_by=operator,
        trigger=trigger,
        at=now - dt.timedelta(minutes=4),
    )
    event.actions.update(status=ActionStatus.CONFIRMED, confirmed_at=now - dt.timedelta(minutes=3))
    assert {a.kind for a in event.actions.all()} == {ActionKind.LIMIT}
    return feeder, event


def _levels(event) -> dict[int, int]:
    return dict(event.actions.values_list("pk", "level_percent"))


def test_as_the_load_falls_the_limits_rise_then_lift(operator):
    now = timezone.now()
    feeder, event = _limited_event(operator, now=now)
    before = _levels(event)
    held = sum(event.actions.values_list("expected_kw", flat=True))
    assert held >= 12

    # 70 % metered with ~12 kW withheld: without the event ~88 %, which needs ~6 kW, not 12.
    reading(feeder, percent=70, at=now - dt.timedelta(minutes=1))
    without = load_without_event(event=event, now=now)
    assert without.kw == pytest.approx(feeder.rating_kw * 0.7 + held)
    event_recheck(event_id=event.pk, now=now)

    event.refresh_from_db()
    assert 5 < event.required_reduction_kw < 7
    follow = AuditEntry.objects.get(action="event.need_follow", target_id=str(event.pk))
    assert follow.inputs["required_kw_before"] == 12
    raised = _levels(event)
    assert all(raised[pk] > before[pk] for pk in before)  # every limit rose, none lifted yet
    assert set(event.actions.values_list("status", flat=True)) == {ActionStatus.CONFIRMED}
    assert sum(event.actions.values_list("expected_kw", flat=True)) >= event.required_reduction_kw
    assert AuditEntry.objects.filter(action="action.limit_raise").count() == 3

    # The load falls below the clear level even without the event: the limits lift.
    later = now + dt.timedelta(minutes=2)
    reading(feeder, percent=55, at=later - dt.timedelta(seconds=30))
    event_recheck(event_id=event.pk, now=later)

    event.refresh_from_db()
    assert event.required_reduction_kw == 0
    for action in event.actions.all():
        assert (action.status, action.end_reason) == (ActionStatus.RELEASING, ActionEndReason.RELEASED)
    assert AuditEntry.objects.filter(action="action.limit_lift").count() == 3


def test_the_need_does_not_move_on_a_reading_taken_before_the_devices_answered(operator):
    now = timezone.now()
    feeder, event = _limited_event(operator, now=now)
    reading(feeder, percent=60, at=now - dt.timedelta(minutes=3, seconds=30))  # before the confirmations

    event_recheck(event_id=event.pk, now=now)

    event.refresh_from_db()
    assert event.required_reduction_kw == 12
    assert not AuditEntry.objects.filter(action="event.need_follow").exists()


def test_a_small_change_of_need_sends_nothing(operator):
    now = timezone.now()
    feeder, event = _limited_event(operator, now=now)
    before = _levels(event)
    held = sum(event.actions.values_list("expected_kw", flat=True))
    # Without the event the feeder carries metered + held kW and needs (that - 80 %) x 1.1:
    # a metered load that makes this 12.5 kW is within the deadband of 12.
    percent = 100 * (12.5 / 1.1 + 0.8 * feeder.rating_kw - held) / feeder.rating_kw
    reading(feeder, percent=percent, at=now - dt.timedelta(minutes=1))

    event_recheck(event_id=event.pk, now=now)

    event.refresh_from_db()
    assert event.required_reduction_kw == 12
    assert _levels(event) == before


def test_the_early_release_waits_while_only_the_limits_keep_the_load_below_clear(operator):
    now = timezone.now()
    feeder, event = _limited_event(operator, now=now, trigger=EventTrigger.AUTOMATIC)
    # Below clear (75 %) for the whole hold, but ~93 % without the 12 kW the limits withhold.
    for minutes in range(7, 0, -1):
        reading(feeder, percent=75, at=now - dt.timedelta(minutes=minutes, seconds=-30))

    event_recheck(event_id=event.pk, now=now)

    event.refresh_from_db()
    assert event.status == EventStatus.ACTIVE
    assert AuditEntry.objects.filter(action="event.release_deferred", target_id=str(event.pk)).count() == 1

    # Now the load has really fallen: below clear even without the limits, so it releases.
    later = now + dt.timedelta(minutes=7)
    for minutes in range(7, 0, -1):
        reading(feeder, percent=50, at=later - dt.timedelta(minutes=minutes, seconds=-30))
    event_recheck(event_id=event.pk, now=later)

    event.refresh_from_db()
    assert event.status in (EventStatus.RELEASING, EventStatus.ENDED)
    assert event.end_reason == "early_release"


def test_an_event_of_switched_off_chargers_keeps_its_need(operator):
    now = timezone.now()
    feeder, _ = automatic_feeder(chargers=3)
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=12, duration_minutes=60, reason="t", requested_by=operator, at=now
    )
    CurtailmentAction.objects.filter(event=event).update(
        status=ActionStatus.CONFIRMED, confirmed_at=now + dt.timedelta(seconds=5)
    )
    assert set(event.actions.values_list("kind", flat=True)) == {ActionKind.SWITCH_OFF}
    reading(feeder, percent=60, at=now + dt.timedelta(minutes=1))

    event_recheck(event_id=event.pk, now=now + dt.timedelta(minutes=2))

    assert CurtailmentEvent.objects.get(pk=event.pk).required_reduction_kw == 12
    assert not AuditEntry.objects.filter(action="event.need_follow").exists()


def test_a_raise_waits_for_the_dcc_command_budget_but_a_lift_does_not(operator, settings):
    settings.DNOCTL = {**settings.DNOCTL, "DCC_BUDGET": {"7.16": {"hour": 5, "day": 100}}}
    now = timezone.now()
    feeder, event = _limited_event(operator, now=now)
    before = _levels(event)
    _sent("7.16", ago=dt.timedelta(minutes=5), count=5)  # the hour's 7.16s are spent

    reading(feeder, percent=70, at=now - dt.timedelta(minutes=1))
    event_recheck(event_id=event.pk, now=now)

    assert _levels(event) == before  # the need fell, but no raise was sent
    assert AuditEntry.objects.filter(action="action.limit_raise_deferred").count() == 3
    assert not AuditEntry.objects.filter(action="action.limit_raise").exists()

    later = now + dt.timedelta(minutes=2)
    reading(feeder, percent=50, at=later - dt.timedelta(seconds=30))
    event_recheck(event_id=event.pk, now=later)

    assert set(event.actions.values_list("status", flat=True)) == {ActionStatus.RELEASING}
    assert AuditEntry.objects.filter(action="action.limit_lift").count() == 3
