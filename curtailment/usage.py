"""Usage-limit arithmetic (NF11, NF12, invariant 2): 120 min per rolling 24 h, 480 per 30 days.

What counts is what the device did: confirmation to end, nothing if never confirmed; a live action
reserves its planned minutes. Windows are UTC hours, so clock changes need no special case. The SQL
version serves selection; the Python twin is the property tests' oracle.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, DateTimeField, DurationField, ExpressionWrapper, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest, Least

from curtailment.models import CurtailmentAction

WINDOW_24H = timedelta(hours=24)
WINDOW_30D = timedelta(days=30)


def limit_24h_minutes() -> int:
    return int(settings.DNOCTL["LIMIT_24H_MINUTES"])


def limit_30d_minutes() -> int:
    return int(settings.DNOCTL["LIMIT_30D_MINUTES"])


@dataclass(frozen=True)
class Interval:
    """A curtailed interval of one HCALCS (the Python twin's input)."""

    hcalcs_id: int
    started_at: datetime
    ended_at: datetime


def _overlap_seconds(*, start: datetime, end: datetime, window_start: datetime, window_end: datetime) -> float:
    lo = max(start, window_start)
    hi = min(end, window_end)
    return max(0.0, (hi - lo).total_seconds())


def _minutes(seconds: float) -> int:
    # Round up: a partly used minute is a used minute, so the limits can never be exceeded
    # by rounding.
    return math.ceil(seconds / 60.0 - 1e-9)


def _action_start_expression():
    """The device's confirmation once ended, the dispatch while live."""
    return Case(When(ended_at__isnull=True, then=F("started_at")), default=F("confirmed_at"))


def _action_end_expression():
    return Coalesce(F("ended_at"), F("expected_end_at"))


def _overlap_sum(*, window_start: datetime, window_end: datetime) -> Sum:
    """SQL: the summed overlap of each action's counted interval with one window (non-positive overlaps excluded)."""
    overlap = ExpressionWrapper(
        Least(_action_end_expression(), Value(window_end, output_field=DateTimeField()))
        - Greatest(_action_start_expression(), Value(window_start, output_field=DateTimeField())),
        output_field=DurationField(),
    )
    live = Q(ended_at__isnull=True, started_at__lt=window_end, expected_end_at__gt=window_start)
    done = Q(
        ended_at__isnull=False,
        confirmed_at__isnull=False,
        confirmed_at__lt=window_end,
        ended_at__gt=window_start,
    ) & Q(ended_at__gt=F("confirmed_at"))
    return Sum(overlap, filter=live | done)


def _duration_minutes(total: timedelta | None) -> int:
    return _minutes(total.total_seconds()) if total is not None else 0


def _actions(ids: list[int], exclude_event_id: int | None):
    actions = CurtailmentAction.objects.filter(hcalcs_id__in=ids)
    if exclude_event_id is not None:
        actions = actions.exclude(event_id=exclude_event_id)
    return actions


def hcalcs_minutes_used(
    *, hcalcs_ids: Iterable[int], window_end: datetime, window: timedelta, exclude_event_id: int | None = None
) -> dict[int, int]:
    """Minutes each HCALCS was or is planned to be curtailed in the window ending ``window_end``."""
    ids = list(hcalcs_ids)
    used = dict.fromkeys(ids, 0)
    if not ids:
        return used
    rows = (
        _actions(ids, exclude_event_id)
        .values("hcalcs_id")
        .annotate(total=_overlap_sum(window_start=window_end - window, window_end=window_end))
    )
    for row in rows:
        used[row["hcalcs_id"]] = _duration_minutes(row["total"])
    return used


@dataclass(frozen=True)
class Allowance:
    """What a charger may still be curtailed for, and why."""

    used_24h: int
    used_30d: int
    minutes: int


def allowance_from_used(*, used_24h: int, used_30d: int) -> Allowance:
    return Allowance(
        used_24h=used_24h,
        used_30d=used_30d,
        minutes=max(0, min(limit_24h_minutes() - used_24h, limit_30d_minutes() - used_30d)),
    )


def hcalcs_allowance(
    *, hcalcs_ids: Iterable[int], at: datetime, exclude_event_id: int | None = None
) -> dict[int, Allowance]:
    """Minutes each HCALCS may still be curtailed from ``at``; planned minutes count, so a new action
    at ``at`` is safe."""
    ids = list(hcalcs_ids)
    past_24h = _overlap_sum(window_start=at - WINDOW_24H, window_end=at)
    past_30d = _overlap_sum(window_start=at - WINDOW_30D, window_end=at)
    planned = _overlap_sum(window_start=at, window_end=at + WINDOW_30D)
    used = {hcalcs_id: (0, 0) for hcalcs_id in ids}
    if ids:
        rows = (
            _actions(ids, exclude_event_id)
            .filter(started_at__lt=at + WINDOW_30D)
            .filter(Q(ended_at__gt=at - WINDOW_30D) | Q(ended_at__isnull=True, expected_end_at__gt=at - WINDOW_30D))
            .values("hcalcs_id")
            .annotate(past_24h=past_24h, past_30d=past_30d, planned=planned)
        )
        for row in rows:
            ahead = _duration_minutes(row["planned"])
            used[row["hcalcs_id"]] = (
                _duration_minutes(row["past_24h"]) + ahead,
                _duration_minutes(row["past_30d"]) + ahead,
            )
    return {
        hcalcs_id: allowance_from_used(used_24h=used_24h, used_30d=used_30d)
        for hcalcs_id, (used_24h, used_30d) in used.items()
    }


# --- the pure-Python twin ------------------------------------------------------------------


def action_interval(action) -> Interval | None:
    """The interval an action counts (see the module docstring), or None if none."""
    if action.ended_at is None:
        return Interval(action.hcalcs_id, action.started_at, action.expected_end_at)
    if action.confirmed_at is None or action.ended_at <= action.confirmed_at:
        return None
    return Interval(action.hcalcs_id, action.confirmed_at, action.ended_at)


def intervals_minutes_used(
    *, intervals: Iterable[Interval], hcalcs_id: int, window_end: datetime, window: timedelta
) -> int:
    """Python twin of :func:`hcalcs_minutes_used` for one charger."""
    window_start = window_end - window
    seconds = sum(
        _overlap_seconds(start=i.started_at, end=i.ended_at, window_start=window_start, window_end=window_end)
        for i in intervals
        if i.hcalcs_id == hcalcs_id
    )
    return _minutes(seconds)


def intervals_allowance(*, intervals: Iterable[Interval], hcalcs_id: int, at: datetime) -> Allowance:
    """Python twin of :func:`hcalcs_allowance` for one charger."""
    intervals = list(intervals)
    ahead = intervals_minutes_used(
        intervals=intervals, hcalcs_id=hcalcs_id, window_end=at + WINDOW_30D, window=WINDOW_30D
    )
    past_24h = intervals_minutes_used(intervals=intervals, hcalcs_id=hcalcs_id, window_end=at, window=WINDOW_24H)
    past_30d = intervals_minutes_used(intervals=intervals, hcalcs_id=hcalcs_id, window_end=at, window=WINDOW_30D)
    return allowance_from_used(used_24h=past_24h + ahead, used_30d=past_30d + ahead)


def intervals_max_rolling_minutes(*, intervals: Iterable[Interval], hcalcs_id: int, window: timedelta) -> int:
    """The most minutes inside any rolling ``window``; windows ending at interval ends suffice."""
    mine = [i for i in intervals if i.hcalcs_id == hcalcs_id]
    ends = {i.ended_at for i in mine} | {i.started_at + window for i in mine}
    return max(
        (intervals_minutes_used(intervals=mine, hcalcs_id=hcalcs_id, window_end=end, window=window) for end in ends),
        default=0,
    )
