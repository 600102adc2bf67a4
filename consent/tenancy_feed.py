"""Changes of tenancy from a CSV feed, all or nothing: any error in any row and nothing changes.
Columns as in ``docs/consent-api.md``; ``at`` is ISO 8601 with its offset (empty = now)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from consent import services
from consent.choices import NotificationChannel, NotificationFrequency
from consent.models import Premise
from core.times import datetime_with_offset

COLUMNS = (
    "premise_reference",
    "at",
    "customer_reference",
    "name",
    "email",
    "phone",
    "postal_address",
    "notification_channel",
    "notification_frequency",
    "reason",
)
MAX_ROWS = 10_000


@dataclass
class FeedResult:
    applied: int = 0
    errors: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, row: int, column: str, reason: str) -> None:
        self.errors.append({"row": row, "column": column, "reason": reason})


def _check(row: dict, line: int, result: FeedResult, premises: dict[str, Premise]) -> dict | None:
    before = len(result.errors)
    get = lambda name: (row.get(name) or "").strip()  # noqa: E731
    reference = get("premise_reference")
    if reference not in premises:
        result.error(line, "premise_reference", f"no premise {reference!r}" if reference else "required")
    at = timezone.now()
    if get("at"):
        try:
            at = datetime_with_offset(get("at"))
        except ValueError:
            result.error(line, "at", f"not an ISO 8601 date-time with its offset: {get('at')!r}")
    if not get("name"):
        result.error(line, "name", "required")
    if get("email"):
        try:
            validate_email(get("email"))
        except ValidationError:
            result.error(line, "email", f"not an email address: {get('email')!r}")
    channel = get("notification_channel") or NotificationChannel.EMAIL
    if channel not in NotificationChannel.values:
        result.error(line, "notification_channel", f"one of {', '.join(NotificationChannel.values)}")
    frequency = get("notification_frequency") or NotificationFrequency.EACH_EVENT
    if frequency not in NotificationFrequency.values:
        result.error(line, "notification_frequency", f"one of {', '.join(NotificationFrequency.values)}")
    if not get("reason"):
        result.error(line, "reason", "required")
    if len(result.errors) != before:
        return None
    return {
        "premise": premises[reference],
        "at": at,
        "customer": {
            "external_ref": get("customer_reference") or None,
            "name": get("name"),
            "email": get("email"),
            "phone": get("phone"),
            "postal_address": get("postal_address"),
        },
        "channel": channel,
        "frequency": frequency,
        "reason": get("reason"),
    }


def tenancy_feed_apply(*, raw: BinaryIO, recorded_by) -> FeedResult:
    """Check every row, then apply them all in one transaction."""
    result = FeedResult()
    try:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))
        header = [name.strip() for name in reader.fieldnames or []]
        rows = list(reader)
    except (csv.Error, UnicodeDecodeError) as exc:
        result.error(1, "", f"unreadable CSV: {exc}")
        return result
    for name in ("premise_reference", "name", "reason"):
        if name not in header:
            result.error(1, name, "required column missing from the header")
    for name in header:
        if name not in COLUMNS:
            result.error(1, name, "unknown column")
    if len(rows) > MAX_ROWS:
        result.error(1, "", f"more than {MAX_ROWS} rows: split the feed")
    if result.errors:
        return result
    reader.fieldnames = header
    references = {(row.get("premise_reference") or "").strip() for row in rows}
    premises = {p.reference: p for p in Premise.objects.filter(reference__in=references)}
    checked = [(line, _check(row, line, result, premises)) for line, row in enumerate(rows, start=2)]
    if result.errors:
        return result
    with transaction.atomic():
        for line, change in checked:
            try:
                with transaction.atomic():
                    customer = services.customer_upsert(**change["customer"])
                    services.tenancy_change_record(
                        premise=change["premise"],
                        new_customer=customer,
                        at=change["at"],
                        recorded_by=recorded_by,
                        reason=change["reason"],
                        notification_channel=change["channel"],
                        notification_frequency=change["frequency"],
                    )
                result.applied += 1
            except ValidationError as exc:
                for column, messages in (
                    exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
                ).items():
                    result.error(line, column, "; ".join(messages))
        if result.errors:
            result.applied = 0
            transaction.set_rollback(True)  # all or nothing: queued notices go with it
    return result
