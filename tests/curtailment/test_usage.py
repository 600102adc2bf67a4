"""Usage-limit arithmetic (NF11/NF12): SQL and Python twin agree, windows are real hours."""

import datetime as dt

import pytest

from curtailment.usage import (
    WINDOW_24H,
    Interval,
    action_interval,
    hcalcs_allowance,
    hcalcs_minutes_used,
    intervals_allowance,
    intervals_minutes_used,
)
from tests.consent.factories import eligible_charger
from tests.curtailment.factories import action, open_event
from tests.feeders.factories import FeederFactory

UTC = dt.UTC


def _action(*, event, hcalcs, start, minutes, ended_after=None):
    # The device confirmed at once (the factory's default): its minutes count.
    return action(
        event=event,
        hcalcs=hcalcs,
        minutes=minutes,
        expected_kw=7,
        started_at=start,
        ended_at=start + dt.timedelta(minutes=ended_after) if ended_after is not None else None,
        status="ended" if ended_after is not None else "confirmed",
    )


def _event(feeder, start, status="ended"):
    return open_event(
        feeder=feeder, reduction_kw=10, started_at=start, planned_end_at=start + dt.timedelta(hours=2), status=status
    )


@pytest.mark.django_db
def test_minutes_used_counts_overlap_with_window_and_ended_at_over_planned():
    feeder = FeederFactory()
    charger = eligible_charger(feeder=feeder)
    t0 = dt.datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    # 60 planned, ended after 30 (boost): 30 count.
    _action(event=_event(feeder, t0), hcalcs=charger, start=t0, minutes=60, ended_after=30)
    # 90 planned, still live, straddles the window end: only the part inside counts.
    later = t0 + dt.timedelta(hours=23)
    _action(event=_event(feeder, later), hcalcs=charger, start=later, minutes=90)
    window_end = t0 + dt.timedelta(hours=24)
    used = hcalcs_minutes_used(hcalcs_ids=[charger.pk], window_end=window_end, window=WINDOW_24H)
    assert used == {charger.pk: 30 + 60}


@pytest.mark.django_db
def test_allowance_on_clock_change_day_uses_real_hours():
    """29 March 2026 is a 23-hour day in London: 24 real hours back from 01:00 BST on
    30 March reach 00:00 GMT on 29 March, not midnight local time."""
    feeder = FeederFactory()
    charger = eligible_charger(feeder=feeder)
    at = dt.datetime(2026, 3, 30, 0, 0, tzinfo=UTC)  # 01:00 BST
    inside = dt.datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 00:30 GMT, 23.5 real hours earlier
    outside = dt.datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # 25 real hours earlier
    _action(event=_event(feeder, inside), hcalcs=charger, start=inside, minutes=40, ended_after=40)
    _action(event=_event(feeder, outside), hcalcs=charger, start=outside, minutes=50, ended_after=50)
    allowance = hcalcs_allowance(hcalcs_ids=[charger.pk], at=at)[charger.pk]
    assert (allowance.used_24h, allowance.used_30d, allowance.minutes) == (40, 90, 80)
    twin = intervals_allowance(
        intervals=[
            Interval(charger.pk, inside, inside + dt.timedelta(minutes=40)),
            Interval(charger.pk, outside, outside + dt.timedelta(minutes=50)),
        ],
        hcalcs_id=charger.pk,
        at=at,
    )
    assert twin == allowance


@pytest.mark.django_db
def test_allowance_counts_live_minutes_planned_after_now():
    feeder = FeederFactory()
    charger, other = eligible_charger(feeder=feeder), eligible_charger(feeder=feeder)
    at = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    start = at - dt.timedelta(minutes=20)
    _action(event=_event(feeder, start, status="active"), hcalcs=charger, start=start, minutes=100)
    allowance = hcalcs_allowance(hcalcs_ids=[charger.pk, other.pk], at=at)
    assert allowance[charger.pk].minutes == 20
    assert allowance[other.pk].minutes == 120
    assert (
        intervals_minutes_used(
            intervals=[Interval(charger.pk, start, start + dt.timedelta(minutes=100))],
            hcalcs_id=charger.pk,
            window_end=at,
            window=WINDOW_24H,
        )
        == 20
    )


@pytest.mark.django_db
def test_what_counts_is_what_the_device_did_from_confirmation_to_end():
    feeder = FeederFactory()
    charger = eligible_charger(feeder=feeder)
    t0 = dt.datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
    event = _event(feeder, t0)
    confirmed_late = _action(event=event, hcalcs=charger, start=t0, minutes=30, ended_after=30)
    confirmed_late.confirmed_at = t0 + dt.timedelta(minutes=10)  # the device acted ten minutes in
    confirmed_late.save()
    never = _action(
        event=_event(feeder, t0 + dt.timedelta(hours=1)),
        hcalcs=charger,
        start=t0 + dt.timedelta(hours=1),
        minutes=60,
        ended_after=60,
    )
    never.confirmed_at = None  # the device never confirmed: it switched nothing off
    never.end_reason = "unconfirmed"
    never.save()
    live = _action(
        event=_event(feeder, t0 + dt.timedelta(hours=3), status="active"),
        hcalcs=charger,
        start=t0 + dt.timedelta(hours=3),
        minutes=40,
    )
    live.confirmed_at = None  # dispatched, not yet confirmed: its planned minutes are reserved
    live.save()
    window_end = t0 + dt.timedelta(hours=4)
    used = hcalcs_minutes_used(hcalcs_ids=[charger.pk], window_end=window_end, window=WINDOW_24H)[charger.pk]
    assert used == 20 + 0 + 40
    intervals = [i for a in (confirmed_late, never, live) if (i := action_interval(a)) is not None]
    assert (
        intervals_minutes_used(intervals=intervals, hcalcs_id=charger.pk, window_end=window_end, window=WINDOW_24H)
        == used
    )
