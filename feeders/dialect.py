"""Where the feeders app's SQL differs between PostgreSQL and SQLite (the embedded demo), so the
services hold no dialect branch. PostgreSQL gets one statement per batch with whole columns as
array parameters; SQLite, whose writes are serialised anyway, the plain ORM."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import Q

from feeders.models import Feeder, FeederAlert, FeederReading

if TYPE_CHECKING:
    from feeders.services.ingest import ReadingIn


def postgresql() -> bool:
    return connection.vendor == "postgresql"


# --- the feeders a telemetry batch names, locked ----------------------------------------


def feeders_lock(*, codes: set[str], monitors: set[str], bound_to: str | None) -> list[tuple]:
    """Locked ``FOR UPDATE`` in id order."""
    if postgresql():
        return pg_rows(_LOCK_SQL, [pg_array(list(codes)), pg_array(list(monitors)), bound_to, bound_to])
    return _feeders_lock_orm(codes, monitors, bound_to)


_LOCK_SQL = """
    SELECT id, code, monitor_device_id, phases, rating_amps, at_risk_percent, clear_percent, status, last_reading_at
    FROM feeders_feeder
    WHERE (code = ANY(%s::varchar[]) OR monitor_device_id = ANY(%s::varchar[]))
      AND (%s::varchar IS NULL OR monitor_device_id = %s::varchar)
    ORDER BY id
    FOR UPDATE
"""


def _feeders_lock_orm(codes: set[str], monitors: set[str], bound_to: str | None) -> list[tuple]:
    feeders = Feeder.objects.filter(Q(code__in=codes) | Q(monitor_device_id__in=monitors))
    if bound_to:
        feeders = feeders.filter(monitor_device_id=bound_to)
    return list(
        feeders.order_by("id")
        .select_for_update()
        .values_list(
            "id",
            "code",
            "monitor_device_id",
            "phases",
            "rating_amps",
            "at_risk_percent",
            "clear_percent",
            "status",
            "last_reading_at",
        )
    )


# --- readings ---------------------------------------------------------------------------


_INSERT_SQL = """
    INSERT INTO feeders_feederreading (feeder_id, measured_at, received_at, amps_l1, amps_l2, amps_l3, kw)
    SELECT f, m, %s, a1, a2, a3, k
    FROM unnest(%s::bigint[], %s::timestamptz[], %s::float8[], %s::float8[], %s::float8[], %s::float8[])
         AS t(f, m, a1, a2, a3, k)
    ON CONFLICT (feeder_id, measured_at) DO NOTHING
    RETURNING feeder_id, measured_at
"""


def readings_insert(valid: list[ReadingIn], *, received_at: datetime) -> list[ReadingIn]:
    """Insert the batch, skipping readings already stored; returns the ones inserted."""
    if postgresql():
        # Whole columns by comprehension (JSON integers go in as they are: float8 parses them).
        columns = [
            [reading.feeder_id for reading in valid],
            [reading.measured_at for reading in valid],
            [reading.amps[0] for reading in valid],
            [reading.amps[1] if len(reading.amps) > 1 else None for reading in valid],
            [reading.amps[2] if len(reading.amps) > 2 else None for reading in valid],
            [reading.kw for reading in valid],
        ]
        stored = set(pg_rows(_INSERT_SQL, [received_at, *(pg_array(column) for column in columns)]))
        seen: set[tuple[int, datetime]] = set()
        inserted = []
        for reading in valid:
            key = (reading.feeder_id, reading.measured_at)
            if key in stored and key not in seen:  # the first of in-batch repeats is the one stored
                seen.add(key)
                inserted.append(reading)
        return inserted
    times = [reading.measured_at for reading in valid]
    existing = set(
        FeederReading.objects.filter(
            feeder_id__in={reading.feeder_id for reading in valid},
            measured_at__gte=min(times),
            measured_at__lte=max(times),
        ).values_list("feeder_id", "measured_at")
    )
    inserted = []
    for reading in valid:
        key = (reading.feeder_id, reading.measured_at)
        if key not in existing:
            existing.add(key)
            inserted.append(reading)
    FeederReading.objects.bulk_create(
        [
            FeederReading(
                feeder_id=reading.feeder_id,
                measured_at=reading.measured_at,
                received_at=received_at,
                amps_l1=reading.amps[0],
                amps_l2=reading.amps[1] if len(reading.amps) > 1 else None,
                amps_l3=reading.amps[2] if len(reading.amps) > 2 else None,
                kw=reading.kw,
            )
            for reading in inserted
        ],
        ignore_conflicts=True,
    )
    return inserted


# --- alerts and feeder summaries --------------------------------------------------------


def open_alerts(feeder_ids: list[int]) -> list[tuple[int, int, datetime | None]]:
    if postgresql():
        return pg_rows(
            "SELECT id, feeder_id, below_clear_since FROM feeders_feederalert"
            " WHERE feeder_id = ANY(%s::bigint[]) AND cleared_at IS NULL",
            [pg_array(feeder_ids)],
        )
    return list(
        FeederAlert.objects.filter(feeder_id__in=feeder_ids, cleared_at__isnull=True).values_list(
            "id", "feeder_id", "below_clear_since"
        )
    )


def feeder_summaries_write(updates: list[tuple[int, datetime, float, str]]) -> None:
    if postgresql():
        pg_rows(
            """
            UPDATE feeders_feeder AS f
            SET last_reading_at = v.at, last_load_percent = v.load, status = v.status
            FROM unnest(%s::bigint[], %s::timestamptz[], %s::float8[], %s::varchar[]) AS v(id, at, load, status)
            WHERE f.id = v.id
            """,
            [pg_array(list(column)) for column in zip(*updates, strict=True)],
        )
        return
    for feeder_id, measured_at, load, status in updates:
        Feeder.objects.filter(pk=feeder_id).update(last_reading_at=measured_at, last_load_percent=load, status=status)


# --- PostgreSQL parameters --------------------------------------------------------------


def pg_array(values: list) -> str:
    """A PostgreSQL array literal, cast in SQL (``%s::float8[]``): ``str.join`` is much cheaper
    than psycopg's per-element list dumper."""
    sample = next((value for value in values if value is not None), None)
    if isinstance(sample, datetime):
        render = datetime.isoformat
    elif isinstance(sample, int | float) and not isinstance(sample, bool):
        render = repr
    else:
        render = _pg_quoted
        plain = _pg_quoted_plain(values)
        if plain is not None:
            return plain
    if None not in values:
        return "{" + ",".join(map(render, values)) + "}"
    return "{" + ",".join("NULL" if value is None else render(value) for value in values) + "}"


def _pg_quoted(value: object) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pg_quoted_plain(values: list) -> str | None:
    """None unless no string needs escaping; then two joins in C quote them all."""
    try:
        joined = "".join(values)
    except TypeError:  # a None, or not a string
        return None
    if '"' in joined or "\\" in joined:
        return None
    return '{"' + '","'.join(values) + '"}' if values else "{}"


def pg_rows(sql: str, params: list) -> list[tuple]:
    """Server-side parameter binding: Django's cursors render parameters into the SQL text,
    which for an ingest batch's 500-element arrays cost more than the query."""
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        # Binary results: Django swaps psycopg's C timestamptz text loader for a Python
        # one; the binary loader is untouched and much faster per value.
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall() if cursor.description else []
