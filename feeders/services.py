"""Writes of the feeders app: monitor tokens, feeder status, telemetry ingest and at-risk
detection (R1)."""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from curtailment.audit import audit_record
from feeders.choices import AlertKind, FeederStatus
from feeders.events import (
    ALERT,
    READING,
    STATUS,
    FeederAlertPayload,
    FeederReadingPayload,
    FeederStatusPayload,
    feeder_groups,
    iso_utc,
    pushes_on_commit,
    status_pushed,
)
from feeders.models import Feeder, FeederAlert, FeederReading, MonitorToken
from feeders.selectors import Trend, feeder_trends, load_percent_of, pg_array, pg_rows, token_sha256

logger = logging.getLogger(__name__)


def monitor_token_issue(*, name: str, monitor_device_id: str | None = None) -> str:
    """Create a monitor token and return its plaintext, once: only its SHA-256 is stored.

    A token with ``monitor_device_id`` may post only for the feeder carrying that id; one
    without it (a monitoring head-end) may post for any feeder.
    """
    token = secrets.token_urlsafe(32)
    record = MonitorToken(name=name, token_sha256=token_sha256(token), monitor_device_id=monitor_device_id or None)
    record.full_clean()
    record.save()
    return token


def feeder_status_set(*, feeder: Feeder, status: str) -> bool:
    """Set the feeder's status and push ``feeder.status`` on commit.

    Compare-and-set on the status read now: returns False (and pushes nothing) when the
    status already had that value, so repeated calls are harmless.
    """
    if status not in FeederStatus.values:
        raise ValueError(f"unknown feeder status {status!r}")
    with transaction.atomic():
        current = Feeder.objects.select_for_update().filter(pk=feeder.pk).values_list("status", flat=True).first()
        if current is None or current == status:
            return False
        Feeder.objects.filter(pk=feeder.pk, status=current).update(status=status)
        feeder.status = status
        fresh = Feeder.objects.filter(pk=feeder.pk).values("code", "last_reading_at", "last_load_percent").get()
        status_pushed(
            FeederStatusPayload(
                feeder_id=feeder.pk,
                code=fresh["code"],
                status=status,
                previous_status=current,
                last_reading_at=iso_utc(fresh["last_reading_at"]),
                load_percent=fresh["last_load_percent"],
            )
        )
    return True


