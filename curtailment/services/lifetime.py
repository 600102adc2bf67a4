"""How long an event lives: as long as its feeder is at risk.

A manual event still covering an open alert is taken over by the automatic rule before its end, so
replacements are confirmed with no gap. After an operator's cancel a new event opens only if the
load is still at risk ``CANCEL_HOLD_OFF_MINUTES`` later: neither undoing the operator nor abandoning
the feeder.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from core.audit import audit_record, audit_record_once
from curtailment.choices import EventEndReason, EventStatus, EventTrigger
from curtailment.models import OPEN_EVENT_STATES, CurtailmentEvent
from curtailment.selection import rotation_minutes
from curtailment.services.common import logger, push_event
from curtailment.services.event import (
    AUTO_RULE,
    EventAlreadyOpen,
    curtailment_event_start,
    knob,
    required_reduction_kw,
    rotation_lead,
)
from feeders.choices import AlertKind
from feeders.models import FeederAlert
from feeders.selectors import feeder_alert_open, feeder_load_now


def feeder_automatic(feeder) -> bool:
    """The automatic rule acts on this feeder: designated high-risk, automatic curtailment on."""
    return bool(feeder.high_risk and feeder.automatic_curtailment)


def event_lives_while_at_risk(event: CurtailmentEvent, feeder) -> bool:
    """The event goes on past its planned end while its feeder is at risk."""
    return event.while_at_risk and feeder_automatic(feeder)


def event_horizon() -> dt.timedelta:
    """How far ahead a while-at-risk event keeps its planned end: a whole rotation slot."""
    return dt.timedelta(minutes=max(int(knob("DEFAULT_EVENT_MINUTES")), 2 * rotation_minutes()))


def event_lifetime_review(*, event: CurtailmentEvent, feeder, now: dt.datetime) -> bool:
    """Keep the event going while its feeder is at risk; returns whether it goes on past its planned end."""
    if not feeder_automatic(feeder):
        return False
    if not event.while_at_risk:
        if now < event.planned_end_at - rotation_lead():
            return False
        alert = feeder_alert_open(feeder=feeder)
        if alert is None:
            return False
        _take_over(event=event, alert=alert, now=now)
    if event.planned_end_at - now < dt.timedelta(minutes=rotation_minutes()):
        _extend(event=event, now=now)
    return True


def _take_over(*, event: CurtailmentEvent, alert, now: dt.datetime) -> None:
    with transaction.atomic():
        moved = CurtailmentEvent.objects.filter(pk=event.pk, status=EventStatus.ACTIVE, while_at_risk=False).update(
            while_at_risk=True, alert=event.alert or alert
        )
        if not moved:
            return
        event.while_at_risk = True
        event.alert = event.alert or alert
        audit_record(
            action="event.take_over",
            rule=AUTO_RULE,
            target=event,
            reason=f"planned end coming while alert {alert.pk} is open on a high-risk feeder with automatic "
            "curtailment on: the event goes on while the feeder is at risk",
            inputs={"alert_id": alert.pk, "planned_end_at": event.planned_end_at.isoformat(), "trigger": event.trigger},
        )


def _extend(*, event: CurtailmentEvent, now: dt.datetime) -> None:
    new_end = now + event_horizon()
    with transaction.atomic():
        moved = CurtailmentEvent.objects.filter(
            pk=event.pk, status=EventStatus.ACTIVE, planned_end_at=event.planned_end_at
        ).update(planned_end_at=new_end)
        if not moved:
            return
        feeder = event.feeder
        audit_record(
            action="event.extend",
            rule=AUTO_RULE,
            target=event,
            reason=f"feeder still at risk (not below its clear level {feeder.clear_percent:g}% for "
            f"{knob('CLEAR_HOLD_MINUTES')} minutes): the event goes on",
            inputs={
                "previous_planned_end_at": event.planned_end_at.isoformat(),
                "planned_end_at": new_end.isoformat(),
                "rotation_minutes": rotation_minutes(),
            },
        )
        event.planned_end_at = new_end
        push_event(event)


# --- an alert with no open event ----------------------------------------------------------------


def event_open_for_alert(*, alert_id: int, at: dt.datetime | None = None) -> CurtailmentEvent | None:
    """Open an automatic event for an alert without one if called for; audited once per decision."""

    now = at or timezone.now()
    alert = FeederAlert.objects.select_related("feeder").filter(pk=alert_id).first()
    if alert is None:
        logger.warning("alert %s is gone", alert_id)
        return None
    feeder = alert.feeder
    existing = CurtailmentEvent.objects.filter(feeder=feeder, status__in=OPEN_EVENT_STATES).first()
    if existing is not None:
        if existing.alert_id is None and feeder_automatic(feeder):
            audit_record_once(
                action="event.alert_covered",
                rule=AUTO_RULE,
                target=alert,
                reason=f"event {existing.pk} is open on the feeder: if the alert is still open at its planned end, "
                "the automatic rule takes it over",
                inputs={"event_id": existing.pk, "trigger": existing.trigger},
            )
        return existing
    if alert.cleared_at is not None:
        return None
    previous = (
        CurtailmentEvent.objects.filter(feeder=feeder, ended_at__gte=alert.raised_at).order_by("-ended_at").first()
    )
    load = feeder_load_now(feeder=feeder, now=now)
    fresh = load.load_percent is not None and not load.stale
    percent = load.load_percent if fresh else alert.load_percent
    forecast = (alert.forecast or {}).get("forecast_percent")
    # The alert's own forecast sizes only its first event; a later one goes by the load now.
    use_forecast = alert.kind == AlertKind.TREND and previous is None
    judged = max(p for p in (percent, forecast if use_forecast else None, 0.0) if p is not None)
    kw = load.kw if not load.stale else None
    if kw is None and percent and previous is None:
        # No fresh reading (an external alert from SCADA): estimate from the alert's load.
        kw = feeder.rating_kw * percent / 100.0
    if kw is not None and percent and judged > percent:
        kw = kw * judged / percent  # a trend alert: size the cut for the forecast load
    inputs = {
        "alert_id": alert.pk,
        "alert_kind": alert.kind,
        "load_kw": kw,
        "load_percent": percent,
        "judged_percent": judged,
        "at_risk_percent": feeder.at_risk_percent,
        "clear_percent": feeder.clear_percent,
        "rating_kw": round(feeder.rating_kw, 3),
        "margin": knob("REDUCTION_MARGIN"),
        "reading_at": load.measured_at.isoformat() if load.measured_at else None,
        "stale": load.stale,
        "follows_event_id": previous.pk if previous else None,
    }
    if not feeder_automatic(feeder):
        audit_record_once(
            action="event.not_started",
            rule=AUTO_RULE,
            target=alert,
            reason="feeder is not high-risk with automatic curtailment on",
            inputs={**inputs, "high_risk": feeder.high_risk, "automatic": feeder.automatic_curtailment},
        )
        return None
    if previous is not None and previous.end_reason == EventEndReason.CANCELLED:
        hold_minutes = int(knob("CANCEL_HOLD_OFF_MINUTES"))
        if (
            now - previous.ended_at < dt.timedelta(minutes=hold_minutes)
            or not fresh
            or load.load_percent < feeder.at_risk_percent
        ):
            audit_record_once(
                action="event.not_started",
                rule=AUTO_RULE,
                target=alert,
                reason=f"an operator cancelled event {previous.pk}: a new event opens once the load is at the "
                f"at-risk level {feeder.at_risk_percent:g}% again, {hold_minutes} minutes or more after the cancel",
                inputs={**inputs, "cancelled_at": previous.ended_at.isoformat()},
            )
            return None
    reduction = required_reduction_kw(feeder=feeder, kw=kw, load_percent=judged)
    if reduction <= 0:
        audit_record_once(
            action="event.not_started",
            rule=AUTO_RULE,
            target=alert,
            reason="no load to shed: no fresh reading above the clear level",
            inputs=inputs,
        )
        return None
    trigger = EventTrigger.EXTERNAL if alert.kind == AlertKind.EXTERNAL else EventTrigger.AUTOMATIC
    reason = f"{alert.get_kind_display()} at {judged:.1f}% of rating"
    if previous is not None:
        reason = f"alert still open after event {previous.pk} ended ({previous.get_end_reason_display()}): {reason}"
    try:
        return curtailment_event_start(
            feeder=feeder,
            reduction_kw=reduction,
            duration_minutes=int(knob("DEFAULT_EVENT_MINUTES")),
            reason=reason,
            trigger=trigger,
            alert=alert,
            inputs=inputs,
            at=now,
            while_at_risk=True,
        )
    except EventAlreadyOpen:
        return CurtailmentEvent.objects.filter(feeder=feeder, status__in=OPEN_EVENT_STATES).first()
