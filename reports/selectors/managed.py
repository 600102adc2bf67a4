# ruff: noqa: S608 - SQL is built only from the constant table names in T; values are bound parameters.
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.db import connection

from core.times import add_months, london_midnight_utc
from reports.selectors.snapshot import Snapshot
from reports.selectors.sql import EVENTS_TABLE, T, stream

# NF10: 6 months to find a market solution, then 12 months to implement it.
NF10_MARKET_SOLUTION_MONTHS = 6
NF10_IMPLEMENTATION_MONTHS = 12


def managed_month_rows(snapshot: Snapshot) -> list[list]:
    period = snapshot.period
    values, params = [], []
    for month in period.months():
        start = max(london_midnight_utc(month), period.start_utc)
        end = min(london_midnight_utc(add_months(month, 1)), period.end_utc)
        values.append("SELECT %s AS month, %s AS starts, %s AS ends")
        params += [month.strftime("%Y-%m"), start.timestamp(), end.timestamp()]
    sql = f"""
        SELECT mo.month, COUNT(DISTINCT ev.feeder_id), COUNT(ev.id)
        FROM ({" UNION ALL ".join(values)}) mo
        LEFT JOIN {EVENTS_TABLE} ev ON ev.start_s < mo.ends AND ev.end_s > mo.starts
        GROUP BY mo.month ORDER BY mo.month
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [[month, int(feeders), int(events)] for month, feeders, events in cursor.fetchall()]


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def nf10_feeder_rows(snapshot: Snapshot) -> Iterator[list]:
    """Months are added as PostgreSQL does (clamped to the month's end)."""
    sql = f"""
        SELECT f.code, s.code, s.licence_area, f.managed_since, COALESCE(per_feeder.events, 0)
        FROM {T["feeder"]} f
        JOIN {T["substation"]} s ON s.id = f.substation_id
        LEFT JOIN (SELECT feeder_id, COUNT(*) AS events FROM {EVENTS_TABLE} GROUP BY feeder_id) per_feeder
               ON per_feeder.feeder_id = f.id
        WHERE f.managed_since IS NOT NULL AND f.managed_since <= %(last)s
        ORDER BY f.managed_since, f.code
    """
    last = snapshot.period.last_day
    for code, substation, area, since, events in stream(sql, {"last": last.isoformat()}):
        since = _as_date(since)
        market_due = add_months(since, NF10_MARKET_SOLUTION_MONTHS)
        implementation_due = add_months(market_due, NF10_IMPLEMENTATION_MONTHS)
        if implementation_due <= last:
            status = "past_implementation_date"
        elif market_due <= last:
            status = "past_market_solution_date"
        else:
            status = "within_market_solution_window"
        yield [
            code,
            substation,
            area,
            since.isoformat(),
            market_due.isoformat(),
            implementation_due.isoformat(),
            status,
            int(events),
        ]