def feeders_offline_sweep(*, now: datetime | None = None) -> list[int]:
    """Mark offline every feeder whose latest reading is older than
    ``DNOCTL["OFFLINE_AFTER_MINUTES"]`` (or that never reported), pushing ``feeder.status``.

    A silent monitor must never leave a feeder looking healthy. Compare-and-set per feeder
    on its old status and reading time, so a reading arriving during the sweep wins.
    Returns the ids marked offline.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.DNOCTL["OFFLINE_AFTER_MINUTES"])
    candidates = Feeder.objects.exclude(status=FeederStatus.OFFLINE).filter(
        Q(last_reading_at__lt=cutoff) | Q(last_reading_at__isnull=True)
    )
    marked = []
    for feeder_id, code, old_status, last_reading_at, load in candidates.values_list(
        "id", "code", "status", "last_reading_at", "last_load_percent"
    ):
        with transaction.atomic():
            changed = Feeder.objects.filter(pk=feeder_id, status=old_status, last_reading_at=last_reading_at).update(
                status=FeederStatus.OFFLINE
            )
            if not changed:
                continue
            marked.append(feeder_id)
            status_pushed(
                FeederStatusPayload(
                    feeder_id=feeder_id,
                    code=code,
                    status=FeederStatus.OFFLINE,
                    previous_status=old_status,
                    last_reading_at=iso_utc(last_reading_at),
                    load_percent=load,
                )
            )
    return marked


# --- telemetry ingest ---------------------------------------------------------------------

MAX_BATCH_ROWS = 5000
# A monitor's clock may run a little fast; beyond this a timestamp is from the future.
FUTURE_SKEW = timedelta(seconds=60)
# Readings before this are a monitor with an unset clock, not history.
EARLIEST_READING = datetime(2000, 1, 1, tzinfo=UTC)
# A phase current above this multiple of the rating is a broken sensor or a unit mix-up
# (mA for A), not load: a fuse would have blown long before.
ABSURD_RATING_MULTIPLE = 10.0
# Never compute a trend below this load: from half load a feeder would have to double in
# ten minutes to overload, and a jump that big is caught by the threshold on its own. It
# keeps the trend query off the vast majority of feeders, which sit well below it.
TREND_FLOOR_PERCENT = 50.0
ROW_FIELDS = {"feeder", "monitor", "measured_at", "amps", "kw"}
MAX_ERRORS_REPORTED = 500


class TelemetryRejected(Exception):
    """The whole batch is refused; ``errors`` name each bad row, field and reason."""

    def __init__(self, status: int, errors: list[dict[str, Any]]):
        super().__init__(f"telemetry batch rejected ({len(errors)} error(s))")
        self.status = status
        self.errors = errors


@dataclass(frozen=True)
class ReadingIn:
    """One validated reading, in UTC."""

    row: int
    feeder_id: int
    measured_at: datetime
    amps: tuple[float, ...]
    kw: float


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    alerts_raised: list[int]
    alerts_cleared: list[int]


@dataclass(frozen=True)
class _FeederRow:
    id: int
    code: str
    monitor_device_id: str | None
    phases: int
    rating_amps: float
    at_risk_percent: float
    clear_percent: float
    status: str
    last_reading_at: datetime | None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _row_structure_errors(index: int, row: Any, now: datetime) -> tuple[list[dict], datetime | None]:
    """Checks that need no database: shape, types, timestamp, numbers."""
    errors: list[dict] = []

    def bad(field: str | None, reason: str) -> None:
        errors.append({"row": index, "field": field, "reason": reason})

    if not isinstance(row, dict):
        bad(None, "must be an object")
        return errors, None
    for unknown in sorted(set(row) - ROW_FIELDS):
        bad(unknown, "unknown field")
    has_feeder, has_monitor = "feeder" in row, "monitor" in row
    if has_feeder == has_monitor:
        bad("feeder", "give exactly one of feeder (code) or monitor (device id)")
    key = "feeder" if has_feeder else "monitor"
    if has_feeder or has_monitor:
        ident = row[key]
        if not isinstance(ident, str) or not ident or len(ident) > 64:
            bad(key, "must be a non-empty string of at most 64 characters")
    measured_at = None
    raw_time = row.get("measured_at")
    if not isinstance(raw_time, str):
        bad("measured_at", "required: an ISO 8601 string with a UTC offset")
    else:
        try:
            parsed = datetime.fromisoformat(raw_time)
        except ValueError:
            bad("measured_at", f"not an ISO 8601 date-time: {raw_time[:40]!r}")
        else:
            if parsed.tzinfo is None or parsed.utcoffset() is None:
                bad("measured_at", "no UTC offset: give e.g. +00:00 or Z (local times are ambiguous at clock changes)")
            elif parsed > now + FUTURE_SKEW:
                bad(
                    "measured_at", f"in the future (more than {int(FUTURE_SKEW.total_seconds())} s ahead of the server)"
                )
            elif parsed < EARLIEST_READING:
                bad("measured_at", "before 2000: the monitor's clock is not set")
            else:
                measured_at = parsed.astimezone(UTC)
    amps = row.get("amps")
    if not isinstance(amps, list) or not amps or len(amps) > 3:
        bad("amps", "required: a list of 1 or 3 phase currents in amps")
    else:
        for phase, value in enumerate(amps, start=1):
            if not _is_number(value):
                bad("amps", f"phase {phase}: not a number")
            elif not math.isfinite(value):
                bad("amps", f"phase {phase}: not finite")
            elif value < 0:
                bad("amps", f"phase {phase}: negative current")
    kw = row.get("kw")
    if not _is_number(kw):
        bad("kw", "required: a number (kW; negative when the feeder exports)")
    elif not math.isfinite(kw):
        bad("kw", "not finite")
    return errors, measured_at


def _feeder_errors(
    index: int, row: dict, feeder: _FeederRow | None, token: MonitorToken, *, well_formed: bool
) -> tuple[list, list]:
    """Checks against the feeder: existence, phases, plausibility. Returns (400s, 403s)."""
    key = "feeder" if "feeder" in row else "monitor"
    if feeder is None:
        what = "feeder code" if key == "feeder" else "monitor id"
        return [{"row": index, "field": key, "reason": f"unknown {what} {row[key]!r}"}], []
    if token.monitor_device_id and feeder.monitor_device_id != token.monitor_device_id:
        return [], [{"row": index, "field": key, "reason": f"this token may not post for feeder {feeder.code}"}]
    if not well_formed:  # the numbers are already reported as malformed
        return [], []
    errors = []
    amps = row["amps"]
    if len(amps) != feeder.phases:
        errors.append(
            {
                "row": index,
                "field": "amps",
                "reason": f"{len(amps)} phase(s) given, feeder {feeder.code} has {feeder.phases}",
            }
        )
    ceiling = feeder.rating_amps * ABSURD_RATING_MULTIPLE
    if any(a > ceiling for a in amps):
        errors.append(
            {
                "row": index,
                "field": "amps",
                "reason": f"above {ceiling:g} A ({ABSURD_RATING_MULTIPLE:g}x the rating): not a plausible reading",
            }
        )
    kw_ceiling = ceiling * 0.4 * feeder.phases  # 400 V class * amps, generous at any voltage
    if abs(row["kw"]) > kw_ceiling:
        errors.append({"row": index, "field": "kw", "reason": f"beyond +/-{kw_ceiling:g} kW: not a plausible reading"})
    return errors, []


def _feeders_lock(rows: list[dict]) -> tuple[dict[str, _FeederRow], dict[str, _FeederRow]]:
    """One query: the feeders the batch names, locked in id order.

    The row locks serialise concurrent batches for the same feeder, so detection sees a
    consistent alert state and two requests can never both raise an alert; id order
    means two batches naming the same feeders cannot deadlock.
    """
    codes = {row["feeder"] for row in rows if isinstance(row.get("feeder"), str)}
    monitors = {row["monitor"] for row in rows if isinstance(row.get("monitor"), str)}
    if connection.vendor == "postgresql":
        found = pg_rows(_LOCK_SQL, [pg_array(list(codes)), pg_array(list(monitors))])
    else:
        found = _feeders_lock_orm(codes, monitors)
    by_code, by_monitor = {}, {}
    for values in found:
        feeder = _FeederRow(*values)
        by_code[feeder.code] = feeder
        if feeder.monitor_device_id:
            by_monitor[feeder.monitor_device_id] = feeder
    return by_code, by_monitor


_LOCK_SQL = """
    SELECT id, code, monitor_device_id, phases, rating_amps, at_risk_percent, clear_percent, status, last_reading_at
    FROM feeders_feeder
    WHERE code = ANY(%s::varchar[]) OR monitor_device_id = ANY(%s::varchar[])
    ORDER BY id
    FOR UPDATE
