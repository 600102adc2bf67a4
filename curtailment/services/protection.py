"""Protection of at-risk feeders, every few seconds: the time-to-failure clock, invariant 8, and
escalation (more chargers, then the ASP, then an operator alarm) when relief is not confirmed by the
stage's deadline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import audit_record, audit_record_once
from core.models import AuditEntry
from curtailment.budget import command_budget, commands_needed
from curtailment.choices import ActionStatus, ClockState, EscalationStage, EventStatus
from curtailment.clock import Clock, failure_clock, stage_wait_seconds
from curtailment.events import (
    protection_clock_cleared_payload,
    protection_clock_payload,
    protection_clock_pushed,
)
from curtailment.models import OPEN_EVENT_STATES, CurtailmentEvent, FailureClock
from curtailment.selection import selection_candidates
from curtailment.services.asp import asp_call_off, asp_kw_available, asp_relief_kw
from curtailment.services.common import COUNTING_ACTION_STATES
from curtailment.services.event import (
    AUTO_RULE,
    chargers_not_asked_again,
    event_top_up,
    knob,
    required_reduction_kw,
)
from curtailment.services.lifetime import event_open_for_alert, feeder_automatic
from feeders.models import Feeder, FeederAlert
from feeders.selectors import TREND_HORIZON_MINUTES, feeder_alert_open, feeder_load_now, feeder_trend

PROTECTION_RULE = "protection"
STAGES = [EscalationStage.WAITING, EscalationStage.CHARGERS, EscalationStage.ASP, EscalationStage.OPERATOR]
# A reading this long after the latest confirmation shows what the confirmed chargers did.
SETTLE_AFTER_CONFIRMATION = dt.timedelta(seconds=60)


def feeders_at_risk_ids() -> list[int]:
    """Feeders with an open alert, an open event, or a clock still to clear."""
    ids = set(FeederAlert.objects.filter(cleared_at__isnull=True).values_list("feeder_id", flat=True))
    ids |= set(CurtailmentEvent.objects.filter(status__in=OPEN_EVENT_STATES).values_list("feeder_id", flat=True))
    ids |= set(FailureClock.objects.values_list("feeder_id", flat=True))
    return sorted(ids)


def feeder_protection_check(*, feeder_id: int, now: dt.datetime | None = None) -> str:
    """One look at a feeder's protection. Idempotent: each step once per stage, under the clock's row lock."""

    now = now or timezone.now()
    feeder = Feeder.objects.filter(pk=feeder_id).first()
    if feeder is None:
        return "gone"
    alert = feeder_alert_open(feeder=feeder)
    event = CurtailmentEvent.objects.filter(feeder=feeder, status__in=OPEN_EVENT_STATES).first()
    if event is None and alert is not None and feeder_automatic(feeder):
        opened = event_open_for_alert(alert_id=alert.pk, at=now)
        event = opened if opened is not None and opened.is_open else None
    if alert is None and event is None:
        _clock_clear(feeder_id=feeder.pk)
        return "clear"
    load = feeder_load_now(feeder=feeder, now=now)
    trend = None if load.stale else feeder_trend(feeder=feeder)
    with transaction.atomic():
        row = _clock_locked(feeder_id=feeder.pk, now=now)
        clock = failure_clock(
            load_percent=load.load_percent,
            reading_at=load.measured_at,
            stale=load.stale,
            slope_percent_per_minute=trend.slope_percent_per_minute if trend is not None and trend.sufficient else None,
            over_rating_since=row.over_rating_since,
            now=now,
            fuse_margin_minutes=float(knob("FUSE_MARGIN_MINUTES")),
        )
        relief = _relief(event=event, feeder=feeder, alert=alert, load=load, clock=clock, now=now)
        stage = _escalate(row=row, feeder=feeder, event=event, alert=alert, clock=clock, relief=relief, now=now)
        for name, value in {
            "event": event,
            "alert": alert,
            "computed_at": now,
            "reading_at": load.measured_at,
            "load_percent": load.load_percent,
            "slope_percent_per_minute": trend.slope_percent_per_minute if trend and trend.sufficient else None,
            "state": clock.state,
            "minutes_to_rating": clock.minutes_to_rating,
            "minutes_to_failure": clock.minutes_to_failure,
            "over_rating_since": clock.over_rating_since,
            "relief_needed_kw": relief.needed_kw,
            "relief_confirmed_kw": relief.confirmed_kw,
            "relieved": relief.relieved,
            **stage,
        }.items():
            setattr(row, name, value)
        row.save()
        protection_clock_pushed(protection_clock_payload(row))
    return row.stage


def _clock_locked(*, feeder_id: int, now: dt.datetime) -> FailureClock:
    try:
        with transaction.atomic():
            FailureClock.objects.get_or_create(
                feeder_id=feeder_id,
                defaults={"computed_at": now, "state": ClockState.UNKNOWN, "stage_started_at": now},
            )
    except IntegrityError:  # another check created it first
        pass
    return FailureClock.objects.select_for_update().get(feeder_id=feeder_id)


def _clock_clear(*, feeder_id: int) -> None:
    """The risk is over: delete the clock and resolve any alarm in the audit trail."""
    with transaction.atomic():
        row = FailureClock.objects.select_for_update().filter(feeder_id=feeder_id).first()
        if row is None:
            return
        if row.alarm:
            audit_record(
                action="protection.clear",
                rule=PROTECTION_RULE,
                target=row.feeder,
                reason="no open alert and no open event: the risk is over",
                inputs={"alarm": row.alarm, "stage": row.stage},
            )
        row.delete()
        protection_clock_pushed(protection_clock_cleared_payload(feeder_id=feeder_id))


# --- relief -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Relief:
    """What the event needs and what is confirmed to be delivered."""

    needed_kw: float
    confirmed_kw: float
    relieved: bool
    why: str


def _relief(*, event: CurtailmentEvent | None, feeder, alert, load, clock: Clock, now: dt.datetime) -> Relief:
    if event is None:
        return Relief(0.0, 0.0, False, "no open event")
    needed = event.required_reduction_kw
    rows = list(event.actions.filter(status=ActionStatus.CONFIRMED).values_list("expected_kw", "confirmed_at"))
    confirmed = sum(kw for kw, _ in rows) + asp_relief_kw(event=event, at=now)
    if event.status == EventStatus.RELEASING and alert is None:
        return Relief(needed, confirmed, True, "released: the load stayed below the clear level")
    # Releasing while an alert is open (the load came back before the resets were answered):
    # nothing of it counts, so the operator is alarmed until the next event takes over.
    fresh = not load.stale and load.load_percent is not None
    heading = clock.state == ClockState.RISING and (clock.minutes_to_rating or 0.0) <= TREND_HORIZON_MINUTES
    if fresh and load.load_percent < feeder.at_risk_percent and not heading:
        return Relief(needed, confirmed, True, f"load {load.load_percent:.1f}% below the at-risk level")
    last_confirmed = max((at for _, at in rows if at is not None), default=None)
    if (
        fresh
        and last_confirmed is not None
        and load.load_percent >= feeder.at_risk_percent
        and load.measured_at - last_confirmed >= SETTLE_AFTER_CONFIRMATION
    ):
        # What was confirmed did not bring the load down: it needs that much more again.
        more = required_reduction_kw(feeder=feeder, kw=load.kw, load_percent=load.load_percent)
        return Relief(
            max(needed, confirmed + more),
            confirmed,
            False,
            f"load {load.load_percent:.1f}% still at or above the at-risk level a minute after "
            f"{confirmed:.1f} kW were confirmed",
        )
    why = f"{confirmed:.1f} kW confirmed of {needed:.1f} kW needed"
    return Relief(needed, confirmed, confirmed >= needed - 0.01, why)


# --- escalation ---------------------------------------------------------------------------------


def _escalate(
    *, row: FailureClock, feeder, event: CurtailmentEvent | None, alert, clock: Clock, relief: Relief, now: dt.datetime
) -> dict:
    """The clock's new stage, deadline and alarm; takes the escalation steps that are due."""
    if event is None:
        return _unprotected(row=row, feeder=feeder, alert=alert, now=now)
    same_event = row.event_id == event.pk
    stage = row.stage if same_event else EscalationStage.WAITING
    started = row.stage_started_at if same_event else event.started_at
    if relief.relieved:
        if stage != EscalationStage.WAITING:
            audit_record(
                action="escalation.relieved",
                rule=PROTECTION_RULE,
                target=event,
                reason=f"relief confirmed: {relief.why}",
                inputs=_inputs(feeder=feeder, clock=clock, relief=relief, stage=stage),
            )
        # The wait for the next relief starts from the last moment relief was confirmed.
        return {"stage": EscalationStage.WAITING, "stage_started_at": now, "relief_due_at": None, **_no_alarm()}
    due = started + _stage_wait(clock, stage)
    while stage != EscalationStage.OPERATOR and now >= due:
        stage = STAGES[STAGES.index(stage) + 1]
        acted = _escalation_step(stage=stage, feeder=feeder, event=event, clock=clock, relief=relief, due=due, now=now)
        started = now
        # A step that could do nothing (no charger, no ASP) passes to the next one at once.
        due = now + _stage_wait(clock, stage) if acted else now
    left = _what_is_left(feeder=feeder, event=event, now=now)
    alarm = []
    if stage == EscalationStage.OPERATOR:
        alarm.append(
            f"Relief on {feeder.code} not confirmed in time: {relief.confirmed_kw:.1f} of {relief.needed_kw:.1f} kW "
            f"confirmed{_time_left_text(clock)}. Left: {left.chargers} eligible charger(s) with allowance, "
            f"{left.asp_kw:.1f} kW of ASP contracts uncalled."
        )
    exhausted = left.shortfall_kw > 0.01 and left.chargers == 0 and not left.deferred
    if exhausted:
        alarm.append(
            f"Every eligible charger on {feeder.code} is at its usage limit or already off: "
            f"{left.shortfall_kw:.1f} kW short. Consider mobile generation or a load transfer."
        )
    if left.deferred:
        alarm.append(f"{left.deferred} charger(s) deferred: {left.deferred_reason}.")
    if exhausted != row.exhausted or (exhausted and not same_event):
        audit_record(
            action="protection.exhausted" if exhausted else "protection.exhausted_over",
            rule=PROTECTION_RULE,
            target=event,
            reason=alarm[-1] if exhausted else "eligible chargers with allowance are available again",
            inputs={
                **_inputs(feeder=feeder, clock=clock, relief=relief, stage=stage),
                "shortfall_kw": left.shortfall_kw,
            },
        )
    return {
        "stage": stage,
        "stage_started_at": started,
        "relief_due_at": None if stage == EscalationStage.OPERATOR else due,
        "exhausted": exhausted,
        "alarm": " ".join(alarm),
    }


