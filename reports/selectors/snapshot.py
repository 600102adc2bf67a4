# ruff: noqa: S608 - SQL is built only from the constant table names in T; values are bound parameters.
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from reports.periods import ReportPeriod
from reports.selectors.sql import (
    ACTION_FAILED,
    ACTION_START,
    ACTIONS_TABLE,
    EVENT_AGG_TABLE,
    EVENT_ONGOING,
    EVENTS_TABLE,
    MPAN_AGG_TABLE,
    Dialect,
    T,
    action_end,
    dialect,
    event_end,
    late_after,
    ts_param,
)

# Sorts and hash aggregates over a year's actions fit in memory instead of spilling.
REPORT_WORK_MEM = "128MB"


def _create_events(d: Dialect) -> str:
    end_at = event_end()
    return f"""
CREATE {d.temp_table(EVENTS_TABLE)} AS
SELECT e.id, e.feeder_id, e.trigger, e.status, e.end_reason, e.started_at, e.asp_calloff_kw,
       ({EVENT_ONGOING}) AS ongoing,
       {d.epoch("e.started_at")} AS start_s,
       {d.epoch(end_at)} AS end_s,
       {d.epoch("e.ended_at")} AS ended_s,
       {d.seconds_in_period("e.started_at", end_at)} AS secs_in_period
FROM {T["event"]} e
WHERE e.started_at < %(end)s AND {end_at} > %(start)s
"""


def action_facts(d: Dialect) -> str:
    return f"""
    {ACTION_FAILED} AS failed,
    (a.status = 'late' OR a.end_reason = 'late'
     OR {d.epoch("a.confirmed_at")} > {d.epoch("a.started_at")} + %(late_after_s)s) AS late,
    (a.end_reason = 'override') AS override,
    (a.kind = 'limit') AS throttled,
    a.expected_kw AS kw_withheld,
    {d.seconds_in_period(ACTION_START, action_end(d))} AS secs
"""


# One pass over the period's actions into a narrow table: what the report needs of each.
# Failed commands count as actions but curtail nothing.
def _create_actions(d: Dialect) -> str:
    return f"""
CREATE {d.temp_table(ACTIONS_TABLE)} AS
SELECT a.event_id, COALESCE(a.mpan_id, mp.id) AS mpan_id, {action_facts(d)}
FROM {T["action"]} a
JOIN {EVENTS_TABLE} ev ON ev.id = a.event_id
JOIN {T["hcalcs"]} h ON h.id = a.hcalcs_id
LEFT JOIN {T["mpan"]} mp ON mp.meter_id = h.meter_id AND mp.role = 'import_primary'
"""


# An MPAN is affected by an event when it was curtailed inside the period: counted once
# per event (DISTINCT), and once per MPAN in the MPAN totals.
def _create_event_agg(d: Dialect) -> str:
    return f"""
CREATE {d.temp_table(EVENT_AGG_TABLE)} AS
SELECT event_id,
       COUNT(*) AS actions,
       COUNT(DISTINCT mpan_id) FILTER (WHERE NOT failed AND secs > 0) AS mpans,
       COALESCE(SUM(secs) FILTER (WHERE NOT failed), 0) AS secs,
       COUNT(*) FILTER (WHERE override) AS overrides,
       COUNT(*) FILTER (WHERE failed) AS failed,
       COUNT(*) FILTER (WHERE late AND NOT failed) AS late
FROM {ACTIONS_TABLE} GROUP BY event_id
"""


def _create_mpan_agg(d: Dialect) -> str:
    return f"""
CREATE {d.temp_table(MPAN_AGG_TABLE)} AS
SELECT mpan_id, SUM(secs) AS secs, MAX(secs) AS longest, COUNT(DISTINCT event_id) AS events
FROM {ACTIONS_TABLE} WHERE NOT failed AND secs > 0 AND mpan_id IS NOT NULL GROUP BY mpan_id
"""


@dataclass(frozen=True)
class Snapshot:
    period: ReportPeriod
    params: dict
    dialect: Dialect
    now: dt.datetime


TEMPORARY_TABLES = (EVENTS_TABLE, ACTIONS_TABLE, EVENT_AGG_TABLE, MPAN_AGG_TABLE)


@contextmanager
def report_snapshot(*, period: ReportPeriod, now: dt.datetime | None = None):
    """Use inside ``transaction.atomic``: the temporary tables are dropped at commit."""
    d = dialect()
    now = now or timezone.now()
    if not connection.in_atomic_block:
        raise RuntimeError("report_snapshot must run inside transaction.atomic()")
    params = {
        "start": ts_param(period.start_utc),
        "end": ts_param(period.end_utc),
        "start_s": period.start_utc.timestamp(),
        "end_s": period.end_utc.timestamp(),
        "late_after_s": late_after().total_seconds(),
        "now": ts_param(now),
    }
    with connection.cursor() as cursor:
        if d.postgresql:
            cursor.execute(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
        for table in TEMPORARY_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(_create_events(d), params)
        cursor.execute(_create_actions(d), params)
        cursor.execute(_create_event_agg(d))
        cursor.execute(_create_mpan_agg(d))
        for table in TEMPORARY_TABLES:
            cursor.execute(f"ANALYZE {table}")
    try:
        yield Snapshot(period=period, params=params, dialect=d, now=now)
    finally:
        if not d.postgresql:
            with connection.cursor() as cursor:
                for table in TEMPORARY_TABLES:
                    cursor.execute(f"DROP TABLE IF EXISTS {table}")
