"""The time-to-failure clock of an at-risk feeder, and the escalation deadlines drawn from it.

The PIA gives 5-10 minutes between an overload alert and the failure of the LV network
(seed 002); the clock says how much of that is left, from what the telemetry knows: the
latest reading (max phase, % of rating), the trend of the recent readings and the rating.

**Time to rating.** The latest load extrapolated along the trend's slope (the least-squares
line the detection fits over its trend window, ``feeders.selectors.feeder_trend``):
``(100 - load) / slope`` minutes while rising, 0 once at or over the rating, none while the
load is steady or falling. Linear, not exponential: over a few minutes an evening ramp of
EV chargers is close to a line, and a curve fitted to ten noisy points overreacts.

**Time to failure (the fuse).** The feeder's rating is its fuse's rated current. A gG LV
fuse carries that indefinitely and blows only after a sustained overload, in minutes to
hours depending on the overload and on the fuse's temperature history, which no one
measures. So the clock does not pretend to a time-current curve: it takes the fuse as
likely to blow ``FUSE_MARGIN_MINUTES`` (5) after the load reaches the rating, the low end
of the PIA's window, counted from when the load first went over. It is what the operator
is shown as "fuse likely to blow in"; escalation deadlines are drawn from the time to the
*rating*, so the margin never delays relief.

**Escalation deadlines.** Relief must be confirmed before the load reaches the rating, with
time left for the stages after this one (more chargers, the ASP, the operator): a stage
waits ``time left / stages left``, at least a device's confirmation timeout (a 7.6 cannot
be confirmed sooner) and at most ``ESCALATION_MAX_WAIT_S`` (when the load is not heading
for its rating there is no deadline to meet, but unconfirmed relief still escalates).

Pure functions: the service (``curtailment.services.protection``) feeds them and stores
the result.
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
    """The clock from the latest reading and the trend's slope (None when the trend has too
    few points to be trusted). ``over_rating_since`` is carried from the previous clock."""
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
    """How long one escalation stage waits for confirmed relief (see the module docstring)."""
    left = clock.minutes_left
    if left is None:
        return max_s
    return min(max_s, max(min_s, left * 60.0 / max(1, stages_left)))
