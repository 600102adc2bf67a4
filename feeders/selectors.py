"""Reads of the feeders app. Load is judged on the most loaded phase: a fuse blows on one phase,
whatever the other two carry."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.utils import timezone

from feeders.choices import FeederStatus
from feeders.dialect import pg_array, pg_rows, postgresql
from feeders.models import Feeder, FeederAlert, FeederReading, MonitorToken, Substation

# The trend window (see ``docs/detection.md``). A least-squares slope is the average rate
# over its window, i.e. it describes the load about half a window ago; the PIA gives 5-10
# minutes from alert to failure and the forecast looks 10 minutes ahead, so the window must
# be short enough that a turn of the load shows within a minute or two: 5 minutes (a monitor
# reporting every 10-60 s gives it 5-30 readings, enough to average its noise). The newer
# half of the window must rise too before the trend counts as rising, so a load that has
# turned down is never forecast to reach its rating from the rise before the turn.
TREND_WINDOW_MINUTES = 5
TREND_MIN_SPAN_MINUTES = 4  # most of the window: a couple of noisy points cannot raise an alert
TREND_MIN_POINTS = 3
TREND_RECENT_MIN_POINTS = 2  # readings the newer half needs for its own slope
# How far ahead the trend must say the rating will be exceeded.
TREND_HORIZON_MINUTES = 10


@dataclass(frozen=True)
class LoadSnapshot:
    """A feeder's latest reading; ``stale`` when too old, since a stale load must not pass as fine."""

    feeder_id: int
    measured_at: datetime | None
    load_percent: float | None
    amps: list[float]
    kw: float | None
    stale: bool

    @property
    def load_kw(self) -> float | None:
        return self.kw


@dataclass(frozen=True)
class Trend:
    """Least-squares fit of max-phase load against time over the trend window. ``rising`` needs
    the window and its newer half both rising; ignore the slope unless ``sufficient``."""

    feeder_id: int
    until: datetime | None
    points: int
    span_minutes: float
    slope_percent_per_minute: float
    current_percent: float | None
    forecast_percent: float | None
    horizon_minutes: float
    minutes_to_rating: float | None
    sufficient: bool
    recent_slope_percent_per_minute: float | None = None

    @property
    def rising(self) -> bool:
        return (
            self.sufficient
            and self.slope_percent_per_minute > 0
            and self.recent_slope_percent_per_minute is not None
            and self.recent_slope_percent_per_minute > 0
        )

    @property
    def turning_down(self) -> bool:
        return self.sufficient and self.slope_percent_per_minute > 0 and not self.rising

    @property
    def direction(self) -> str:
        if not self.sufficient:
            return "unknown"
        if self.rising:
            return "rising"
        if self.turning_down:
            return "turning_down"
        recent = self.recent_slope_percent_per_minute
        return "turning_up" if recent is not None and recent > 0 else "falling"

    @property
    def will_exceed_rating(self) -> bool:
        return self.rising and self.forecast_percent is not None and self.forecast_percent >= 100.0

    def as_inputs(self) -> dict:
        recent = self.recent_slope_percent_per_minute
        return {
            "points": self.points,
            "span_minutes": round(self.span_minutes, 2),
            "window_minutes": TREND_WINDOW_MINUTES,
            "slope_percent_per_minute": round(self.slope_percent_per_minute, 3),
            "recent_slope_percent_per_minute": None if recent is None else round(recent, 3),
            "current_percent": None if self.current_percent is None else round(self.current_percent, 2),
            "forecast_percent": None if self.forecast_percent is None else round(self.forecast_percent, 2),
            "horizon_minutes": self.horizon_minutes,
            "minutes_to_rating": None if self.minutes_to_rating is None else round(self.minutes_to_rating, 2),
            "until": self.until.isoformat() if self.until else None,
        }


def load_percent_of(*, amps: list[float], rating_amps: float) -> float:
    return max(amps) / rating_amps * 100.0


