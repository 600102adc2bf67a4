"""Reads for the alarm list and the overview's network view.

An alarm is a feeder that needs the control room: an open alert, an open event, or both. The
list is ordered as an ADMS alarm screen: severity, then minutes left before relief is too late,
then newest first. An alarm the engine escalates after it was acknowledged needs acknowledging
again, as an alarm screen re-announces an alarm whose priority rises."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from django.conf import settings
from django.db.models import Count, Q

from core.times import london_label
from curtailment.choices import ActionKind, ClockState, EscalationStage
from curtailment.models import LIVE_ACTION_STATES, OPEN_EVENT_STATES, CurtailmentEvent, FailureClock
from dnoctl.charts import STATUS_SEVERITY
from feeders.choices import FeederStatus
from feeders.models import Feeder, FeederAlert, Substation


class Severity(IntEnum):
    """Alarm priority, most urgent first (the value is the sort rank)."""

    CRITICAL = 1  # the engine asks the operator to act, or the load is over its rating
    HIGH = 2  # at risk and relief not yet confirmed
    MEDIUM = 3  # at risk, relief confirmed
    LOW = 4  # curtailing with no open alert

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @property
    def css(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Alarm:
    """One feeder's row in the alarm list: at least one of alert, event and clock."""

    feeder: Feeder
    alert: FeederAlert | None
    event: CurtailmentEvent | None
    clock: FailureClock | None

    @property
    def key(self) -> str:
        """Stable while the alarm lasts, new for a new alert or escalation: what the page's cue compares."""
        if self.alert and self.escalated_at:
            return f"alert-{self.alert.pk}-escalated-{self.escalated_at.timestamp():.0f}"
        if self.alert:
            return f"alert-{self.alert.pk}"
        return f"event-{self.event.pk}" if self.event else f"clock-{self.feeder.pk}"

    @property
    def escalated_at(self) -> dt.datetime | None:
        return escalated_at(self.clock)

    @property
    def needs_acknowledgement(self) -> bool:
        return self.alert is not None and (self.alert.acknowledged_at is None or self.escalated_since_acknowledged)

    @property
    def escalated_since_acknowledged(self) -> bool:
        acknowledged, escalated = self.alert and self.alert.acknowledged_at, self.escalated_at
        return bool(acknowledged and escalated and acknowledged < escalated)

    @property
    def since(self) -> dt.datetime:
        moments = [m for m in (self.alert and self.alert.raised_at, self.event and self.event.started_at) if m]
        return min(moments) if moments else self.clock.computed_at

    @property
    def since_label(self) -> str:
        return london_label(self.since)

    @property
    def acknowledged_label(self) -> str:
        return london_label(self.alert.acknowledged_at) if self.alert and self.alert.acknowledged_at else ""

    @property
    def minutes_left(self) -> float:
        return self.clock.minutes_left_sort_key if self.clock else float("inf")

    @property
    def severity(self) -> Severity:
        clock = self.clock
        if clock and (clock.alarm or clock.state == ClockState.OVER_RATING):
            return Severity.CRITICAL
        if self.alert is None:
            return Severity.LOW
        if self.event is not None and clock is not None and clock.relieved:
            return Severity.MEDIUM
        return Severity.HIGH

    @property
    def load_percent(self) -> float | None:
        if self.clock and self.clock.load_percent is not None:
            return self.clock.load_percent
        return self.feeder.last_load_percent

    def sort_key(self) -> tuple:
        return (self.severity, self.minutes_left, -self.since.timestamp(), self.feeder.code)


def escalated_at(clock: FailureClock | None) -> dt.datetime | None:
    if clock and clock.stage == EscalationStage.OPERATOR:
        return clock.stage_started_at
    return None