"""


def _feeders_lock_orm(codes: set[str], monitors: set[str]) -> list[tuple]:
    return list(
        Feeder.objects.filter(Q(code__in=codes) | Q(monitor_device_id__in=monitors))
        .order_by("id")
        .select_for_update()
        .values_list(
            "id",
            "code",
            "monitor_device_id",
            "phases",
            "rating_amps",
            "at_risk_percent",
            "clear_percent",
            "status",
            "last_reading_at",
        )
    )


def _reject(status: int, errors: list[dict]) -> TelemetryRejected:
    return TelemetryRejected(status, errors[:MAX_ERRORS_REPORTED])


def telemetry_ingest(*, token: MonitorToken, readings: Any, now: datetime | None = None) -> IngestResult:
    """Validate and store a batch of readings, then run at-risk detection.

    All or nothing: any bad row raises :class:`TelemetryRejected` (400 listing every bad
    row, or 403 when a bound token names another feeder) and nothing is written.
    Idempotent on ``(feeder, measured_at)``: a repeated reading counts as a duplicate and
    changes nothing, so a monitor may resend a batch it is unsure about. Late and
    out-of-order readings are stored; only readings newer than the feeder's latest, and
    not older than ``BACKFILL_AFTER_MINUTES``, drive detection.
    """
    now = now or timezone.now()
    if not isinstance(readings, list):
        raise _reject(400, [{"row": None, "field": "readings", "reason": "must be a list of readings"}])
    if not readings:
        raise _reject(400, [{"row": None, "field": "readings", "reason": "empty batch"}])
    if len(readings) > MAX_BATCH_ROWS:
        reason = f"{len(readings)} rows: a batch holds at most {MAX_BATCH_ROWS}"
        raise _reject(413, [{"row": None, "field": "readings", "reason": reason}])
    errors: list[dict] = []
    times: list[datetime | None] = []
    well_formed: list[bool] = []
    for index, row in enumerate(readings):
        row_errors, measured_at = _row_structure_errors(index, row, now)
        errors.extend(row_errors)
        times.append(measured_at)
        well_formed.append(not row_errors)
    with transaction.atomic():
        by_code, by_monitor = _feeders_lock([row for row in readings if isinstance(row, dict)])
        forbidden: list[dict] = []
        valid: list[ReadingIn] = []
        feeders: dict[int, _FeederRow] = {}
        for index, row in enumerate(readings):
            if not isinstance(row, dict) or ("feeder" in row) == ("monitor" in row):
                continue
            ident = row.get("feeder", row.get("monitor"))
            if not isinstance(ident, str):
                continue
            feeder = by_code.get(ident) if "feeder" in row else by_monitor.get(ident)
            feeder_errors, feeder_forbidden = _feeder_errors(index, row, feeder, token, well_formed=well_formed[index])
            errors.extend(feeder_errors)
            forbidden.extend(feeder_forbidden)
            if feeder is not None and well_formed[index] and not feeder_errors:
                feeders[feeder.id] = feeder
                valid.append(ReadingIn(index, feeder.id, times[index], tuple(row["amps"]), row["kw"]))
        if forbidden:
            raise _reject(403, forbidden)
        if errors:
            errors.sort(key=lambda error: error["row"])
            raise _reject(400, errors)
        inserted = _readings_insert(valid, received_at=now)
        raised, cleared = _readings_apply(inserted, feeders, now=now)
    return IngestResult(len(inserted), len(readings) - len(inserted), raised, cleared)


_INSERT_SQL = """
    INSERT INTO feeders_feederreading (feeder_id, measured_at, received_at, amps_l1, amps_l2, amps_l3, kw)
    SELECT f, m, %s, a1, a2, a3, k
    FROM unnest(%s::bigint[], %s::timestamptz[], %s::float8[], %s::float8[], %s::float8[], %s::float8[])
         AS t(f, m, a1, a2, a3, k)
    ON CONFLICT (feeder_id, measured_at) DO NOTHING
    RETURNING feeder_id, measured_at
