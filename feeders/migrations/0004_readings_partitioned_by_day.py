"""PostgreSQL-only: the readings table becomes range-partitioned by ``measured_at``, one
partition per UTC day plus a DEFAULT partition (see ``feeders/partitions.py``).

Every stored reading is moved: the old table is renamed, the partitioned one is created
with a partition for each day the old rows cover (and today's week ahead), the rows are
copied across, and only then are the old table and its indexes dropped and the same
constraints and indexes created on the new one. Two differences a partitioned table
imposes: the primary key is ``(id, measured_at)`` (a unique key must hold the partition
key; ``id`` still comes from one sequence, so it stays unique), and ``id`` takes its value
from a sequence owned by the column instead of an identity (PostgreSQL 15 has no identity
on partitioned tables). Django's model is unchanged: it reads and writes the parent.

The post-migrate hook (``FeedersConfig.ready``) then creates the partitions of the whole
retention window. SQLite (the embedded demo) keeps its plain table.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.db import migrations

TABLE = "feeders_feederreading"
OLD = "feeders_feederreading_unpartitioned"
SEQUENCE = "feeders_feederreading_id_seq"
COLUMNS = """
    id bigint NOT NULL,
    measured_at timestamp with time zone NOT NULL,
    received_at timestamp with time zone NOT NULL,
    amps_l1 double precision NOT NULL,
    amps_l2 double precision NULL,
    amps_l3 double precision NULL,
    kw double precision NOT NULL,
    feeder_id bigint NOT NULL
"""
COLUMN_NAMES = "id, measured_at, received_at, amps_l1, amps_l2, amps_l3, kw, feeder_id"
AHEAD_DAYS = 7


def _rows(cursor, sql, params=None):
    cursor.execute(sql, params)
    return cursor.fetchall()


def _schema_objects(cursor, table: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The table's constraints other than the primary key (name, definition), and the
    definitions of its indexes that back no constraint: what the rebuilt table must have."""
    constraints = _rows(
        cursor,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype <> 'p' AND conparentid = 0 ORDER BY conname",
        [table],
    )
    indexes = [
        definition
        for (definition,) in _rows(
            cursor,
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " WHERE i.indrelid = %s::regclass"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
            " ORDER BY i.indexrelid",
            [table],
        )
    ]
    return constraints, indexes


def _next_id(cursor, table: str) -> int:
    """The next id the table's sequence would hand out (never below one past the largest id)."""
    (sequence,) = _rows(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [table])[0]
    (largest,) = _rows(cursor, f"SELECT COALESCE(max(id), 0) FROM {table}")[0]  # noqa: S608 - fixed names
    if sequence is None:
        return largest + 1
    last_value, is_called = _rows(cursor, f"SELECT last_value, is_called FROM {sequence}")[0]  # noqa: S608
    return max(largest, last_value if is_called else last_value - 1) + 1


def _rebuild(schema_editor, *, partition: bool) -> None:
    """Replace the readings table by a partitioned one (or back by a plain one), keeping
    every row, constraint and index."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
        constraints, indexes = _schema_objects(cursor, OLD)
        next_id = _next_id(cursor, OLD)
        if partition:
            cursor.execute(f"CREATE TABLE {TABLE} ({COLUMNS}) PARTITION BY RANGE (measured_at)")
            days = {
                day
                for (day,) in _rows(cursor, f"SELECT DISTINCT (measured_at AT TIME ZONE 'UTC')::date FROM {OLD}")  # noqa: S608
            }
            today = datetime.now(UTC).date()
            days.update(today + timedelta(days=offset) for offset in range(AHEAD_DAYS + 1))
            for day in sorted(days):
                start = datetime(day.year, day.month, day.day, tzinfo=UTC)
                cursor.execute(
                    f"CREATE TABLE {TABLE}_p{day:%Y%m%d} PARTITION OF {TABLE} FOR VALUES FROM (%s) TO (%s)",
                    [start, start + timedelta(days=1)],
                )
            cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
        else:
            cursor.execute(f"CREATE TABLE {TABLE} ({COLUMNS})")
        cursor.execute(f"INSERT INTO {TABLE} ({COLUMN_NAMES}) SELECT {COLUMN_NAMES} FROM {OLD}")  # noqa: S608
        # The old table's indexes hold the names the new ones take: drop it first.
        cursor.execute(f"DROP TABLE {OLD}")
        if partition:
            cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, measured_at)")
            cursor.execute(f"CREATE SEQUENCE {SEQUENCE} AS bigint OWNED BY {TABLE}.id")
            cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{SEQUENCE}')")
            cursor.execute("SELECT setval(%s, %s, false)", [SEQUENCE, next_id])
        else:
            cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id)")
            cursor.execute(
                f"ALTER TABLE {TABLE} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (RESTART WITH {next_id})"
            )
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')
        for definition in indexes:
            cursor.execute(re.sub(rf" ON (ONLY )?(\S+\.)?{OLD} ", rf" ON \g<2>{TABLE} ", definition, count=1))


def partition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _rebuild(schema_editor, partition=True)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _rebuild(schema_editor, partition=False)


class Migration(migrations.Migration):
    dependencies = [("feeders", "0003_feeder_summary_hot_updates")]

    operations = [migrations.RunPython(partition, unpartition)]
