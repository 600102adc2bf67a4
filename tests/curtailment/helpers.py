"""Builders and ledger checks shared by the engine's service and property tests."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from curtailment.choices import ActionStatus
from curtailment.models import CurtailmentAction
from curtailment.services import action_confirmed
from feeders.models import FeederAlert, FeederReading
from tests.consent.factories import eligible_charger
from tests.feeders.factories import FeederFactory


def reading(feeder, *, percent: float, at: dt.datetime) -> FeederReading:
    """A reading with every phase at ``percent`` of the rating and the kW that goes with it."""
    amps = feeder.rating_amps * percent / 100.0
    return FeederReading.objects.create(
        feeder=feeder,
        measured_at=at,
        received_at=at,
        amps_l1=amps,
        amps_l2=amps,
        amps_l3=amps,
        kw=feeder.rating_kw * percent / 100.0,
    )


def automatic_feeder(*, chargers: int, **fields):
    """A 100 A high-risk feeder with automatic curtailment on (at risk 90 %, clear 80 %)."""
    settings = {"rating_amps": 100, "at_risk_percent": 90, "clear_percent": 80, "high_risk": True}
    feeder = FeederFactory(**{**settings, "automatic_curtailment": True, **fields})
    made = [eligible_charger(feeder=feeder) for _ in range(chargers)]
    return feeder, made


def alert_on(feeder, *, percent: float, at: dt.datetime | None = None) -> FeederAlert:
    return FeederAlert.objects.create(
        feeder=feeder, kind="threshold", raised_at=at or timezone.now(), measured_at=at, load_percent=percent
    )


def devices_confirm(event, *, delay: dt.timedelta = dt.timedelta(seconds=5)) -> list[int]:
    """What the devices do with the event's new commands: confirm each ``delay`` after its
    dispatch, through the engine's own service (so a follow-on ends what it extends)."""
    confirmed = []
    for action in event.actions.filter(status__in=[ActionStatus.PLANNED, ActionStatus.BOOST_SETUP]).order_by("pk"):
        CurtailmentAction.objects.filter(pk=action.pk).update(status=ActionStatus.SENT)
        if action_confirmed(action_id=action.pk, at=action.started_at + delay):
            confirmed.append(action.pk)
    return confirmed


def covered_kw(actions, moment: dt.datetime) -> float:
    """kW the devices had switched off at ``moment``: confirmed actions, confirmation to end."""
    return sum(
        a.expected_kw
        for a in actions
        if a.confirmed_at is not None and a.confirmed_at <= moment < (a.ended_at or a.expected_end_at)
    )


def minutes_uncovered(actions, *, start: dt.datetime, end: dt.datetime, need_kw: float) -> list[dt.datetime]:
    """Each whole minute from ``start`` to ``end`` at which less than ``need_kw`` was off."""
    gaps = []
    moment = start
    while moment < end:
        if covered_kw(actions, moment) < need_kw - 1e-6:
            gaps.append(moment)
        moment += dt.timedelta(minutes=1)
    return gaps