"""


def _readings_insert(valid: list[ReadingIn], *, received_at: datetime) -> list[ReadingIn]:
    """Insert the batch, skipping readings already stored; returns the ones inserted.

    PostgreSQL: one ``INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING
    RETURNING`` (six array parameters instead of 3,500 placeholders; measured against
    ``bulk_create`` in ``bench/bench_ingest.py``). SQLite (embedded demo): look up which
    keys exist, then ``bulk_create`` the rest; its writes are serialised anyway.
    """
    if connection.vendor == "postgresql":
        columns = [[], [], [], [], [], []]
        for reading in valid:
            amps = reading.amps
            columns[0].append(reading.feeder_id)
            columns[1].append(reading.measured_at)
            columns[2].append(float(amps[0]))
            columns[3].append(float(amps[1]) if len(amps) > 1 else None)
            columns[4].append(float(amps[2]) if len(amps) > 2 else None)
            columns[5].append(float(reading.kw))
        stored = set(pg_rows(_INSERT_SQL, [received_at, *(pg_array(column) for column in columns)]))
        seen: set[tuple[int, datetime]] = set()
        inserted = []
        for reading in valid:
            key = (reading.feeder_id, reading.measured_at)
            if key in stored and key not in seen:  # the first of in-batch repeats is the one stored
                seen.add(key)
                inserted.append(reading)
        return inserted
    times = [reading.measured_at for reading in valid]
    existing = set(
        FeederReading.objects.filter(
            feeder_id__in={reading.feeder_id for reading in valid},
            measured_at__gte=min(times),
            measured_at__lte=max(times),
        ).values_list("feeder_id", "measured_at")
    )
    inserted = []
    for reading in valid:
        key = (reading.feeder_id, reading.measured_at)
        if key not in existing:
            existing.add(key)
            inserted.append(reading)
    FeederReading.objects.bulk_create(
        [
            FeederReading(
                feeder_id=reading.feeder_id,
                measured_at=reading.measured_at,
                received_at=received_at,
                amps_l1=reading.amps[0],
                amps_l2=reading.amps[1] if len(reading.amps) > 1 else None,
                amps_l3=reading.amps[2] if len(reading.amps) > 2 else None,
                kw=reading.kw,
            )
            for reading in inserted
        ],
        ignore_conflicts=True,
    )
    return inserted


# --- at-risk detection -------------------------------------------------------------------


@dataclass
class _AlertState:
    """An open alert as detection tracks it through a batch."""

    id: int
    below_clear_since: datetime | None
    original_below_clear_since: datetime | None


def _readings_apply(inserted: list[ReadingIn], feeders: dict[int, _FeederRow], *, now: datetime) -> tuple[list, list]:
    """Move each feeder's summary forward and run detection on its new, live readings.

    "New" means newer than the feeder's latest reading: a late reading that arrives after
    a newer one is stored but judges nothing, because the newer one already did. "Live"
    means not older than ``BACKFILL_AFTER_MINUTES``: a monitor replaying its buffer after
    an outage must not raise alerts about the past (openwisp-monitoring does the same).
    The caller holds the feeders' row locks.
    """
    knobs = settings.DNOCTL
    backfill_cutoff = now - timedelta(minutes=knobs["BACKFILL_AFTER_MINUTES"])
    offline_cutoff = now - timedelta(minutes=knobs["OFFLINE_AFTER_MINUTES"])
    advancing: dict[int, list[ReadingIn]] = {}
    for reading in inserted:
        last = feeders[reading.feeder_id].last_reading_at
        if last is None or reading.measured_at > last:
            advancing.setdefault(reading.feeder_id, []).append(reading)
    if not advancing:
        return [], []
    for readings in advancing.values():
        readings.sort(key=lambda reading: reading.measured_at)
    live = {
        feeder_id: [r for r in readings if r.measured_at >= backfill_cutoff]
        for feeder_id, readings in advancing.items()
    }
    live = {feeder_id: readings for feeder_id, readings in live.items() if readings}
    open_alerts = {
        feeder_id: _AlertState(alert_id, below, below) for alert_id, feeder_id, below in _open_alerts(list(advancing))
    }
    raised: list[int] = []
    cleared: list[int] = []
    messages: list[tuple[list[str], str, dict]] = []
    trend_wanted: list[tuple[int, float, datetime]] = []
    for feeder_id, readings in live.items():
        feeder = feeders[feeder_id]
        state = open_alerts.get(feeder_id)
        for reading in readings:
            state = _detect_step(feeder, state, reading, now=now, raised=raised, cleared=cleared, messages=messages)
        open_alerts[feeder_id] = state
        latest = readings[-1]
        if state is None and _load(feeder, latest) >= TREND_FLOOR_PERCENT:
            trend_wanted.append((feeder_id, feeder.rating_amps, latest.measured_at))
    for feeder_id, trend in feeder_trends(feeders=trend_wanted).items():
        if trend.will_exceed_rating:
            feeder = feeders[feeder_id]
            latest = live[feeder_id][-1]
            alert_id = _alert_raise(feeder, latest, AlertKind.TREND, trend, now=now, messages=messages)
            if alert_id is not None:
                raised.append(alert_id)
                open_alerts[feeder_id] = _AlertState(alert_id, None, None)
    for state in open_alerts.values():
        if state is not None and state.below_clear_since != state.original_below_clear_since:
            FeederAlert.objects.filter(pk=state.id, cleared_at__isnull=True).update(
                below_clear_since=state.below_clear_since
            )
    _summaries_update(advancing, feeders, open_alerts, offline_cutoff=offline_cutoff, messages=messages)
    pushes_on_commit(messages)
    return raised, cleared


def _open_alerts(feeder_ids: list[int]) -> list[tuple[int, int, datetime | None]]:
    """(alert id, feeder id, below_clear_since) of the feeders' open alerts."""
    if connection.vendor == "postgresql":
        return pg_rows(
            "SELECT id, feeder_id, below_clear_since FROM feeders_feederalert"
            " WHERE feeder_id = ANY(%s::bigint[]) AND cleared_at IS NULL",
            [pg_array(feeder_ids)],
        )
    return list(
        FeederAlert.objects.filter(feeder_id__in=feeder_ids, cleared_at__isnull=True).values_list(
            "id", "feeder_id", "below_clear_since"
        )
    )


