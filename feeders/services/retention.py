"""Readings storage over time: partitions made ready ahead, and retention.

On PostgreSQL the readings table has one partition per UTC day (``feeders.partitions``):
maintenance keeps every day from the retention cutoff to ``PARTITIONS_AHEAD_DAYS`` ahead
ready, and retention drops whole days. On SQLite (the embedded demo) there is nothing to
make ready and retention deletes rows. Either way the same readings are kept: those
measured from midnight UTC ``READINGS_RETENTION_DAYS`` days ago.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings

from core.audit import audit_record
from feeders import dialect

logger = logging.getLogger(__name__)

# A week of partitions ahead: beat can be down for days before an insert finds none (and
# even then the default partition takes it).
PARTITIONS_AHEAD_DAYS = 7
RETENTION_RULE = "readings-retention"


@dataclass(frozen=True)
class RetentionResult:
    """What one retention run removed: day partitions dropped, rows deleted one by one."""

    cutoff: date
    partitions_dropped: list[str]
    rows_in_dropped_partitions: int
    rows_deleted: int


def readings_cutoff(*, now: datetime) -> date:
    """The first day kept: readings measured before its midnight (UTC) are removed."""
    return now.astimezone(UTC).date() - timedelta(days=settings.DNOCTL["READINGS_RETENTION_DAYS"])


def readings_partitions_maintain(*, now: datetime) -> list[date]:
    """Make sure every day from the retention cutoff to ``PARTITIONS_AHEAD_DAYS`` after
    ``now`` has its partition (PostgreSQL); returns the days created. Idempotent."""
    created = dialect.readings_partitions_ensure(
        first=readings_cutoff(now=now), last=now.astimezone(UTC).date() + timedelta(days=PARTITIONS_AHEAD_DAYS)
    )
    if created:
        logger.info("created %d reading partition(s), %s to %s", len(created), created[0], created[-1])
    return created


def readings_retention_apply(*, now: datetime) -> RetentionResult:
    """Remove readings older than the retention, auditing each removal as a decision of
    the ``readings-retention`` rule: one entry per dropped partition, one for the rows
    deleted singly (SQLite, or PostgreSQL's default partition). Idempotent: what is gone
    is not found again, and a run that removes nothing records nothing."""
    cutoff = readings_cutoff(now=now)
    days = settings.DNOCTL["READINGS_RETENTION_DAYS"]
    dropped, deleted = dialect.readings_drop_before(cutoff)
    for partition in dropped:
        audit_record(
            action="readings.partition_dropped",
            rule=RETENTION_RULE,
            reason=f"readings of {partition.day} are older than the {days}-day retention",
            inputs={"partition": partition.name, "day": partition.day.isoformat(), "rows": partition.rows},
        )
    if deleted:
        audit_record(
            action="readings.deleted",
            rule=RETENTION_RULE,
            reason=f"readings measured before {cutoff} are older than the {days}-day retention",
            inputs={"before": cutoff.isoformat(), "rows": deleted},
        )
    return RetentionResult(
        cutoff=cutoff,
        partitions_dropped=[partition.name for partition in dropped],
        rows_in_dropped_partitions=sum(partition.rows for partition in dropped),
        rows_deleted=deleted,
    )