def _no_alarm() -> dict:
    return {"exhausted": False, "alarm": ""}


def _stage_wait(clock: Clock, stage: str) -> dt.timedelta:
    stages_left = len(STAGES) - 1 - STAGES.index(stage)
    seconds = stage_wait_seconds(
        clock=clock,
        stages_left=stages_left,
        min_s=float(knob("CONFIRMATION_TIMEOUT_S")),
        max_s=float(knob("ESCALATION_MAX_WAIT_S")),
    )
    return dt.timedelta(seconds=seconds)


def _escalation_step(
    *, stage: str, feeder, event: CurtailmentEvent, clock: Clock, relief: Relief, due: dt.datetime, now: dt.datetime
) -> bool:
    inputs = {**_inputs(feeder=feeder, clock=clock, relief=relief, stage=stage), "due_at": due.isoformat()}
    if stage == EscalationStage.CHARGERS:
        added = event_top_up(
            event_id=event.pk,
            reason=f"escalation: relief not confirmed by {due:%H:%M:%S} UTC, chargers added for the unconfirmed kW",
            extra_kw=max(0.0, relief.needed_kw - event.required_reduction_kw),
            confirmed_only=True,
            at=now,
        )
        audit_record(
            action="escalation.chargers",
            rule=PROTECTION_RULE,
            target=event,
            reason=f"relief not confirmed in time ({relief.why}): {len(added)} more charger(s) called",
            inputs={**inputs, "added_actions": added},
        )
        return bool(added)
    if stage == EscalationStage.ASP:
        shortfall = max(0.0, relief.needed_kw - relief.confirmed_kw)
        asked = asp_call_off(event=event, kw=shortfall, at=now) if shortfall > 0 else 0.0
        audit_record(
            action="escalation.asp",
            rule=PROTECTION_RULE,
            target=event,
            reason=f"relief still not confirmed ({relief.why}): asked the ASP for {asked:.1f} of {shortfall:.1f} kW"
            if asked
            else "relief still not confirmed and no ASP contract covering the feeder has kW left",
            inputs={**inputs, "asked_kw": asked, "shortfall_kw": shortfall},
        )
        return asked > 0
    audit_record(
        action="escalation.alarm",
        rule=PROTECTION_RULE,
        target=event,
        reason=f"relief not confirmed in time ({relief.why}): the operator is alarmed",
        inputs=inputs,
    )
    return True


