"""PostgreSQL range partitions of the readings table, one per UTC day of ``measured_at``.

Retention drops a whole day's partition instead of deleting its rows, and the day being
written (the hot partition) stays small enough for its indexes to stay cached. The
migration ``feeders/0004`` turns the table into a partitioned one; from then on the
maintenance below (beat, every migrate, ``manage.py readings_partitions``) keeps a
partition ready for every day from the retention cutoff to ``AHEAD_DAYS`` ahead.

A ``DEFAULT`` partition is the safety net: a reading whose day has no partition (older
than the retention, or a day maintenance has not reached) is stored there rather than
refused. Rows there are not forgotten: creating a day's partition moves the default's
rows of that day into it, and retention deletes the default's rows older than the cutoff.

Called only on PostgreSQL, through :mod:`feeders.dialect`; Django reads and writes the
parent table unchanged.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

logger = logging.getLogger(__name__)

PARENT = "feeders_feederreading"
DEFAULT = f"{PARENT}_default"
_DAY_NAME = re.compile(rf"^{PARENT}_p(\d{{8}})$")
# One maintenance at a time (beat, a migrate and the command may overlap).
_ADVISORY_KEY = 7_190_419
# A partition change waits at most this long for ingest's locks, then gives up until the
# next run (the default partition holds the day's rows meanwhile): every insert queues
# behind a waiting lock, so a longer wait would delay readings and their alerts.
LOCK_TIMEOUT = "1s"


@dataclass(frozen=True)
class DroppedPartition:
    """A day's partition dropped by retention, and the rows it held."""

    name: str
    day: date
    rows: int


def partition_name(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


def day_start(day: date) -> datetime:
    """Midnight UTC starting ``day``: partition bounds are UTC, whatever the clocks in
    London do (a clock-change day is 24 hours long here)."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def partitioned(cursor) -> bool:
    """Whether the readings table is partitioned (the migration has run)."""
    cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [PARENT])
    row = cursor.fetchone()
    return row is not None and row[0] == "p"


def partition_days(cursor) -> set[date]:
    """The days that have their own partition."""
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        [PARENT],
    )
    days = set()
    for (name,) in cursor.fetchall():
        if match := _DAY_NAME.match(name):
            days.add(date(int(match.group(1)[:4]), int(match.group(1)[4:6]), int(match.group(1)[6:])))
    return days


def partitions_ensure(connection, *, first: date, last: date) -> list[date]:
    """Create the missing day partitions from ``first`` to ``last`` (inclusive), moving any
    of their rows out of the default partition; returns the days created. Idempotent."""
    created = []
    with connection.cursor() as cursor:
        if not partitioned(cursor):
            return []
        existing = partition_days(cursor)
    day = first
    while day <= last:
        with _lock_not_granted_skipped(f"creating the partition of {day}"):
            if day not in existing and _partition_create(connection, day):
                created.append(day)
        day += timedelta(days=1)
    return created


def _partition_create(connection, day: date) -> bool:
    """One day's partition in its own transaction. The default partition is locked while
    its rows of that day move in, so none can land there in between and be stranded."""
    from django.db import transaction

    name, start, end = partition_name(day), day_start(day), day_start(day + timedelta(days=1))
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_KEY])
        if day in partition_days(cursor):  # another run made it while we waited
            return False
        cursor.execute(f"LOCK TABLE {DEFAULT} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        move = f"WITH moved AS (DELETE FROM {DEFAULT} WHERE measured_at >= %s AND measured_at < %s RETURNING *) "  # noqa: S608
        cursor.execute(move + f"INSERT INTO {name} SELECT * FROM moved", [start, end])  # noqa: S608 - names built here
        # ATTACH builds the partition's copies of the parent's indexes and checks the
        # bounds against the default partition, which now holds none of this day.
        cursor.execute(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [start, end])
    return True


def partitions_drop_before(connection, *, cutoff: date) -> list[DroppedPartition]:
    """Drop every day partition wholly before ``cutoff`` (midnight UTC); newer ones, and
    the default, are untouched. Idempotent: a dropped partition is not listed again."""

    with connection.cursor() as cursor:
        if not partitioned(cursor):
            return []
        old_days = sorted(day for day in partition_days(cursor) if day < cutoff)
    dropped = []
    for day in old_days:
        with _lock_not_granted_skipped(f"dropping the partition of {day}"):
            if (partition := _partition_drop(connection, day)) is not None:
                dropped.append(partition)
    return dropped


def _partition_drop(connection, day: date) -> DroppedPartition | None:
    from django.db import transaction

    name = partition_name(day)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_KEY])
        if day not in partition_days(cursor):
            return None
        # Foreign-key checks deferred to the commit of rows written earlier in this
        # transaction would otherwise forbid the drop; run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"SELECT count(*) FROM {name}")  # noqa: S608 - a partition name built here
        rows = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {name}")
    return DroppedPartition(name, day, rows)


@contextmanager
def _lock_not_granted_skipped(what: str):
    """Skip one partition change whose lock was not granted within ``LOCK_TIMEOUT``; the
    next run (hourly) tries again. Any other error propagates."""
    import psycopg
    from django.db import OperationalError

    try:
        yield
    except OperationalError as exc:
        if not isinstance(exc.__cause__, psycopg.errors.LockNotAvailable):
            raise
        logger.warning("%s: lock not granted within %s, left for the next run", what, LOCK_TIMEOUT)


def default_delete_before(connection, *, cutoff: date) -> int:
    """Delete the default partition's rows older than ``cutoff`` (readings posted for days
    retention has already dropped); returns how many."""
    with connection.cursor() as cursor:
        if not partitioned(cursor):
            return 0
        cursor.execute(f"DELETE FROM {DEFAULT} WHERE measured_at < %s", [day_start(cutoff)])  # noqa: S608 - constant
        return cursor.rowcount