def alarms_read() -> list[Alarm]:
    """Three queries, whatever the count."""
    alerts = {
        a.feeder_id: a
        for a in FeederAlert.objects.filter(cleared_at__isnull=True).select_related(
            "feeder__substation", "acknowledged_by"
        )
    }
    events = {
        e.feeder_id: e
        for e in CurtailmentEvent.objects.filter(status__in=OPEN_EVENT_STATES)
        .select_related("feeder__substation")
        .annotate(
            live=Count("actions", filter=Q(actions__status__in=LIVE_ACTION_STATES)),
            # A limited charger (APC) is slowed, not off: the lists say how many of each.
            limited=Count("actions", filter=Q(actions__status__in=LIVE_ACTION_STATES, actions__kind=ActionKind.LIMIT)),
            switched_off=Count(
                "actions", filter=Q(actions__status__in=LIVE_ACTION_STATES, actions__kind=ActionKind.SWITCH_OFF)
            ),
        )
    }
    # A clock lives while its feeder has an alert or an event; one caught alone (between the
    # engine's writes) still shows rather than vanish for a refresh.
    clocks = clocks_by_feeder()
    alarms = []
    for feeder_id in alerts.keys() | events.keys() | clocks.keys():
        alert, event, clock = alerts.get(feeder_id), events.get(feeder_id), clocks.get(feeder_id)
        feeder = (alert or event or clock).feeder
        alarms.append(Alarm(feeder=feeder, alert=alert, event=event, clock=clock))
    return sorted(alarms, key=Alarm.sort_key)


def clocks_by_feeder(feeder_ids: list[int] | None = None) -> dict[int, FailureClock]:
    clocks = FailureClock.objects.select_related("feeder__substation")
    if feeder_ids is not None:
        clocks = clocks.filter(feeder_id__in=feeder_ids)
    return {clock.feeder_id: clock for clock in clocks}


def alarm_counts(alarms: list[Alarm]) -> dict[str, Any]:
    unacknowledged = [a for a in alarms if a.needs_acknowledgement]
    return {
        "alarms_total": len(alarms),
        "alarms_unacknowledged": len(unacknowledged),
        "alarms_critical": sum(1 for a in alarms if a.severity == Severity.CRITICAL),
        "unacknowledged": [{"key": a.key, "feeder": a.feeder.code} for a in unacknowledged],
    }


def network_read() -> dict[str, Any]:
    """Every substation with its worst status and counts, and a cell per feeder; above
    ``NETWORK_CELLS_MAX`` feeders (compact) a cell per feeder that is not normal, with how
    many normal ones are not drawn (the page fetches the view again when one of those moves)."""
    counts: dict[int, dict[str, int]] = {}
    for row in Feeder.objects.values("substation_id", "status").annotate(n=Count("id")).order_by():
        counts.setdefault(row["substation_id"], {})[row["status"]] = row["n"]
    total = sum(n for by_status in counts.values() for n in by_status.values())
    compact = total > settings.DNOCTL["NETWORK_CELLS_MAX"]
    feeders = Feeder.objects.order_by("code").values("id", "code", "substation_id", "status", "last_load_percent")
    if compact:
        feeders = feeders.exclude(status=FeederStatus.NORMAL)
    by_substation: dict[int, list[dict[str, Any]]] = {}
    for feeder in feeders:
        by_substation.setdefault(feeder["substation_id"], []).append(feeder)
    substations = []
    for sub in Substation.objects.order_by("code").values("id", "code", "name"):
        members = by_substation.get(sub["id"], [])
        for feeder in members:
            feeder["short"] = feeder["code"].removeprefix(sub["code"]).lstrip("-_ ") or feeder["code"]
            feeder["status_label"] = FeederStatus(feeder["status"]).label
        by_status = counts.get(sub["id"], {})
        worst = next((s for s in STATUS_SEVERITY if by_status.get(s)), FeederStatus.NORMAL.value)
        substations.append(
            {
                **sub,
                "status": worst,
                "feeders": members,
                "counts": {s: by_status.get(s, 0) for s in STATUS_SEVERITY},
                "normal_not_drawn": by_status.get(FeederStatus.NORMAL, 0) if compact else 0,
            }
        )
    return {"substations": substations, "compact": compact}