def _load(feeder: _FeederRow, reading: ReadingIn) -> float:
    return load_percent_of(amps=list(reading.amps), rating_amps=feeder.rating_amps)


def _detect_step(
    feeder: _FeederRow,
    state: _AlertState | None,
    reading: ReadingIn,
    *,
    now: datetime,
    raised: list[int],
    cleared: list[int],
    messages: list,
) -> _AlertState | None:
    """One live reading through the alert state machine; returns the open alert or None.

    Raise on a state change only (load at or above the at-risk level with no open alert);
    clear only after every reading for ``CLEAR_HOLD_MINUTES`` stayed below the clear
    level, so a load hovering at the threshold cannot make the alert flap.
    """
    load = _load(feeder, reading)
    if state is None:
        if load < feeder.at_risk_percent:
            return None
        alert_id = _alert_raise(feeder, reading, AlertKind.THRESHOLD, None, now=now, messages=messages)
        if alert_id is None:
            return None
        raised.append(alert_id)
        return _AlertState(alert_id, None, None)
    if load >= feeder.clear_percent:
        state.below_clear_since = None
        return state
    if state.below_clear_since is None:
        state.below_clear_since = reading.measured_at
        return state
    hold = timedelta(minutes=settings.DNOCTL["CLEAR_HOLD_MINUTES"])
    if reading.measured_at - state.below_clear_since < hold:
        return state
    if _alert_clear(feeder, state, reading, load, now=now, messages=messages):
        cleared.append(state.id)
    return None