def feeder_load_now(*, feeder: Feeder, now: datetime | None = None) -> LoadSnapshot:
    now = now or timezone.now()
    reading = FeederReading.objects.filter(feeder_id=feeder.pk).order_by("-measured_at").first()
    if reading is None:
        return LoadSnapshot(feeder.pk, None, None, [], None, stale=True)
    offline_after = timedelta(minutes=settings.DNOCTL["OFFLINE_AFTER_MINUTES"])
    return LoadSnapshot(
        feeder_id=feeder.pk,
        measured_at=reading.measured_at,
        load_percent=load_percent_of(amps=reading.phase_amps, rating_amps=feeder.rating_amps),
        amps=reading.phase_amps,
        kw=reading.kw,
        stale=now - reading.measured_at > offline_after,
    )


def trend_fit(
    *,
    feeder_id: int,
    samples: list[tuple[datetime, float]],
    until: datetime | None,
    horizon_minutes: float = TREND_HORIZON_MINUTES,
    window_minutes: float = TREND_WINDOW_MINUTES,
) -> Trend:
    """Pure, so detection and the selector share it."""
    points = len(samples)
    if points == 0:
        return Trend(feeder_id, until, 0, 0.0, 0.0, None, None, horizon_minutes, None, False)
    samples = sorted(samples)
    until = until or samples[-1][0]
    xs = [(moment - until).total_seconds() / 60.0 for moment, _ in samples]  # minutes before until
    ys = [load for _, load in samples]
    span = xs[-1] - xs[0]
    line = _least_squares(xs, ys)
    if line is None:
        return Trend(feeder_id, until, points, span, 0.0, ys[-1], None, horizon_minutes, None, False)
    slope, current = line  # x is 0 at ``until``, so the intercept is the fitted load now
    newer = [(x, y) for x, y in zip(xs, ys, strict=True) if x > -window_minutes / 2]
    recent = _least_squares([x for x, _ in newer], [y for _, y in newer]) if len(newer) >= 2 else None
    recent_slope = recent[0] if recent is not None else None
    return _trend_from_line(feeder_id, until, points, span, slope, current, horizon_minutes, recent_slope, len(newer))


def _least_squares(xs: list[float], ys: list[float]) -> tuple[float, float] | None:
    count = len(xs)
    mean_x = sum(xs) / count
    mean_y = sum(ys) / count
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    return slope, mean_y - slope * mean_x


def _trend_from_line(
    feeder_id: int,
    until: datetime,
    points: int,
    span: float,
    slope: float,
    current: float,
    horizon: float,
    recent_slope: float | None,
    recent_points: int,
) -> Trend:
    forecast = current + slope * horizon
    sufficient = (
        points >= TREND_MIN_POINTS
        and span >= TREND_MIN_SPAN_MINUTES - 1e-9
        and recent_points >= TREND_RECENT_MIN_POINTS
    )
    rising = slope > 0 and recent_slope is not None and recent_slope > 0
    minutes_to_rating = max(0.0, (100.0 - current) / slope) if rising else None
    return Trend(
        feeder_id, until, points, span, slope, current, forecast, horizon, minutes_to_rating, sufficient, recent_slope
    )


def feeder_trend(
    *,
    feeder: Feeder,
    minutes: float = TREND_WINDOW_MINUTES,
    until: datetime | None = None,
    horizon_minutes: float = TREND_HORIZON_MINUTES,
) -> Trend:
    if until is None:
        until = (
            FeederReading.objects.filter(feeder_id=feeder.pk)
            .order_by("-measured_at")
            .values_list("measured_at", flat=True)
            .first()
        )
        if until is None:
            return trend_fit(feeder_id=feeder.pk, samples=[], until=None, horizon_minutes=horizon_minutes)
    return feeder_trends(feeders=[(feeder, until)], minutes=minutes, horizon_minutes=horizon_minutes)[feeder.pk]


def feeder_trends(
    *,
    feeders: list[tuple[Feeder, datetime]] | list[tuple[int, float, datetime]],
    minutes: float = TREND_WINDOW_MINUTES,
    horizon_minutes: float = TREND_HORIZON_MINUTES,
) -> dict[int, Trend]:
    """Trends of many feeders, each ending at its own time: one aggregate query on PostgreSQL
    (``regr_slope``), rather than shipping thousands of rows to Python."""
    specs: list[tuple[int, float, datetime]] = []
    for spec in feeders:
        if len(spec) == 2:
            feeder, until = spec
            specs.append((feeder.pk, feeder.rating_amps, until))
        else:
            specs.append(spec)
    if not specs:
        return {}
    window = timedelta(minutes=minutes)
    if postgresql():
        return _trends_postgresql(specs, window, horizon_minutes)
    return _trends_python(specs, window, horizon_minutes)


