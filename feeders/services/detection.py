"""At-risk detection (R1): threshold, trend and hysteresis on new live readings, and the hand-
over to the curtailment engine."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, NamedTuple

from django.conf import settings
from django.db import IntegrityError, transaction

from core.audit import audit_record
from core.push import FEEDERS_ALL, feeder_group
from core.times import iso_utc
from feeders import dialect
from feeders.choices import AlertKind, FeederStatus
from feeders.events import (
    ALERT,
    FEEDERS_ALL_SINGLE_LIMIT,
    READING,
    READINGS,
    STATUS,
    FeederAlertPayload,
    FeederReadingPayload,
    FeederReadingsPayload,
    FeederStatusPayload,
    feeder_groups,
    pushes_on_commit,
)
from feeders.hooks import alert_raised_announce, feeders_curtailing
from feeders.models import Feeder, FeederAlert
from feeders.selectors import Trend, feeder_trends
from feeders.services.feeder import feeder_status_set

logger = logging.getLogger(__name__)

# Never compute a trend below this load: from half load a feeder would have to double in
# ten minutes to overload, and a jump that big is caught by the threshold on its own. It
# keeps the trend query off the vast majority of feeders, which sit well below it.
TREND_FLOOR_PERCENT = 50.0


# ReadingIn and FeederRow are NamedTuples, not frozen dataclasses: a batch builds a thousand
# of them, and a frozen dataclass sets each field through object.__setattr__.


class ReadingIn(NamedTuple):
    """One validated reading, its load % worked out once: detection, the trend and the summary all judge it."""

    row: int
    feeder_id: int
    measured_at: datetime
    amps: tuple[float, ...]
    kw: float
    load_percent: float


class FeederRow(NamedTuple):
    id: int
    code: str
    monitor_device_id: str | None
    phases: int
    rating_amps: float
    at_risk_percent: float
    clear_percent: float
    status: str
    last_reading_at: datetime | None


# --- at-risk detection -------------------------------------------------------------------


@dataclass
class _AlertState:
    id: int
    below_clear_since: datetime | None
    original_below_clear_since: datetime | None


def readings_apply(inserted: list[ReadingIn], feeders: dict[int, FeederRow], *, now: datetime) -> tuple[list, list]:
    """Move each feeder's summary forward and run detection on its new, live readings.

    A late reading judges nothing (a newer one already did), and a monitor replaying its buffer
    after an outage must not raise alerts about the past. The caller holds the feeders' row
    locks."""
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
        feeder_id: _AlertState(alert_id, below, below)
        for alert_id, feeder_id, below in dialect.open_alerts(list(advancing))
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
        if state is None and latest.load_percent >= TREND_FLOOR_PERCENT:
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


def _detect_step(
    feeder: FeederRow,
    state: _AlertState | None,
    reading: ReadingIn,
    *,
    now: datetime,
    raised: list[int],
    cleared: list[int],
    messages: list,
) -> _AlertState | None:
    """Raise on a state change only; clear only after the load stayed below the clear level for
    the hold time, so a load hovering at the threshold cannot make the alert flap."""
    load = reading.load_percent
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


def _alert_inputs(feeder: FeederRow, reading: ReadingIn | None, trend: Trend | None) -> dict[str, Any]:
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
            load_percent=round(reading.load_percent, 2),
        )
    if trend is not None:
        inputs["trend"] = trend.as_inputs()
    return inputs


def _alert_raise(
    feeder: FeederRow, reading: ReadingIn, kind: str, trend: Trend | None, *, now: datetime, messages: list
) -> int | None:
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
        else f"trend {trend.slope_percent_per_minute:+.2f}%/min (latest readings "
        f"{trend.recent_slope_percent_per_minute:+.2f}%/min) forecasts {trend.forecast_percent:.1f}% of rating "
        f"within {trend.horizon_minutes:g} minutes"
    )
    audit_record(action="alert.raised", rule="detection", target=alert, reason=why, inputs=inputs)
    messages.append(_alert_message(feeder.id, feeder.code, alert, "raised"))
    _engine_hand_over(alert.pk)
    return alert.pk


def _alert_clear(
    feeder: FeederRow, state: _AlertState, reading: ReadingIn, load: float, *, now: datetime, messages: list
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
    audit_record(action="alert.cleared", rule="detection", target=alert, reason=reason, inputs=inputs)
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


def _engine_hand_over(alert_id: int) -> None:

    def send() -> None:
        try:
            alert_raised_announce(alert_id)
        except Exception:  # the broker may be down; the alert row is stored and visible
            logger.exception("could not hand alert %s over to the curtailment engine", alert_id)

    transaction.on_commit(send)


def _summaries_update(
    advancing: dict[int, list[ReadingIn]],
    feeders: dict[int, FeederRow],
    open_alerts: dict[int, _AlertState | None],
    *,
    offline_cutoff: datetime,
    messages: list,
) -> None:
    back_online = [
        feeder_id
        for feeder_id, readings in advancing.items()
        if feeders[feeder_id].status == FeederStatus.OFFLINE and readings[-1].measured_at >= offline_cutoff
    ]
    curtailing = feeders_curtailing(back_online)
    updates: list[tuple[int, datetime, float, str]] = []
    builders: list[partial] = []
    for feeder_id, readings in advancing.items():
        feeder = feeders[feeder_id]
        latest = readings[-1]
        load = round(latest.load_percent, 2)
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
            messages.append((feeder_groups(feeder_id), STATUS, status_payload))
        # Built only if someone watches this feeder (see ``feeders.events.pushes_on_commit``).
        builders.append(partial(_reading_payload, feeder_id, feeder.code, latest, load, status))
    if len(builders) <= FEEDERS_ALL_SINGLE_LIMIT:
        messages.extend((feeder_groups(build.args[0]), READING, build) for build in builders)
    else:
        messages.extend(([feeder_group(build.args[0])], READING, build) for build in builders)
        messages.append(([FEEDERS_ALL], READINGS, partial(_readings_payload, builders)))
    dialect.feeder_summaries_write(updates)


def _reading_payload(feeder_id: int, code: str, latest: ReadingIn, load: float, status: str) -> FeederReadingPayload:
    return FeederReadingPayload(
        feeder_id=feeder_id,
        code=code,
        measured_at=iso_utc(latest.measured_at),
        amps=list(latest.amps),
        kw=latest.kw,
        load_percent=load,
        status=status,
    )


def _readings_payload(builders: list[partial]) -> FeederReadingsPayload:
    return FeederReadingsPayload(readings=[build() for build in builders])


def _status_after(
    feeder: FeederRow, alert: _AlertState | None, curtailing: bool, latest: ReadingIn, offline_cutoff: datetime
) -> str:
    """``curtailing`` belongs to the engine and is left alone."""
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
    """Open an alert the DNO's SCADA raised and hand it to the engine like a detected one; an
    already open alert is returned with ``created=False``."""
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
            action="alert.raised",
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
