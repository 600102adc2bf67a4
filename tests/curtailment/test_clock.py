"""The time-to-failure clock's model (``curtailment.clock``): pure functions, no database."""

import datetime as dt

import pytest

from curtailment.choices import ClockState
from curtailment.clock import failure_clock, stage_wait_seconds

NOW = dt.datetime(2026, 6, 1, 17, 30, tzinfo=dt.UTC)


def _clock(load, slope, *, age_s=0, stale=False, over_since=None, margin=5.0):
    return failure_clock(
        load_percent=load,
        reading_at=NOW - dt.timedelta(seconds=age_s),
        stale=stale,
        slope_percent_per_minute=slope,
        over_rating_since=over_since,
        now=NOW,
        fuse_margin_minutes=margin,
    )


def test_a_rising_load_reaches_its_rating_along_the_trend_and_the_fuse_a_margin_later():
    clock = _clock(92.0, 2.0)
    assert clock.state == ClockState.RISING
    assert clock.minutes_to_rating == pytest.approx(4.0)
    assert clock.minutes_to_failure == pytest.approx(9.0)
    assert clock.minutes_left == pytest.approx(4.0)


def test_the_age_of_the_reading_is_taken_off_the_time_left():
    assert _clock(92.0, 2.0, age_s=60).minutes_to_rating == pytest.approx(3.0)
    assert _clock(99.0, 1.0, age_s=120).minutes_to_rating == 0.0  # never negative


def test_over_the_rating_the_fuse_margin_counts_down_from_when_it_went_over():
    went_over = NOW - dt.timedelta(minutes=2)
    clock = _clock(104.0, 0.5, over_since=went_over)
    assert clock.state == ClockState.OVER_RATING
    assert (clock.minutes_to_rating, clock.over_rating_since) == (0.0, went_over)
    assert clock.minutes_to_failure == pytest.approx(3.0)
    assert clock.minutes_left == pytest.approx(3.0)
    # First seen over: the count starts at that reading.
    assert _clock(101.0, None, age_s=30).over_rating_since == NOW - dt.timedelta(seconds=30)
    assert _clock(110.0, 3.0, over_since=NOW - dt.timedelta(minutes=9)).minutes_to_failure == 0.0


def test_steady_falling_and_unknown_loads_have_no_time_to_failure():
    for load, slope, stale, state in (
        (85.0, 0.05, False, ClockState.STEADY),
        (85.0, None, False, ClockState.STEADY),  # too few readings for a trend
        (95.0, -1.5, False, ClockState.FALLING),
        (95.0, 2.0, True, ClockState.UNKNOWN),
        (None, None, False, ClockState.UNKNOWN),
    ):
        clock = _clock(load, slope, stale=stale)
        assert (clock.state, clock.minutes_to_rating, clock.minutes_to_failure, clock.minutes_left) == (
            state,
            None,
            None,
            None,
        )


def test_dropping_back_under_the_rating_forgets_when_it_went_over():
    assert _clock(97.0, -2.0, over_since=NOW - dt.timedelta(minutes=1)).over_rating_since is None


def test_each_stage_waits_its_share_of_the_time_left_within_bounds():
    rising = _clock(88.0, 2.0)  # 6 minutes to the rating
    assert stage_wait_seconds(clock=rising, stages_left=3, min_s=30, max_s=120) == pytest.approx(120)
    assert stage_wait_seconds(clock=_clock(96.0, 2.0), stages_left=3, min_s=30, max_s=120) == pytest.approx(40)
    assert stage_wait_seconds(clock=_clock(99.5, 2.0), stages_left=3, min_s=30, max_s=120) == 30  # a 7.6 needs 30 s
    assert stage_wait_seconds(clock=_clock(85.0, 0.0), stages_left=3, min_s=30, max_s=120) == 120  # no deadline