# ``date_part`` (float8), not ``EXTRACT`` (numeric since PostgreSQL 14): the fit is in
# float8 anyway, and numeric arithmetic on every row slows the query (bench/RESULTS.md).
_TREND_SQL = """
    WITH spec AS (
        SELECT * FROM unnest(%s::bigint[], %s::float8[], %s::timestamptz[]) AS s(feeder_id, rating, until)
    )
    SELECT spec.feeder_id, count(r.id), min(r.measured_at), max(r.measured_at),
           regr_slope(m.load, m.minutes), regr_intercept(m.load, m.minutes),
           count(r.id) FILTER (WHERE m.minutes > %s), regr_slope(m.load, m.minutes) FILTER (WHERE m.minutes > %s)
    FROM spec
    JOIN feeders_feederreading r
      ON r.feeder_id = spec.feeder_id AND r.measured_at > spec.until - %s AND r.measured_at <= spec.until
    CROSS JOIN LATERAL (
        SELECT GREATEST(r.amps_l1, COALESCE(r.amps_l2, 0), COALESCE(r.amps_l3, 0)) / spec.rating * 100.0 AS load,
               date_part('epoch', r.measured_at - spec.until) / 60.0 AS minutes
    ) m
    GROUP BY spec.feeder_id
"""


def _trends_postgresql(specs: list[tuple[int, float, datetime]], window: timedelta, horizon: float) -> dict[int, Trend]:
    until_by_id = {feeder_id: until for feeder_id, _, until in specs}
    newer_half = -window.total_seconds() / 60.0 / 2
    trends: dict[int, Trend] = {}
    rows = pg_rows(
        _TREND_SQL,
        [
            pg_array([s[0] for s in specs]),
            pg_array([float(s[1]) for s in specs]),
            pg_array([s[2] for s in specs]),
            newer_half,
            newer_half,
            window,
        ],
    )
    for feeder_id, points, first, last, slope, intercept, recent_points, recent_slope in rows:
        until = until_by_id[feeder_id]
        span = (last - first).total_seconds() / 60.0
        if slope is None:  # one point, or all at the same time: no line to fit
            trends[feeder_id] = Trend(feeder_id, until, points, span, 0.0, None, None, horizon, None, False)
            continue
        # x is minutes relative to ``until``, so the intercept is the fitted load now.
        trends[feeder_id] = _trend_from_line(
            feeder_id, until, points, span, slope, intercept, horizon, recent_slope, recent_points
        )
    for feeder_id, until in until_by_id.items():
        if feeder_id not in trends:  # no reading in the window
            trends[feeder_id] = trend_fit(feeder_id=feeder_id, samples=[], until=until, horizon_minutes=horizon)
    return trends


def _trends_python(specs: list[tuple[int, float, datetime]], window: timedelta, horizon: float) -> dict[int, Trend]:
    trends = {}
    for feeder_id, rating, until in specs:
        rows = FeederReading.objects.filter(
            feeder_id=feeder_id, measured_at__gt=until - window, measured_at__lte=until
        ).values_list("measured_at", "amps_l1", "amps_l2", "amps_l3")
        samples = [
            (measured_at, max(a for a in (l1, l2, l3) if a is not None) / rating * 100.0)
            for measured_at, l1, l2, l3 in rows
        ]
        trends[feeder_id] = trend_fit(
            feeder_id=feeder_id,
            samples=samples,
            until=until,
            horizon_minutes=horizon,
            window_minutes=window.total_seconds() / 60.0,
        )
    return trends


def feeder_readings_between(*, feeder: Feeder, start: datetime, end: datetime) -> QuerySet[FeederReading]:
    return FeederReading.objects.filter(feeder_id=feeder.pk, measured_at__gte=start, measured_at__lt=end).order_by(
        "measured_at"
    )


