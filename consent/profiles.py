"""Writes of the half-hourly profile data (seed 003), kept three months as the meter's own log."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.db import transaction
from django.utils import timezone

from consent.models import MPAN, HalfHourlyConsumption
from core.times import NO_UTC_OFFSET, NoUtcOffset, datetime_with_offset

RETENTION_MONTHS = 3
CHUNK = 2000
MAX_READINGS = 200_000  # one request or file; larger loads are split by the sender
MAX_KWH = 50.0  # a domestic supply cannot pass ~100 kW for half an hour


@dataclass(frozen=True)
class HalfHourReading:
    mpan: str
    period_start: Any  # a datetime, or an ISO 8601 string with its offset
    kwh: Any


@dataclass
class IngestResult:
    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "received": self.received,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.errors[:1000],
            "error_count": len(self.errors),
        }


def retention_cutoff(now: dt.datetime) -> dt.datetime:
    month_index = now.year * 12 + (now.month - 1) - RETENTION_MONTHS
    year, month = divmod(month_index, 12)
    month += 1
    days_in_month = [
        31,
        29 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ]
    return now.replace(year=year, month=month, day=min(now.day, days_in_month[month - 1]))


def _period_start(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = datetime_with_offset(value.strip())
    if not isinstance(value, dt.datetime):
        raise ValueError(f"not a date-time: {value!r}")
    if timezone.is_naive(value):
        raise NoUtcOffset(NO_UTC_OFFSET)
    value = value.astimezone(dt.UTC)
    if value.minute not in (0, 30) or value.second or value.microsecond:
        raise ValueError(f"a half hour starts on :00 or :30, got {value:%H:%M:%S}")
    return value


def _kwh(value: Any) -> float:
    try:
        kwh = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a number: {value!r}") from None
    if not math.isfinite(kwh) or kwh < 0:
        raise ValueError(f"kWh must be a finite number >= 0, got {value!r}")
    if kwh > MAX_KWH:
        raise ValueError(f"{kwh} kWh in half an hour is more than a domestic supply can carry")
    return kwh


def halfhour_ingest(*, readings: Iterable[HalfHourReading], now: dt.datetime | None = None) -> IngestResult:
    """Validate every reading, then upsert on (mpan, period_start) in one transaction, so a re-
    sent file changes nothing."""
    now = now or timezone.now()
    cutoff = retention_cutoff(now)
    result = IngestResult()
    parsed: dict[tuple[str, dt.datetime], float] = {}
    first_index: dict[str, int] = {}  # where each MPAN first appears, to name it in errors
    for index, reading in enumerate(readings):
        result.received += 1
        if result.received > MAX_READINGS:
            result.errors.append(
                {"index": index, "field": "", "reason": f"more than {MAX_READINGS} readings: split them"}
            )
            break
        try:
            period_start = _period_start(reading.period_start)
            if period_start + dt.timedelta(minutes=30) > now + dt.timedelta(minutes=5):
                raise ValueError("the half hour has not ended yet")
            if period_start < cutoff:
                raise ValueError(
                    f"older than the {RETENTION_MONTHS}-month retention (before {cutoff:%Y-%m-%d %H:%M} UTC)"
                )
        except ValueError as exc:
            result.errors.append({"index": index, "field": "period_start", "reason": str(exc)})
            period_start = None
        try:
            kwh = _kwh(reading.kwh)
        except ValueError as exc:
            result.errors.append({"index": index, "field": "kwh", "reason": str(exc)})
            kwh = None
        core = str(reading.mpan or "").strip()
        first_index.setdefault(core, index)
        if period_start is not None and kwh is not None:
            parsed[(core, period_start)] = kwh  # a duplicate within one load: the later one wins
    mpan_ids = dict(MPAN.objects.filter(core__in=list(first_index)).values_list("core", "pk"))
    for core in sorted(set(first_index) - set(mpan_ids)):
        result.errors.append({"index": first_index[core], "field": "mpan", "reason": f"unknown MPAN {core!r}"})
    if result.errors:
        result.errors.sort(key=lambda error: error["index"])
        return result
    rows = [(mpan_ids[core], period_start, kwh) for (core, period_start), kwh in parsed.items()]
    with transaction.atomic():
        for start in range(0, len(rows), CHUNK):
            _upsert(rows[start : start + CHUNK], result)
    return result


def _upsert(rows: list[tuple[int, dt.datetime, float]], result: IngestResult) -> None:
    mpan_ids = {mpan_id for mpan_id, _, _ in rows}
    periods = {period for _, period, _ in rows}
    existing = {
        (mpan_id, period): kwh
        for mpan_id, period, kwh in HalfHourlyConsumption.objects.filter(
            mpan_id__in=mpan_ids, period_start__in=periods
        ).values_list("mpan_id", "period_start", "kwh")
    }
    changed = []
    for mpan_id, period, kwh in rows:
        before = existing.get((mpan_id, period))
        if before is None:
            result.created += 1
        elif before == kwh:
            result.unchanged += 1
            continue
        else:
            result.updated += 1
        changed.append(HalfHourlyConsumption(mpan_id=mpan_id, period_start=period, kwh=kwh))
    # ON CONFLICT DO UPDATE: a concurrent sender of the same half hour cannot make a
    # duplicate row, and the unique (mpan, period_start) index stays the single truth.
    HalfHourlyConsumption.objects.bulk_create(
        changed, update_conflicts=True, unique_fields=["mpan", "period_start"], update_fields=["kwh"]
    )


def halfhour_csv_readings(raw: BinaryIO) -> Iterator[HalfHourReading]:
    """Streamed; raises ``ValueError`` naming the problem when the header is wrong."""
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    header = [name.strip() for name in reader.fieldnames or []]
    if sorted(header) != ["kwh", "mpan", "period_start"]:
        raise ValueError(f"the header must be mpan,period_start,kwh; got {','.join(header) or 'nothing'}")
    reader.fieldnames = header
    for row in reader:
        yield HalfHourReading(
            mpan=row.get("mpan") or "", period_start=row.get("period_start") or "", kwh=row.get("kwh")
        )


def halfhour_prune(*, now: dt.datetime) -> int:
    """In batches, so the table is never locked for long."""
    cutoff = retention_cutoff(now)
    deleted = 0
    while True:
        batch = list(
            HalfHourlyConsumption.objects.filter(period_start__lt=cutoff).values_list("pk", flat=True)[:10_000]
        )
        if not batch:
            return deleted
        deleted += HalfHourlyConsumption.objects.filter(pk__in=batch).delete()[0]
