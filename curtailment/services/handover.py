"""The engine's side of the alert hand-over and the sweep re-sending hand-overs lost while the broker
was down (safe: one open event per feeder is a constraint)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast
from django.utils import timezone

from core.audit import audit_record
from core.models import AuditEntry
from core.times import iso_utc
from curtailment.models import OPEN_EVENT_STATES, CurtailmentEvent
from curtailment.services.event import AUTO_RULE  # the engine audits its decision under it
from dnoctl.queueing import task_send
from feeders.hooks import EngineHooks
from feeders.models import FeederAlert

logger = logging.getLogger(__name__)

HANDOVER_RULE = "alert-handover-sweep"
# The engine normally opens the event within a second or two; an alert older than this
# with no event and no engine decision lost its hand-over.
HANDOVER_GRACE = timedelta(seconds=30)
# After a re-send, wait this long before the next one for the same alert: a slow or
# stopped worker must not get a fresh duplicate every sweep (the queued one will run).
RESEND_EVERY = timedelta(minutes=2)


def alerts_lost_handover(*, now: datetime) -> list[FeederAlert]:
    """Open automatic-feeder alerts past ``HANDOVER_GRACE`` with no event, no decision and no recent re-send."""
    alert_key = Cast(OuterRef("pk"), output_field=CharField())
    audits_of_alert = AuditEntry.objects.filter(target_type=FeederAlert._meta.label_lower, target_id=alert_key)
    return list(
        FeederAlert.objects.filter(
            cleared_at__isnull=True,
            raised_at__lt=now - HANDOVER_GRACE,
            feeder__high_risk=True,
            feeder__automatic_curtailment=True,
        )
        .exclude(Exists(CurtailmentEvent.objects.filter(feeder_id=OuterRef("feeder_id"), status__in=OPEN_EVENT_STATES)))
        .exclude(Exists(audits_of_alert.filter(actor=f"rule:{AUTO_RULE}")))
        .exclude(Exists(audits_of_alert.filter(actor=f"rule:{HANDOVER_RULE}", at__gte=now - RESEND_EVERY)))
        .select_related("feeder")
        .order_by("raised_at")
    )


def alerts_handover_sweep(*, now: datetime | None = None) -> list[int]:
    """Re-send each lost hand-over (audited); stop at the first failed send."""
    now = now or timezone.now()
    resent: list[int] = []
    for alert in alerts_lost_handover(now=now):
        if not alert_engine_queue(alert.pk):  # the broker is still down: the next sweep tries again
            break
        waited = (now - alert.raised_at).total_seconds()
        audit_record(
            action="alert.handover_resent",
            rule=HANDOVER_RULE,
            target=alert,
            reason=f"no curtailment event {waited:.0f} s after the alert on a high-risk feeder with automatic "
            "curtailment on: the engine hand-over was re-sent",
            inputs={
                "feeder": alert.feeder.code,
                "alert_id": alert.pk,
                "kind": alert.kind,
                "raised_at": iso_utc(alert.raised_at),
                "grace_seconds": HANDOVER_GRACE.total_seconds(),
            },
        )
        resent.append(alert.pk)
    return resent


def alert_engine_queue(alert_id: int) -> bool:
    """Queue the engine's look at a new alert; False (logged) when the broker cannot take it."""
    from curtailment import tasks

    return task_send(tasks.event_open_for_alert, kwargs={"alert_id": alert_id})


def feeders_with_open_event(feeder_ids) -> set[int]:
    """The ids among ``feeder_ids`` with an open curtailment event."""
    return set(
        CurtailmentEvent.objects.filter(feeder_id__in=feeder_ids, status__in=OPEN_EVENT_STATES).values_list(
            "feeder_id", flat=True
        )
    )


ENGINE_HOOKS = EngineHooks(alert_raised=alert_engine_queue, feeders_curtailing=feeders_with_open_event)