@dataclass(frozen=True)
class WhatIsLeft:
    shortfall_kw: float
    chargers: int
    asp_kw: float
    deferred: int
    deferred_reason: str


def _what_is_left(*, feeder, event: CurtailmentEvent, now: dt.datetime) -> WhatIsLeft:
    """What could still be called on: chargers with allowance, uncalled ASP kW, budget-deferred chargers."""
    counting = list(event.actions.filter(status__in=COUNTING_ACTION_STATES).values_list("hcalcs_id", "expected_kw"))
    shortfall = max(0.0, event.required_reduction_kw - event.asp_calloff_kw - sum(kw for _, kw in counting))
    live = set(event.actions.filter(ended_at__isnull=True).values_list("hcalcs_id", flat=True))
    candidates, _ = selection_candidates(
        feeder=feeder, at=now, exclude_hcalcs_ids=live | chargers_not_asked_again(event)
    )
    min_useful = int(knob("MIN_USEFUL_MINUTES"))
    usable = [c for c in candidates if c.allowance >= min_useful and c.expected_kw > 0]
    budget = command_budget(at=now)
    blocked = [
        c
        for c in usable
        if budget.refusal(
            commands_needed(override_allowed=c.override_allowed, on_boost_button=c.on_boost_button, limit=c.is_apc)
        )
    ]
    reason = budget.refusal({"7.6": 1}) or budget.refusal({"7.9": 1}) or ""
    return WhatIsLeft(
        shortfall_kw=shortfall,
        chargers=len(usable) - len(blocked),
        asp_kw=asp_kw_available(feeder_id=feeder.pk, at=now),
        deferred=len(blocked) if shortfall > 0.01 else 0,
        deferred_reason=reason,
    )


