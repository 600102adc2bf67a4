"""The closed loop of an event limiting APC chargers: a limit is a level, and each limited minute costs
the customer, so the required reduction follows the load down as well as up. Early release waits
while only the limits keep the load below the clear level."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Max, Sum

from core.audit import audit_record
from curtailment.choices import ActionKind, ActionStatus, EventStatus
from curtailment.models import CurtailmentEvent
from curtailment.services.common import UNCONFIRMED_ACTION_STATES
from curtailment.services.event import AUTO_RULE, required_reduction_kw
from dcc.choices import ServiceRequestState
from dcc.models import ServiceRequest
from feeders.selectors import LoadSnapshot, feeder_load_now

# A change of need smaller than this is not worth a 7.16: the estimate behind it (each
# charger's demand before its limit) is itself only good to about a kW across a feeder.
NEED_DEADBAND_KW = 1.0
NEED_DEADBAND_SHARE = 0.1  # ... or a tenth of the need, whichever is larger
_LIMIT_SRVS = ("7.16", "7.13")
_UNANSWERED = (ServiceRequestState.BUILT, ServiceRequestState.SENT, ServiceRequestState.ACKNOWLEDGED)


@dataclass(frozen=True)
class LoadWithout:
    """The feeder as it would be without the event, estimated from a settled reading."""

    measured_kw: float
    measured_percent: float
    withheld_kw: float
    kw: float
    load_percent: float
    measured_at: dt.datetime


def event_has_confirmed_limit(event: CurtailmentEvent) -> bool:
    return event.actions.filter(kind=ActionKind.LIMIT, status=ActionStatus.CONFIRMED).exists()


def settled_load(*, event: CurtailmentEvent, now: dt.datetime) -> tuple[LoadSnapshot, dt.datetime] | None:
    """The latest fresh reading after the devices last answered the event, the only one showing what they did."""
    if event.actions.filter(status__in=UNCONFIRMED_ACTION_STATES).exists():
        return None
    limit_requests = ServiceRequest.objects.filter(action__event=event, srv__in=_LIMIT_SRVS)
    if limit_requests.filter(state__in=_UNANSWERED).exists():
        return None
    answers = [
        event.actions.aggregate(at=Max("confirmed_at"))["at"],
        limit_requests.aggregate(at=Max("responded_at"))["at"],
    ]
    settled_at = max((at for at in answers if at is not None), default=None)
    load = feeder_load_now(feeder=event.feeder, now=now)
    if settled_at is None or load.stale or not load.kw or not load.load_percent or load.measured_at <= settled_at:
        return None
    return load, settled_at


def load_without_event(*, event: CurtailmentEvent, now: dt.datetime) -> LoadWithout | None:
    """The estimate from the settled reading (``settled_load``), or None without one."""
    settled = settled_load(event=event, now=now)
    if settled is None:
        return None
    load, _settled_at = settled
    confirmed_kw = event.actions.filter(status=ActionStatus.CONFIRMED).aggregate(kw=Sum("expected_kw"))["kw"] or 0.0
    withheld = confirmed_kw + event.asp_calloff_kw
    kw = load.kw + withheld
    return LoadWithout(
        measured_kw=load.kw,
        measured_percent=load.load_percent,
        withheld_kw=withheld,
        kw=kw,
        load_percent=load.load_percent * kw / load.kw,
        measured_at=load.measured_at,
    )


def event_need_follow(*, event: CurtailmentEvent, now: dt.datetime) -> float | None:
    """Move the required reduction to what the load without the event needs (beyond a deadband; audited)."""
    if event.status != EventStatus.ACTIVE or not event_has_confirmed_limit(event):
        return None
    without = load_without_event(event=event, now=now)
    if without is None or without.measured_percent >= event.feeder.at_risk_percent:
        return None
    need = required_reduction_kw(feeder=event.feeder, kw=without.kw, load_percent=without.load_percent)
    before = event.required_reduction_kw
    if abs(need - before) <= max(NEED_DEADBAND_KW, NEED_DEADBAND_SHARE * before):
        return None
    updated = CurtailmentEvent.objects.filter(
        pk=event.pk, status=EventStatus.ACTIVE, required_reduction_kw=before
    ).update(required_reduction_kw=need)
    if not updated:
        return None  # another worker moved the need first: its re-check decides
    event.required_reduction_kw = need
    audit_record(
        action="event.need_follow",
        rule=AUTO_RULE,
        target=event,
        reason=(
            f"the load {'fell' if need < before else 'rose'}: {without.measured_kw:.1f} kW metered with "
            f"{without.withheld_kw:.1f} kW withheld needs {need:.1f} kW, not {before:.1f} kW"
        ),
        inputs={
            "required_kw_before": round(before, 3),
            "required_kw": round(need, 3),
            "measured_kw": without.measured_kw,
            "measured_percent": round(without.measured_percent, 2),
            "withheld_kw": round(without.withheld_kw, 3),
            "without_event_kw": round(without.kw, 3),
            "without_event_percent": round(without.load_percent, 2),
            "measured_at": without.measured_at.isoformat(),
            "clear_percent": event.feeder.clear_percent,
        },
    )
    return need


def release_would_bring_overload_back(*, event: CurtailmentEvent, now: dt.datetime) -> bool:
    """True while the event's limits alone keep the load below the clear level."""
    if not event_has_confirmed_limit(event):
        return False
    without = load_without_event(event=event, now=now)
    return without is not None and without.load_percent > event.feeder.clear_percent