def feeder_alert_open(*, feeder: Feeder) -> FeederAlert | None:
    return FeederAlert.objects.filter(feeder_id=feeder.pk, cleared_at__isnull=True).first()


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def monitor_token_authenticate(*, token: str) -> MonitorToken | None:
    """Looked up by SHA-256, then compared in constant time so timing says nothing about a guess."""
    if not token:
        return None
    digest = token_sha256(token)
    candidate = MonitorToken.objects.filter(token_sha256=digest, active=True).first()
    if candidate is None or not hmac.compare_digest(candidate.token_sha256, digest):
        return None
    return candidate


# --- pages ------------------------------------------------------------------------------


def feeder_codes(*, limit: int = 2000) -> list[str]:
    return list(Feeder.objects.order_by("code").values_list("code", flat=True)[:limit])


def substation_codes() -> list[str]:
    return list(Substation.objects.order_by("code").values_list("code", flat=True))


def feeders_ever_managed() -> QuerySet[Feeder]:
    return Feeder.objects.filter(managed_since__isnull=False).order_by("managed_since", "code")


def feeder_with_substation(*, feeder_id: int) -> Feeder:
    return Feeder.objects.select_related("substation").get(pk=feeder_id)


def feeder_chart_readings(*, feeder: Feeder, since: datetime) -> list[FeederReading]:
    return list(
        FeederReading.objects.filter(feeder=feeder, measured_at__gte=since)
        .order_by("measured_at")
        .only("measured_at", "amps_l1", "amps_l2", "amps_l3", "kw")
    )


def feeder_alerts_recent(*, feeder: Feeder, limit: int = 10) -> list[FeederAlert]:
    return list(FeederAlert.objects.filter(feeder=feeder).select_related("acknowledged_by")[:limit])


def alerts_with_feeder(*, alert_ids) -> QuerySet[FeederAlert]:
    """The alerts with their feeder and who acknowledged them (for the alarm list's messages)."""
    return FeederAlert.objects.filter(pk__in=alert_ids).select_related("feeder", "acknowledged_by")


# Riskiest first: at risk, then curtailing, then the live feeders by load; offline feeders
# (no load to rank by) last.
RISK_ORDER = [FeederStatus.AT_RISK, FeederStatus.CURTAILING, FeederStatus.NORMAL, FeederStatus.OFFLINE]
RISK_RANK = Case(
    *[When(status=status, then=Value(rank)) for rank, status in enumerate(RISK_ORDER)],
    default=Value(len(RISK_ORDER)),
    output_field=IntegerField(),
)

# The overview's orderings by column. Each ends with the code so rows of equal value keep
# one order between refreshes.
FEEDER_ORDERINGS: dict[str, list] = {
    "risk": [RISK_RANK, F("last_load_percent").desc(nulls_last=True), "code"],
    "feeder": ["code"],
    "substation": ["substation__code", "code"],
    "load": [F("last_load_percent").asc(nulls_first=True), "code"],
    "reading": [F("last_reading_at").asc(nulls_first=True), "code"],
}


def feeders_filtered(*, filters: dict, sort: str = "risk", descending: bool = False) -> QuerySet[Feeder]:
    feeders = Feeder.objects.select_related("substation").order_by(*FEEDER_ORDERINGS[sort])
    if descending:
        feeders = feeders.reverse()
    if filters["substation"]:
        feeders = feeders.filter(substation__code=filters["substation"])
    if filters["area"]:
        feeders = feeders.filter(substation__licence_area=filters["area"])
    if filters["status"]:
        feeders = feeders.filter(status=filters["status"])
    if filters["high_risk"]:
        feeders = feeders.filter(high_risk=True)
    return feeders


def feeder_for_token(*, token: MonitorToken, code: str) -> Feeder | None:
    """None when the token may not name the feeder, as if it did not exist, so a monitor's token
    cannot find out which feeders there are."""
    feeders = Feeder.objects.filter(code=code)
    if token.monitor_device_id:
        feeders = feeders.filter(monitor_device_id=token.monitor_device_id)
    return feeders.first()


def feeder_counters() -> dict[str, int]:
    return {
        "open_alerts": FeederAlert.objects.filter(cleared_at__isnull=True).count(),
        "feeders_offline": Feeder.objects.filter(status=FeederStatus.OFFLINE).count(),
    }