def _alert_inputs(feeder: _FeederRow, reading: ReadingIn | None, trend: Trend | None) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "feeder": feeder.code,
        "rating_amps": feeder.rating_amps,
        "at_risk_percent": feeder.at_risk_percent,
        "clear_percent": feeder.clear_percent,
        "clear_hold_minutes": settings.DNOCTL["CLEAR_HOLD_MINUTES"],
    }
    if reading is not None:
        inputs.update(
            measured_at=iso_utc(reading.measured_at),
            amps=list(reading.amps),
            kw=reading.kw,
            load_percent=round(_load(feeder, reading), 2),
        )
    if trend is not None:
        inputs["trend"] = trend.as_inputs()
    return inputs


def _alert_raise(
    feeder: _FeederRow, reading: ReadingIn, kind: str, trend: Trend | None, *, now: datetime, messages: list
) -> int | None:
    """Open an alert under the one-open-per-feeder constraint; None if one is already open."""
    inputs = _alert_inputs(feeder, reading, trend)
    try:
        with transaction.atomic():  # a savepoint: losing the race must not abort the batch
            alert = FeederAlert.objects.create(
                feeder_id=feeder.id,
                kind=kind,
                source="detection",
                raised_at=now,
                measured_at=reading.measured_at,
                load_percent=inputs["load_percent"],
                forecast=trend.as_inputs() if trend is not None else {},
            )
    except IntegrityError:
        return None
    why = (
        f"max phase at {inputs['load_percent']}% of rating, at or above the at-risk level {feeder.at_risk_percent}%"
        if kind == AlertKind.THRESHOLD
        else f"trend {trend.slope_percent_per_minute:+.2f}%/min forecasts {trend.forecast_percent:.1f}% of rating "
        f"within {trend.horizon_minutes:g} minutes"
    )
    audit_record(action="alert_raised", rule="detection", target=alert, reason=why, inputs=inputs)
    messages.append(_alert_message(feeder.id, feeder.code, alert, "raised"))
    _engine_hand_over(alert.pk)
    return alert.pk


