"""Reads behind the events list and its CSV. Dates are Europe/London days; a running event's minutes
are those so far, flagged as ongoing."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from core.times import london_label, london_midnight_utc
from curtailment.models import OPEN_EVENT_STATES, CurtailmentAction, CurtailmentEvent
from dnoctl.csv_safety import csv_row

CSV_HEADER = [
    "event_id",
    "feeder",
    "substation",
    "trigger",
    "status",
    "end_reason",
    "started_at_utc",
    "started_europe_london",
    "ended_at_utc",
    "ended_europe_london",
    "minutes",
    "ongoing",
    "reduction_kw",
    "asp_calloff_kw",
    "charger_actions",
    "requested_by",
    "reason",
]


def _search(q: str) -> Q:
    """Free text: event id, feeder or substation code, operator, reason, or a charger's EUI-64."""
    match = (
        Q(feeder__code__icontains=q)
        | Q(feeder__substation__code__icontains=q)
        | Q(requested_by__username__iexact=q)
        | Q(reason__icontains=q)
        | Q(Exists(CurtailmentAction.objects.filter(event_id=OuterRef("pk"), hcalcs__eui64__iexact=q)))
    )
    if q.isdigit():
        match |= Q(pk=int(q))
    return match


def events_filtered(filters: dict[str, Any]) -> QuerySet[CurtailmentEvent]:
    """Events matching an ``EventFilterForm``'s cleaned data, newest first."""
    events = CurtailmentEvent.objects.select_related("feeder__substation", "requested_by").annotate(
        charger_actions=Count("actions")
    )
    for field in ("status", "trigger", "end_reason"):
        if filters.get(field):
            events = events.filter(**{field: filters[field]})
    if filters.get("substation"):
        events = events.filter(feeder__substation=filters["substation"])
    if filters.get("feeder"):
        events = events.filter(feeder__code__iexact=filters["feeder"])
    if filters.get("since"):
        events = events.filter(started_at__gte=london_midnight_utc(filters["since"]))
    if filters.get("until"):
        events = events.filter(started_at__lt=london_midnight_utc(filters["until"] + dt.timedelta(days=1)))
    if filters.get("q"):
        events = events.filter(_search(filters["q"].strip()))
    return events.order_by("-started_at", "-id")


def event_minutes(event: CurtailmentEvent, now: dt.datetime) -> tuple[float, bool]:
    """Minutes from start to end (or ``now``), and whether it is still going on."""
    ongoing = event.status in OPEN_EVENT_STATES
    end = now if ongoing or event.ended_at is None else event.ended_at
    return round(max(0.0, (end - event.started_at).total_seconds()) / 60.0, 2), ongoing


class _Echo:
    def write(self, value: str) -> str:
        return value


def event_csv_rows(events: QuerySet[CurtailmentEvent], *, now: dt.datetime) -> Iterator[str]:
    """The events as CSV lines, header first, every cell through ``csv_safety`` (free text)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for event in events.iterator(chunk_size=2000):
        minutes, ongoing = event_minutes(event, now)
        yield writer.writerow(
            csv_row(
                [
                    event.pk,
                    event.feeder.code,
                    event.feeder.substation.code,
                    event.trigger,
                    event.status,
                    event.end_reason,
                    event.started_at.isoformat(),
                    london_label(event.started_at),
                    event.ended_at.isoformat() if event.ended_at else "",
                    london_label(event.ended_at),
                    minutes,
                    "yes" if ongoing else "no",
                    round(event.required_reduction_kw, 3),
                    round(event.asp_calloff_kw, 3),
                    event.charger_actions,
                    event.requested_by.get_username() if event.requested_by else "",
                    event.reason,
                ]
            )
        )
