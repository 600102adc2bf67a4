"""The time-to-failure clock of an at-risk feeder (the PIA gives 5-10 minutes, seed 002) and escalation
deadlines.

Time to rating is linear along the trend (an EV ramp is close to a line; a curve on ten noisy points
overreacts). Nobody measures a fuse's heat, so it is taken to blow ``FUSE_MARGIN_MINUTES`` after the
rating is reached; deadlines use the time to rating, so the margin never delays relief.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from curtailment.choices import ClockState

# Below this slope (% of rating per minute, either way) the load is "steady": a tenth of a
# percent a minute takes over an hour to move ten points.
STEADY_SLOPE = 0.1


@dataclass(frozen=True)
class Clock:
    """Where a feeder's load is heading and how long it has (minutes from ``now``)."""

    state: str
    minutes_to_rating: float | None
    minutes_to_failure: float | None
    over_rating_since: dt.datetime | None

    @property
    def minutes_left(self) -> float | None:
        """Time left before relief is too late: to the rating, or to the fuse once over it."""
        if self.state == ClockState.OVER_RATING:
            return self.minutes_to_failure
        if self.state == ClockState.RISING:
            return self.minutes_to_rating
        return None


def failure_clock(
    *,
    load_percent: float | None,
    reading_at: dt.datetime | None,
    stale: bool,
    slope_percent_per_minute: float | None,
    over_rating_since: dt.datetime | None,
    now: dt.datetime,
    fuse_margin_minutes: float,
) -> Clock:
    """The clock from the latest reading and the trend's slope (None when the trend is too short to trust)."""
    if stale or load_percent is None or reading_at is None:
        return Clock(ClockState.UNKNOWN, None, None, over_rating_since)
    age = max(0.0, (now - reading_at).total_seconds() / 60.0)
    if load_percent >= 100.0:
        since = over_rating_since or reading_at
        over_for = max(0.0, (now - since).total_seconds() / 60.0)
        return Clock(ClockState.OVER_RATING, 0.0, max(0.0, fuse_margin_minutes - over_for), since)
    slope = slope_percent_per_minute
    if slope is None or abs(slope) < STEADY_SLOPE:
        return Clock(ClockState.STEADY, None, None, None)
    if slope < 0:
        return Clock(ClockState.FALLING, None, None, None)
    to_rating = max(0.0, (100.0 - load_percent) / slope - age)
    return Clock(ClockState.RISING, to_rating, to_rating + fuse_margin_minutes, None)


def stage_wait_seconds(*, clock: Clock, stages_left: int, min_s: float, max_s: float) -> float:
    """Time left / stages left, at least a confirmation timeout (a 7.6 cannot be confirmed sooner), at
    most ``ESCALATION_MAX_WAIT_S``."""
    left = clock.minutes_left
    if left is None:
        return max_s
    return min(max_s, max(min_s, left * 60.0 / max(1, stages_left)))
