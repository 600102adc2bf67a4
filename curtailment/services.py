"""Curtailment writes: opening and cancelling events (first cut; selection and dispatch land
next). Signatures are final: the dashboard calls these for "curtail now" and "cancel"."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from curtailment.audit import audit_record
from curtailment.choices import EventEndReason, EventStatus, EventTrigger
from curtailment.models import OPEN_EVENT_STATES, CurtailmentEvent


class EventAlreadyOpen(ValidationError):
    """The feeder already has an open event (one open event per feeder)."""


def curtailment_event_start(
    *,
    feeder,
    reduction_kw: float,
    duration_minutes: int,
    reason: str,
    requested_by=None,
    trigger: str = EventTrigger.MANUAL,
    alert=None,
) -> CurtailmentEvent:
    """Open a curtailment event on ``feeder`` asking for ``reduction_kw`` for
    ``duration_minutes``. Raises ``EventAlreadyOpen`` if the feeder has an open event and
    ``ValidationError`` for bad input."""
    if reduction_kw is None or reduction_kw <= 0:
        raise ValidationError({"reduction_kw": "must be a positive number of kW"})
    if not 1 <= int(duration_minutes) <= 24 * 60:
        raise ValidationError({"duration_minutes": "must be between 1 and 1440 minutes"})
    now = timezone.now()
    try:
        with transaction.atomic():
            event = CurtailmentEvent.objects.create(
                feeder=feeder,
                alert=alert,
                trigger=trigger,
                started_at=now,
                planned_end_at=now + timedelta(minutes=int(duration_minutes)),
                required_reduction_kw=float(reduction_kw),
                requested_by=requested_by,
                reason=reason,
            )
    except IntegrityError as exc:
        raise EventAlreadyOpen(f"feeder {feeder.code} already has an open curtailment event") from exc
    audit_record(
        action="event.start",
        actor_user=requested_by,
        rule=None if requested_by is not None else "auto-curtail",
        target=event,
        reason=reason,
        inputs={"feeder": feeder.code, "reduction_kw": reduction_kw, "duration_minutes": duration_minutes},
    )
    return event


def curtailment_event_cancel(*, event: CurtailmentEvent, reason: str, cancelled_by=None) -> CurtailmentEvent:
    """Cancel an open event (operator): every live action gets a 7.8. Idempotent: cancelling
    an event that is no longer open changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        moved = CurtailmentEvent.objects.filter(pk=event.pk, status__in=OPEN_EVENT_STATES).update(
            status=EventStatus.ENDED, ended_at=now, end_reason=EventEndReason.CANCELLED
        )
        if moved:
            audit_record(
                action="event.cancel",
                actor_user=cancelled_by,
                rule=None if cancelled_by is not None else "auto-curtail",
                target=event,
                reason=reason,
            )
    event.refresh_from_db()
    return event
