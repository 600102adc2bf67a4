"""Small builders for dashboard tests (rows the engine would write)."""

import datetime as dt

from django.utils import timezone

from curtailment.choices import ActionStatus, EventTrigger
from curtailment.models import CurtailmentAction, CurtailmentEvent


def open_event(*, feeder, minutes: int = 30, reduction_kw: float = 20.0, **fields) -> CurtailmentEvent:
    now = timezone.now()
    return CurtailmentEvent.objects.create(
        feeder=feeder,
        trigger=fields.pop("trigger", EventTrigger.MANUAL),
        started_at=fields.pop("started_at", now),
        planned_end_at=fields.pop("planned_end_at", now + dt.timedelta(minutes=minutes)),
        required_reduction_kw=reduction_kw,
        **fields,
    )


def action(
    *, event, hcalcs, minutes: int = 30, started_at=None, ended_at=None, status=ActionStatus.CONFIRMED, **fields
):
    """An action the device confirmed at once (``confirmed_at`` = ``started_at`` unless given)."""
    started_at = started_at or timezone.now()
    fields.setdefault("confirmed_at", started_at)
    fields.setdefault("expected_kw", hcalcs.rated_kw)
    return CurtailmentAction.objects.create(
        event=event,
        hcalcs=hcalcs,
        status=status,
        planned_minutes=minutes,
        started_at=started_at,
        expected_end_at=started_at + dt.timedelta(minutes=minutes),
        ended_at=ended_at,
        **fields,
    )
