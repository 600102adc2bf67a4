"""Customer notifications (NF2/NF4): what to tell whom, when, and through which channel.

Every notice has a ``Notification`` row, so failures are visible and retried. SMS and letters go
through ``RecordingSender`` until a gateway is contracted."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from consent.choices import (
    ConsentStatus,
    NotificationChannel,
    NotificationFrequency,
    NotificationKind,
    NotificationStatus,
)
from consent.models import HCALCS, Consent, Customer, Notification, Premise
from core.audit import audit_record
from core.backoff import backoff_seconds
from core.times import LONDON
from dnoctl.queueing import task_send, task_send_on_commit

logger = logging.getLogger(__name__)

DIGEST_SEND_HOUR = 7  # local time: digests and statements go out at 07:00 Europe/London
# An area-wide event notifies thousands at once: one send task per this many notices rather
# than one per customer (each notice still has its own attempt, row lock and retries).
NOTICES_PER_TASK = 100


class NotificationSendError(Exception):
    """A transient delivery failure (mail server down, gateway timeout): retry later."""


class NotificationUndeliverable(Exception):
    """No way to deliver (no address for the channel): retrying will not help."""


class Sender(Protocol):
    """Delivers one rendered notice; raises ``NotificationSendError`` on a transient failure."""

    def send(self, *, channel: str, address: str, subject: str, body: str) -> None: ...


class EmailSender:
    def send(self, *, channel: str, address: str, subject: str, body: str) -> None:
        message = EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[address])
        try:
            message.send(fail_silently=False)
        except (smtplib.SMTPException, OSError) as exc:
            raise NotificationSendError(f"email to {address.split('@')[-1]} failed: {exc}") from exc


@dataclass(frozen=True)
class SentMessage:
    channel: str
    address: str
    subject: str
    body: str
    at: dt.datetime


class RecordingSender:
    """SMS and letters: records what was sent (``outbox``) until a gateway is plugged in."""

    def __init__(self, keep: int = 1000) -> None:
        # Bounded: a long-running worker must not grow without limit; the Notification
        # rows are the lasting record of what was sent.
        self.outbox: deque[SentMessage] = deque(maxlen=keep)

    def send(self, *, channel: str, address: str, subject: str, body: str) -> None:
        self.outbox.append(SentMessage(channel, address, subject, body, timezone.now()))
        logger.info("%s notice recorded (%d chars)", channel, len(body))


SENDERS: dict[str, Sender] = {
    NotificationChannel.EMAIL: EmailSender(),
    NotificationChannel.SMS: RecordingSender(),
    NotificationChannel.LETTER: RecordingSender(),
}


def address_for(*, customer: Customer, channel: str, premise: Premise | None) -> str:
    if channel == NotificationChannel.EMAIL:
        address = customer.email
    elif channel == NotificationChannel.SMS:
        address = customer.phone
    else:
        address = customer.postal_address or (f"{premise.address}, {premise.postcode}" if premise else "")
    if not address:
        raise NotificationUndeliverable(f"customer {customer.pk} has no {channel} address")
    return address


# --- periods -----------------------------------------------------------------------------


def digest_due_at(*, frequency: str, at: dt.datetime) -> dt.datetime:
    local = at.astimezone(LONDON)
    if frequency == NotificationFrequency.DAILY_DIGEST:
        next_day = local.date() + dt.timedelta(days=1)
    else:
        next_day = (local.date().replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return dt.datetime.combine(next_day, dt.time(DIGEST_SEND_HOUR), tzinfo=LONDON).astimezone(dt.UTC)


# --- queueing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargerPause:
    """One curtailed charger as a notice words it: its own window, and a level when it is
    limited (APC) rather than switched off."""

    hcalcs_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    boost_available: bool
    # The customer whose consent the charger was curtailed under: after a change of tenancy
    # the new occupant is not told of a pause that was not theirs.
    customer_id: int | None = None
    level_percent: int | None = None
    limit_kw: float | None = None

    @property
    def limited(self) -> bool:
        return self.level_percent is not None


def _send_on_commit(notification_id: int) -> None:
    from consent import tasks

    # A broker outage is logged, not raised: notifications_send_due (beat) sends it later.
    task_send_on_commit(tasks.notification_send, (notification_id,))


def notification_consent_request_queue(*, consent: Consent) -> Notification:
    """The consent request to a new occupant, through their default channel, due now."""
    tenancy = consent.tenancy
    context = {"premise": tenancy.premise, "customer": tenancy.customer, "consent": consent}
    notification = Notification.objects.create(
        customer=tenancy.customer,
        premise=tenancy.premise,
        kind=NotificationKind.CONSENT_REQUEST,
        channel=consent.notification_channel,
        subject=_render_subject(NotificationKind.CONSENT_REQUEST, context),
        body=_render_body(NotificationKind.CONSENT_REQUEST, consent.notification_channel, context),
        due_at=timezone.now(),
    )
    _send_on_commit(notification.pk)
    return notification


def notification_consent_request_resend(*, consent: Consent, by) -> Notification:
    """Ask a new occupant again (the first request went unanswered or undelivered)."""
    if consent.status != ConsentStatus.PENDING or consent.tenancy.end is not None:
        raise ValueError(f"consent {consent.pk} is {consent.status}: only a pending consent is asked again")
    with transaction.atomic():
        notice = notification_consent_request_queue(consent=consent)
        audit_record(
            action="consent.request_resend",
            actor_user=by,
            target=consent,
            reason="operator sent the consent request again",
            inputs={"premise_id": consent.tenancy.premise_id, "notification_id": notice.pk, "channel": notice.channel},
        )
    return notice


def notification_event_queue(*, event, pauses: list[ChargerPause]) -> list[Notification]:
    """Queue the notice of ``event`` for each customer with a charger among ``pauses``, each at
    their consent's frequency (now, daily digest, monthly statement). Idempotent per (event,
    customer). Written in one statement; one send task per ``NOTICES_PER_TASK`` due now."""
    now = timezone.now()
    by_hcalcs = {pause.hcalcs_id: pause for pause in pauses}
    chargers = list(
        HCALCS.objects.filter(
            pk__in=list(by_hcalcs),
            meter__premise__tenancies__end__isnull=True,
            meter__premise__tenancies__consent__status=ConsentStatus.GRANTED,
        )
        .select_related("meter__premise")
        .order_by("pk")
    )
    consents = {
        consent.tenancy.premise_id: consent
        for consent in Consent.objects.select_related("tenancy__customer").filter(
            tenancy__premise_id__in={hcalcs.meter.premise_id for hcalcs in chargers}, tenancy__end__isnull=True
        )
    }
    # One notice per customer: their chargers' pauses, from the earliest start to the latest end.
    per_customer: dict[int, tuple[Premise, Consent, list[ChargerPause]]] = {}
    for hcalcs in chargers:
        premise = hcalcs.meter.premise
        consent = consents[premise.pk]
        if by_hcalcs[hcalcs.pk].customer_id not in (None, consent.tenancy.customer_id):
            continue
        entry = per_customer.setdefault(consent.tenancy.customer_id, (premise, consent, []))
        entry[2].append(by_hcalcs[hcalcs.pk])
    told = set(
        Notification.objects.filter(
            event=event, customer_id__in=list(per_customer), kind=NotificationKind.EVENT
        ).values_list("customer_id", flat=True)
    )
    due_now: list[Notification] = []
    batched: list[Notification] = []
    with transaction.atomic():
        for customer_id, (premise, consent, customer_pauses) in per_customer.items():
            if customer_id in told:
                continue
            notice = _event_notice(event=event, premise=premise, consent=consent, pauses=customer_pauses, now=now)
            (due_now if notice.status == NotificationStatus.PENDING else batched).append(notice)
        Notification.objects.bulk_create(due_now + batched)
        notices_send_batched([notice.pk for notice in due_now])
    return due_now + batched


def notices_send_batched(notification_ids: list[int], *, on_commit: bool = True) -> None:
    """Queue the sends of these notices, ``NOTICES_PER_TASK`` to a task: when the transaction
    commits, or at once (the beat sweep, whose rows are already committed)."""
    from consent import tasks

    send = task_send_on_commit if on_commit else task_send
    # A broker outage is logged, not raised: notifications_send_due (beat) sends them later.
    for start in range(0, len(notification_ids), NOTICES_PER_TASK):
        send(tasks.notifications_send, (notification_ids[start : start + NOTICES_PER_TASK],))


def window_labels(*, starts_at: dt.datetime, ends_at: dt.datetime) -> dict[str, str]:
    start, end = starts_at.astimezone(LONDON), ends_at.astimezone(LONDON)
    same_day = start.date() == end.date()
    return {
        "window_date": f"{start:%-d %b %Y}",
        "window_from": f"{start:%-d %b %Y %H:%M}",
        "window_from_time": f"{start:%H:%M}",
        "window_until": f"{end:%H:%M}" if same_day else f"{end:%-d %b %Y %H:%M}",
        "window_until_short": f"{end:%H:%M}" if same_day else f"{end:%H:%M} on {end:%-d %b}",
    }


def limit_said(pause: ChargerPause) -> dict:
    return {
        "level": pause.level_percent,
        "kw": f"{pause.limit_kw:.1f}" if pause.limit_kw is not None else "",
        **window_labels(starts_at=pause.starts_at, ends_at=pause.ends_at),
    }


def _controls_said(pauses: list[ChargerPause]) -> dict:
    """Kept on the notice (``Notification.controls``) for the digest that carries it."""
    off = [pause for pause in pauses if not pause.limited]
    limits = sorted((pause for pause in pauses if pause.limited), key=lambda pause: pause.starts_at)
    return {
        "paused": len(off),
        "limits": [{"level_percent": pause.level_percent, "limit_kw": pause.limit_kw} for pause in limits],
        "context": {
            "off_count": len(off),
            "limits": [limit_said(pause) for pause in limits],
            "charger_count": len(pauses),
            **(
                window_labels(starts_at=min(p.starts_at for p in off), ends_at=max(p.ends_at for p in off))
                if off
                else {}
            ),
        },
    }


def _event_notice(*, event, premise: Premise, consent: Consent, pauses: list[ChargerPause], now: dt.datetime):
    """The unsaved notice of one customer: due now, or an item of their pending digest."""
    customer = consent.tenancy.customer
    starts_at = min(pause.starts_at for pause in pauses)
    ends_at = max(pause.ends_at for pause in pauses)
    said = _controls_said(pauses)
    context = {
        "event": event,
        "premise": premise,
        "customer": customer,
        "consent": consent,
        **window_labels(starts_at=starts_at, ends_at=ends_at),
        **said["context"],
        # Say "press boost" only when it works; say it will not when the customer may
        # override but the charger could not be put on the button (CURTAIL_WITHOUT_BOOST).
        "boost_works": consent.override_allowed and all(pause.boost_available for pause in pauses),
        "boost_unavailable": consent.override_allowed and not all(pause.boost_available for pause in pauses),
    }
    subject = _render_subject(NotificationKind.EVENT, context)
    body = _render_body(NotificationKind.EVENT, consent.notification_channel, context)
    fields = {
        "customer": customer,
        "premise": premise,
        "event": event,
        "kind": NotificationKind.EVENT,
        "channel": consent.notification_channel,
        "subject": subject,
        "body": body,
        "window_start": starts_at,
        "window_end": ends_at,
        "controls": {"paused": said["paused"], "limits": said["limits"]},
    }
    if consent.notification_frequency == NotificationFrequency.EACH_EVENT:
        return Notification(**fields, due_at=now)
    digest = _digest_for(customer=customer, premise=premise, consent=consent, at=starts_at)
    return Notification(**fields, due_at=digest.due_at, status=NotificationStatus.BATCHED, digest=digest)


def _digest_for(*, customer: Customer, premise: Premise, consent: Consent, at: dt.datetime) -> Notification:
    """Created on first use; its body is rendered when sent, from the items it collected."""
    frequency = consent.notification_frequency
    kind = (
        NotificationKind.DAILY_DIGEST
        if frequency == NotificationFrequency.DAILY_DIGEST
        else NotificationKind.MONTHLY_STATEMENT
    )
    due_at = digest_due_at(frequency=frequency, at=at)
    digest = (
        Notification.objects.select_for_update()
        .filter(customer=customer, kind=kind, due_at=due_at, status=NotificationStatus.PENDING)
        .first()
    )
    if digest is None:
        digest = Notification.objects.create(
            customer=customer,
            premise=premise,
            kind=kind,
            channel=consent.notification_channel,
            subject=NotificationKind(kind).label,
            body="(collecting events; rendered when sent)",
            due_at=due_at,
        )
    return digest


# --- rendering ---------------------------------------------------------------------------


def _render_subject(kind: str, context: dict) -> str:
    return " ".join(render_to_string(f"consent/notifications/{kind}_subject.txt", context).split())[:200]


def _render_body(kind: str, channel: str, context: dict) -> str:
    return render_to_string(f"consent/notifications/{kind}.txt", {**context, "channel": channel}).strip()


def _digest_render(digest: Notification) -> tuple[str, str]:
    items = list(digest.digest_items.select_related("event", "premise").order_by("window_start", "pk"))
    for item in items:
        # A notice from before APCs has no controls: it told of a pause.
        item.told_paused = bool(item.controls.get("paused", 1))
        item.told_limits = [
            {"level": limit["level_percent"], "kw": f"{limit['limit_kw']:.1f}" if limit.get("limit_kw") else ""}
            for limit in item.controls.get("limits", [])
        ]
    context = {
        "customer": digest.customer,
        "premise": digest.premise,
        "items": items,
        "digest": digest,
        "paused_count": sum(1 for item in items if item.told_paused),
        "limited_count": sum(1 for item in items if item.told_limits),
    }
    local_due = digest.due_at.astimezone(LONDON)
    context["period"] = (
        (local_due - dt.timedelta(days=1)).date()
        if digest.kind == NotificationKind.DAILY_DIGEST
        else (local_due.date() - dt.timedelta(days=1)).replace(day=1)
    )
    return _render_subject(digest.kind, context), _render_body(digest.kind, digest.channel, context)


# --- sending -----------------------------------------------------------------------------

SENDABLE = (NotificationStatus.PENDING, NotificationStatus.FAILED)
DIGEST_KINDS = (NotificationKind.DAILY_DIGEST, NotificationKind.MONTHLY_STATEMENT)
MAX_ATTEMPTS = 6  # the first try and five retries
RETRY_BASE_S = 60  # next try after 1, 2, 4, 8, 16 minutes


def retry_delay_s(attempts: int) -> int:
    return int(backoff_seconds(attempts - 1, base=RETRY_BASE_S, cap=3600, jitter=False))


class NotificationRetry(NotificationSendError):
    """A transient failure was recorded; the next try is due in ``delay_s`` seconds."""

    def __init__(self, message: str, delay_s: int) -> None:
        super().__init__(message)
        self.delay_s = delay_s


def notification_send(*, notification_id: int) -> str:
    """One delivery attempt; returns the resulting status.

    The row is locked (``skip_locked``) so two workers never deliver the same notice. A
    transient failure is recorded in the row with its next try, so a retry lost with a crashed
    worker is picked up by the beat task."""
    now = timezone.now()
    with transaction.atomic():
        notice = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("customer", "premise")
            .filter(pk=notification_id, status__in=SENDABLE)
            .first()
        )
        if notice is None:
            return "skipped"
        if notice.kind in DIGEST_KINDS:
            notice.subject, notice.body = _digest_render(notice)
        notice.attempts += 1
        failure: NotificationRetry | None = None
        try:
            address = address_for(customer=notice.customer, channel=notice.channel, premise=notice.premise)
            SENDERS[notice.channel].send(
                channel=notice.channel, address=address, subject=notice.subject, body=notice.body
            )
        except NotificationUndeliverable as exc:
            notice.status, notice.last_error = NotificationStatus.GAVE_UP, str(exc)
        except NotificationSendError as exc:
            notice.last_error = str(exc)[:2000]
            if notice.attempts >= MAX_ATTEMPTS:
                notice.status = NotificationStatus.GAVE_UP
                logger.warning("notice %s gave up after %s attempts", notice.pk, notice.attempts)
            else:
                delay = retry_delay_s(notice.attempts)
                notice.status, notice.due_at = NotificationStatus.FAILED, now + dt.timedelta(seconds=delay)
                failure = NotificationRetry(str(exc), delay)
        else:
            notice.status, notice.sent_at, notice.last_error = NotificationStatus.SENT, timezone.now(), ""
        notice.save(update_fields=["status", "last_error", "attempts", "subject", "body", "sent_at", "due_at"])
        if notice.status == NotificationStatus.SENT and notice.kind in DIGEST_KINDS:
            notice.digest_items.update(sent_at=notice.sent_at)
    if failure is not None:
        raise failure
    return notice.status


def notification_retry(*, notification_id: int, by) -> bool:
    """An operator asks for another try of a given-up notice."""
    with transaction.atomic():
        moved = Notification.objects.filter(pk=notification_id, status=NotificationStatus.GAVE_UP).update(
            status=NotificationStatus.PENDING, due_at=timezone.now()
        )
        if moved:
            audit_record(
                action="notification.retry",
                actor_user=by,
                target=Notification.objects.get(pk=notification_id),
                reason="operator asked to retry a failed notice",
            )
            _send_on_commit(notification_id)
    return bool(moved)


def notification_due_ids(*, now: dt.datetime, grace: dt.timedelta = dt.timedelta(minutes=2)) -> list[int]:
    """Notices whose time has come, including ones whose send or retry was lost, after a grace
    period that leaves the normal path its chance first."""
    from django.db.models import Q

    digest_kinds = [NotificationKind.DAILY_DIGEST, NotificationKind.MONTHLY_STATEMENT]
    pending = Q(status=NotificationStatus.PENDING)
    digests_due = pending & Q(kind__in=digest_kinds, due_at__lte=now)
    singles_lost = pending & ~Q(kind__in=digest_kinds) & Q(due_at__lte=now - grace)
    retries_lost = Q(status=NotificationStatus.FAILED, due_at__lte=now - grace)
    return list(
        Notification.objects.filter(digests_due | singles_lost | retries_lost)
        .order_by("due_at")
        .values_list("pk", flat=True)[:1000]
    )