def _alert_clear(
    feeder: _FeederRow, state: _AlertState, reading: ReadingIn, load: float, *, now: datetime, messages: list
) -> bool:
    changed = FeederAlert.objects.filter(pk=state.id, cleared_at__isnull=True).update(
        cleared_at=now, below_clear_since=state.below_clear_since
    )
    if not changed:
        return False
    alert = FeederAlert.objects.get(pk=state.id)
    inputs = _alert_inputs(feeder, reading, None)
    inputs["below_clear_since"] = iso_utc(state.below_clear_since)
    hold = settings.DNOCTL["CLEAR_HOLD_MINUTES"]
    reason = f"below the clear level {feeder.clear_percent}% for {hold} minutes (now {load:.1f}%)"
    audit_record(action="alert_cleared", rule="detection", target=alert, reason=reason, inputs=inputs)
    messages.append(_alert_message(feeder.id, feeder.code, alert, "cleared"))
    return True


def _alert_message(feeder_id: int, code: str, alert: FeederAlert, state: str) -> tuple[list[str], str, dict]:
    payload = FeederAlertPayload(
        feeder_id=feeder_id,
        code=code,
        alert_id=alert.pk,
        kind=alert.kind,
        state=state,
        raised_at=iso_utc(alert.raised_at),
        cleared_at=iso_utc(alert.cleared_at),
        load_percent=alert.load_percent,
    )
    return feeder_groups(feeder_id), ALERT, dict(payload)


ENGINE_TASK = "curtailment.tasks.event_open_for_alert"


def _engine_hand_over(alert_id: int) -> None:
    """Queue the engine's task on commit, by name: the engine decides whether the feeder is
    high-risk with automatic curtailment on. By name so this app never imports theirs."""

    def send() -> None:
        try:
            current_app.send_task(ENGINE_TASK, kwargs={"alert_id": alert_id})
        except Exception:  # the broker may be down; the alert row is stored and visible
            logger.exception("could not queue %s for alert %s", ENGINE_TASK, alert_id)

    transaction.on_commit(send)


def _summaries_update(
    advancing: dict[int, list[ReadingIn]],
    feeders: dict[int, _FeederRow],
    open_alerts: dict[int, _AlertState | None],
    *,
    offline_cutoff: datetime,
    messages: list,
) -> None:
    """Write each feeder's ``last_reading_at``/``last_load_percent``/``status`` (one
    statement on PostgreSQL) and queue its ``feeder.reading`` and status pushes."""
    back_online = [
        feeder_id
        for feeder_id, readings in advancing.items()
        if feeders[feeder_id].status == FeederStatus.OFFLINE and readings[-1].measured_at >= offline_cutoff
    ]
    curtailing = set()
    if back_online:
        from curtailment.models import OPEN_EVENT_STATES, CurtailmentEvent

        curtailing = set(
            CurtailmentEvent.objects.filter(feeder_id__in=back_online, status__in=OPEN_EVENT_STATES).values_list(
                "feeder_id", flat=True
            )
        )
    updates: list[tuple[int, datetime, float, str]] = []
    for feeder_id, readings in advancing.items():
        feeder = feeders[feeder_id]
        latest = readings[-1]
        load = round(_load(feeder, latest), 2)
        status = _status_after(feeder, open_alerts.get(feeder_id), feeder_id in curtailing, latest, offline_cutoff)
        updates.append((feeder_id, latest.measured_at, load, status))
        if status != feeder.status:
            status_payload = FeederStatusPayload(
                feeder_id=feeder_id,
                code=feeder.code,
                status=status,
                previous_status=feeder.status,
                last_reading_at=iso_utc(latest.measured_at),
                load_percent=load,
            )
            messages.append((feeder_groups(feeder_id), STATUS, dict(status_payload)))
        reading_payload = FeederReadingPayload(
            feeder_id=feeder_id,
            code=feeder.code,
            measured_at=iso_utc(latest.measured_at),
            amps=list(latest.amps),
            kw=latest.kw,
            load_percent=load,
            status=status,
        )
        messages.append((feeder_groups(feeder_id), READING, dict(reading_payload)))
    if connection.vendor == "postgresql":
        pg_rows(
            """
            UPDATE feeders_feeder AS f
            SET last_reading_at = v.at, last_load_percent = v.load, status = v.status
            FROM unnest(%s::bigint[], %s::timestamptz[], %s::float8[], %s::varchar[]) AS v(id, at, load, status)
            WHERE f.id = v.id
            """,
            [pg_array(list(column)) for column in zip(*updates, strict=True)],
        )
        return
    for feeder_id, measured_at, load, status in updates:
        Feeder.objects.filter(pk=feeder_id).update(last_reading_at=measured_at, last_load_percent=load, status=status)