def _unprotected(*, row: FailureClock, feeder, alert, now: dt.datetime) -> dict:
    """An open alert with no open event breaks invariant 8 unless the operator is told why."""
    if not feeder_automatic(feeder):
        return {"stage": EscalationStage.WAITING, "stage_started_at": now, "relief_due_at": None, **_no_alarm()}
    decision = (
        AuditEntry.objects.filter(target_type="feeders.feederalert", target_id=str(alert.pk), actor=f"rule:{AUTO_RULE}")
        .order_by("-at", "-id")
        .values_list("reason", flat=True)
        .first()
    )
    alarm = f"{feeder.code} is at risk with no curtailment event: {decision or 'the engine has not decided yet'}."
    audit_record_once(
        action="protection.unprotected",
        rule=PROTECTION_RULE,
        target=alert,
        reason=alarm,
        inputs={"feeder": feeder.code, "alert_id": alert.pk},
    )
    started = row.stage_started_at if row.stage == EscalationStage.OPERATOR and row.event_id is None else now
    return {
        "stage": EscalationStage.OPERATOR,
        "stage_started_at": started,
        "relief_due_at": None,
        "exhausted": False,
        "alarm": alarm,
    }


def _time_left_text(clock: Clock) -> str:
    if clock.state == ClockState.OVER_RATING:
        return f"; over its rating, fuse likely to blow in {clock.minutes_to_failure:.0f} min"
    if clock.state == ClockState.RISING:
        return f"; rating reached in {clock.minutes_to_rating:.0f} min"
    return ""


def _inputs(*, feeder, clock: Clock, relief: Relief, stage: str) -> dict:
    return {
        "feeder": feeder.code,
        "stage": stage,
        "clock_state": clock.state,
        "minutes_to_rating": None if clock.minutes_to_rating is None else round(clock.minutes_to_rating, 2),
        "minutes_to_failure": None if clock.minutes_to_failure is None else round(clock.minutes_to_failure, 2),
        "needed_kw": round(relief.needed_kw, 3),
        "confirmed_kw": round(relief.confirmed_kw, 3),
        "relief": relief.why,
    }
