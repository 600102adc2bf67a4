"""Factories for curtailment history: events, actions (one charger each), ASP call-offs and
event notifications, built straight through the ORM so report tests need no engine."""

from __future__ import annotations

import datetime as dt

import factory

from consent.choices import NotificationChannel, NotificationKind, NotificationStatus
from consent.models import Notification
from curtailment.choices import ActionEndReason, ActionStatus, EventEndReason, EventStatus, EventTrigger
from curtailment.models import AspCallOff, AspContract, CurtailmentAction, CurtailmentEvent
from tests.consent.factories import CustomerFactory, eligible_charger
from tests.feeders.factories import FeederFactory

UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


class EventFactory(factory.django.DjangoModelFactory):
    """An ended automatic event of 60 minutes (set ``started_at``)."""

    class Meta:
        model = CurtailmentEvent

    feeder = factory.SubFactory(FeederFactory)
    trigger = EventTrigger.AUTOMATIC
    status = EventStatus.ENDED
    started_at = utc(2026, 6, 10, 10, 0)
    planned_end_at = factory.LazyAttribute(lambda o: o.started_at + dt.timedelta(minutes=60))
    ended_at = factory.LazyAttribute(lambda o: o.planned_end_at if o.status == EventStatus.ENDED else None)
    end_reason = factory.LazyAttribute(lambda o: EventEndReason.DURATION if o.status == EventStatus.ENDED else "")
    required_reduction_kw = 20.0


class ActionFactory(factory.django.DjangoModelFactory):
    """A charger curtailed for ``planned_minutes`` from the event's start, ended by duration."""

    class Meta:
        model = CurtailmentAction

    event = factory.SubFactory(EventFactory)
    hcalcs = factory.LazyAttribute(lambda o: eligible_charger(feeder=o.event.feeder))
    status = ActionStatus.ENDED
    planned_minutes = 30
    expected_kw = 7.0
    started_at = factory.LazyAttribute(lambda o: o.event.started_at)
    expected_end_at = factory.LazyAttribute(lambda o: o.started_at + dt.timedelta(minutes=o.planned_minutes))
    # The device confirmed at once: what it did is [confirmed_at, ended_at), the planned minutes.
    confirmed_at = factory.LazyAttribute(lambda o: o.started_at)
    ended_at = factory.LazyAttribute(lambda o: o.expected_end_at)
    end_reason = ActionEndReason.DURATION


def event_with(
    *, feeder=None, start: dt.datetime, minutes: int = 60, trigger: str = EventTrigger.AUTOMATIC
) -> CurtailmentEvent:
    """An ended event of ``minutes`` on ``feeder`` starting at ``start``."""
    kwargs = {"feeder": feeder} if feeder is not None else {}
    return EventFactory(
        started_at=start, planned_end_at=start + dt.timedelta(minutes=minutes), trigger=trigger, **kwargs
    )


def curtail(
    event: CurtailmentEvent,
    hcalcs,
    *,
    minutes: int = 30,
    offset_minutes: int = 0,
    ended_after: int | None = None,
    **fields,
) -> CurtailmentAction:
    """``hcalcs`` curtailed in ``event`` for ``minutes`` from ``offset_minutes`` after its
    start; ``ended_after`` ends it sooner (e.g. an override)."""
    start = event.started_at + dt.timedelta(minutes=offset_minutes)
    end = start + dt.timedelta(minutes=ended_after if ended_after is not None else minutes)
    values = {
        "event": event,
        "hcalcs": hcalcs,
        "planned_minutes": minutes,
        "started_at": start,
        "expected_end_at": start + dt.timedelta(minutes=minutes),
        "ended_at": end,
    }
    values.update(fields)
    return ActionFactory(**values)


def asp_calloff(event: CurtailmentEvent, *, kw: float) -> AspCallOff:
    contract = AspContract.objects.create(
        provider="Flex Ltd",
        reference=f"ASP-{event.pk}-{kw}",
        starts_at=event.started_at - dt.timedelta(days=30),
        ends_at=event.started_at + dt.timedelta(days=30),
        available_kw=100,
    )
    return AspCallOff.objects.create(contract=contract, event=event, kw=kw, called_at=event.started_at)


def event_notification(event: CurtailmentEvent, *, status: str = NotificationStatus.SENT, digest=None) -> Notification:
    return Notification.objects.create(
        customer=CustomerFactory(),
        event=event,
        kind=NotificationKind.EVENT,
        channel=NotificationChannel.EMAIL,
        subject="Your EV charging was limited",
        body="...",
        status=status,
        due_at=event.started_at,
        digest=digest,
    )


# When the known history's report is generated: its last event is still running then.
KNOWN_HISTORY_NOW = utc(2026, 6, 20, 12, 7)


def known_history() -> None:
    """A small history exercising every counting rule (used to compare PostgreSQL with the
    embedded SQLite): two MPANs (one with two switches), an override cut short, a failed and
    a late command, an event across the June/July boundary, an ASP call-off, notifications,
    a 24 h breach, a managed feeder, and an event still running at ``KNOWN_HISTORY_NOW``."""
    from tests.consent.factories import HcalcsFactory

    feeder = FeederFactory(managed_since=dt.date(2025, 11, 1))
    first = eligible_charger(feeder=feeder)
    second_switch = HcalcsFactory(meter=first.meter, switch_index=2)
    other = eligible_charger(feeder=feeder)
    failing = eligible_charger(feeder=feeder)
    one = event_with(feeder=feeder, start=utc(2026, 6, 10, 10, 0), minutes=90)
    curtail(one, first, minutes=30)
    curtail(one, second_switch, minutes=30)
    curtail(one, other, minutes=60, ended_after=25, end_reason=ActionEndReason.OVERRIDE)
    curtail(one, failing, minutes=30, status=ActionStatus.FAILED, end_reason=ActionEndReason.FAILED)
    asp_calloff(one, kw=12.5)
    event_notification(one)
    two = event_with(feeder=feeder, start=utc(2026, 6, 10, 16, 0), trigger=EventTrigger.MANUAL)
    curtail(two, first, minutes=50, confirmed_at=two.started_at + dt.timedelta(seconds=40))
    three = event_with(feeder=feeder, start=utc(2026, 6, 10, 20, 0), trigger=EventTrigger.EXTERNAL)
    curtail(three, first, minutes=60)
    boundary = event_with(feeder=feeder, start=utc(2026, 6, 30, 22, 30), minutes=60)
    curtail(boundary, other, minutes=60)
    running_feeder = FeederFactory()
    running = EventFactory(
        feeder=running_feeder, started_at=utc(2026, 6, 20, 12, 0), status=EventStatus.ACTIVE, while_at_risk=True
    )
    curtail(
        running,
        eligible_charger(feeder=running_feeder),
        minutes=30,
        status=ActionStatus.CONFIRMED,
        confirmed_at=running.started_at + dt.timedelta(seconds=30),
        ended_at=None,
        end_reason="",
    )