def _status_after(
    feeder: _FeederRow, alert: _AlertState | None, curtailing: bool, latest: ReadingIn, offline_cutoff: datetime
) -> str:
    """The status after a batch. ``curtailing`` belongs to the engine and is left alone; a
    feeder whose newest reading is still too old stays offline."""
    status = feeder.status
    if status == FeederStatus.OFFLINE:
        if latest.measured_at < offline_cutoff:
            return status
        if curtailing:
            return FeederStatus.CURTAILING
        return FeederStatus.AT_RISK if alert is not None else FeederStatus.NORMAL
    if status == FeederStatus.CURTAILING:
        return status
    return FeederStatus.AT_RISK if alert is not None else FeederStatus.NORMAL


# --- external alerts (SCADA) ---------------------------------------------------------------


@dataclass(frozen=True)
class ExternalAlertResult:
    alert: FeederAlert
    created: bool


def feeder_alert_raise_external(
    *,
    feeder: Feeder,
    raised_at: datetime,
    reason: str,
    source: str,
    load_percent: float | None = None,
) -> ExternalAlertResult:
    """Open an external alert (the DNO's SCADA says the feeder is at risk) and hand over
    to the engine, exactly like a detected one.

    State change only: when the feeder already has an open alert (of any kind) that
    alert is returned with ``created=False`` and nothing else happens.
    """
    with transaction.atomic():
        locked = Feeder.objects.select_for_update().get(pk=feeder.pk)
        existing = FeederAlert.objects.filter(feeder_id=locked.pk, cleared_at__isnull=True).first()
        if existing is not None:
            return ExternalAlertResult(existing, False)
        try:
            with transaction.atomic():
                alert = FeederAlert.objects.create(
                    feeder=locked,
                    kind=AlertKind.EXTERNAL,
                    source=source[:100],
                    raised_at=raised_at,
                    load_percent=load_percent,
                    forecast={"reason": reason},
                )
        except IntegrityError:  # raced by a path that did not lock the feeder
            return ExternalAlertResult(FeederAlert.objects.get(feeder_id=locked.pk, cleared_at__isnull=True), False)
        audit_record(
            action="alert_raised",
            rule="detection",
            target=alert,
            reason=f"external alert from {source}: {reason}",
            inputs={
                "feeder": locked.code,
                "source": source,
                "raised_at": iso_utc(raised_at),
                "load_percent": load_percent,
                "rating_amps": locked.rating_amps,
                "at_risk_percent": locked.at_risk_percent,
                "clear_percent": locked.clear_percent,
            },
        )
        messages = [_alert_message(locked.pk, locked.code, alert, "raised")]
        pushes_on_commit(messages)
        if locked.status in (FeederStatus.NORMAL, FeederStatus.OFFLINE):
            feeder_status_set(feeder=locked, status=FeederStatus.AT_RISK)
        _engine_hand_over(alert.pk)
    return ExternalAlertResult(alert, True)


def feeder_status_refresh(*, feeder: Feeder, now: datetime | None = None) -> str:
    """Re-derive the feeder's status from the database and set it (pushing on a change):
    offline when its latest reading is too old, else curtailing while an event is open,
    else at risk while an alert is open, else normal. For the engine to call when an
    event ends, so the feeder drops back to the right state."""
    from curtailment.models import OPEN_EVENT_STATES, CurtailmentEvent

    now = now or timezone.now()
    fresh = Feeder.objects.get(pk=feeder.pk)
    offline_after = timedelta(minutes=settings.DNOCTL["OFFLINE_AFTER_MINUTES"])
    if fresh.last_reading_at is None or now - fresh.last_reading_at > offline_after:
        status = FeederStatus.OFFLINE
    elif CurtailmentEvent.objects.filter(feeder_id=fresh.pk, status__in=OPEN_EVENT_STATES).exists():
        status = FeederStatus.CURTAILING
    elif FeederAlert.objects.filter(feeder_id=fresh.pk, cleared_at__isnull=True).exists():
        status = FeederStatus.AT_RISK
    else:
        status = FeederStatus.NORMAL
    feeder_status_set(feeder=feeder, status=status)
    return status
