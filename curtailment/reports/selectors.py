# ruff: noqa: S608 - SQL is built only from the constant table names in T; values are bound parameters.
"""The report's reads: SQL aggregation, streamed through server-side cursors (PostgreSQL;
the same SQL runs on the embedded demo's SQLite through ``Dialect``).

``report_snapshot`` materialises, inside one transaction, the period's events and one pass
over their actions (narrow rows), then totals per event and per MPAN, into temporary
tables dropped at commit: every table of one report comes from the same rows, and
each further aggregate reads a small table instead of re-joining the history. Python only
ever holds one chunk of rows at a time.

The counting rules (documented in docs/ofgem-report.md):

* An event is in the period when ``[started_at, COALESCE(ended_at, planned_end_at))``
  overlaps ``[start_utc, end_utc)``.
* A curtailment (action) covers ``[started_at, COALESCE(ended_at, expected_end_at))``, the
  same interval the usage limits count; its minutes are clipped to the period. An action
  whose command failed (status or end reason ``failed``) switched nothing off and counts no
  minutes and no MPAN.
* The MPAN of an action is ``action.mpan``, else the ``import_primary`` MPAN of the meter
  that controls the HCALCS.
* An MPAN is affected by an event when it has a non-failed action with minutes inside the
  period; it is counted once per event and once in the summary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from consent.models import HCALCS, MPAN, Notification
from curtailment.models import AspCallOff, CurtailmentAction, CurtailmentEvent
from curtailment.reports.columns import DURATION_BUCKET_BOUNDS, SUMMARY_METRICS, bucket_label
from curtailment.reports.periods import ReportPeriod, add_months, iso_utc, london_midnight_utc
from feeders.models import Feeder, Substation

CHUNK_ROWS = 2000

EVENTS_TABLE = "ofgem_report_events"
ACTIONS_TABLE = "ofgem_report_actions"
EVENT_AGG_TABLE = "ofgem_report_event_totals"
MPAN_AGG_TABLE = "ofgem_report_mpan_totals"
# Sorts and hash aggregates over a year's actions fit in memory instead of spilling.
REPORT_WORK_MEM = "128MB"
# NF10: 6 months to find a market solution, then 12 months to implement it.
NF10_MARKET_SOLUTION_MONTHS = 6
NF10_IMPLEMENTATION_MONTHS = 12

T = {
    "event": CurtailmentEvent._meta.db_table,
    "action": CurtailmentAction._meta.db_table,
    "calloff": AspCallOff._meta.db_table,
    "notification": Notification._meta.db_table,
    "hcalcs": HCALCS._meta.db_table,
    "mpan": MPAN._meta.db_table,
    "feeder": Feeder._meta.db_table,
    "substation": Substation._meta.db_table,
    "ev": EVENTS_TABLE,
    "act": ACTIONS_TABLE,
    "ev_agg": EVENT_AGG_TABLE,
    "mpan_agg": MPAN_AGG_TABLE,
}


class ReportUnavailable(RuntimeError):
    """The database cannot run the report's SQL (only PostgreSQL and SQLite can)."""


@dataclass(frozen=True)
class Dialect:
    """The few SQL spellings that differ between PostgreSQL (production) and SQLite (the
    embedded demo). Everything else in the report's SQL is common to both."""

    vendor: str

    @property
    def postgresql(self) -> bool:
        return self.vendor == "postgresql"

    def epoch(self, expr: str) -> str:
        """Seconds since 1970 of a stored timestamp (SQLite keeps UTC text)."""
        if self.postgresql:
            # date_part is double precision; EXTRACT is numeric (slower to sum) since PG 14.
            return f"date_part('epoch', {expr})"
        # julianday() carries ~20 us of float noise: round to the millisecond so an interval
        # ending exactly at a period boundary leaves 0 seconds, not 0.00001.
        return f"ROUND((julianday({expr}) - 2440587.5) * 86400.0, 3)"

    @property
    def greatest(self) -> str:
        return "GREATEST" if self.postgresql else "MAX"

    @property
    def least(self) -> str:
        return "LEAST" if self.postgresql else "MIN"

    def temp_table(self, name: str) -> str:
        # PostgreSQL drops it at commit; SQLite's lives with the connection and is dropped
        # explicitly when the snapshot closes.
        return f"TEMPORARY TABLE {name} ON COMMIT DROP" if self.postgresql else f"TEMP TABLE {name}"


def dialect() -> Dialect:
    if connection.vendor not in ("postgresql", "sqlite"):
        raise ReportUnavailable(f"Ofgem reports run on PostgreSQL or SQLite, not {connection.vendor}")
    return Dialect(connection.vendor)


def ts_param(value: dt.datetime):
    """A timestamp as the database stores it, so columns compare with it natively (SQLite:
    the same UTC text Django writes, which orders correctly as text)."""
    return connection.ops.adapt_datetimefield_value(value)


def from_epoch(seconds) -> dt.datetime | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(round(float(seconds), 3), tz=dt.UTC)


def _late_after() -> dt.timedelta:
    return dt.timedelta(seconds=int(settings.DNOCTL["CONFIRMATION_TIMEOUT_S"]))


def round_minutes(value) -> float:
    return round(float(value or 0), 2)


# --- the snapshot -------------------------------------------------------------------------


def _create_events(d: Dialect) -> str:
    end_at = "COALESCE(e.ended_at, e.planned_end_at)"
    return f"""
CREATE {d.temp_table(EVENTS_TABLE)} AS
SELECT e.id, e.feeder_id, e.trigger, e.status, e.end_reason, e.started_at, e.asp_calloff_kw,
       {d.epoch("e.started_at")} AS start_s,
       {d.epoch(end_at)} AS end_s,
       {d.epoch("e.ended_at")} AS ended_s,
       {d.greatest}(0, {d.least}({d.epoch(end_at)}, %(end_s)s) - {d.greatest}({d.epoch("e.started_at")}, %(start_s)s))
           AS secs_in_period
FROM {T["event"]} e
WHERE e.started_at < %(end)s AND {end_at} > %(start)s
"""


def action_facts(d: Dialect) -> str:
    """Curtailed seconds of one action (alias ``a``) inside the period, and its flags."""
    action_end = "COALESCE(a.ended_at, a.expected_end_at)"
    return f"""
    (a.status = 'failed' OR a.end_reason = 'failed') AS failed,
    (a.status = 'late' OR a.end_reason = 'late'
     OR {d.epoch("a.confirmed_at")} > {d.epoch("a.started_at")} + %(late_after_s)s) AS late,
    (a.end_reason = 'override') AS override,
    {d.greatest}(0, {d.least}({d.epoch(action_end)}, %(end_s)s) - {d.greatest}({d.epoch("a.started_at")}, %(start_s)s))
        AS secs
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


TEMPORARY_TABLES = (EVENTS_TABLE, ACTIONS_TABLE, EVENT_AGG_TABLE, MPAN_AGG_TABLE)


@contextmanager
def report_snapshot(*, period: ReportPeriod):
    """Materialise the period's events and curtailments; use inside ``transaction.atomic``."""
    d = dialect()
    if not connection.in_atomic_block:
        raise RuntimeError("report_snapshot must run inside transaction.atomic()")
    params = {
        "start": ts_param(period.start_utc),
        "end": ts_param(period.end_utc),
        "start_s": period.start_utc.timestamp(),
        "end_s": period.end_utc.timestamp(),
        "late_after_s": _late_after().total_seconds(),
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
        yield Snapshot(period=period, params=params, dialect=d)
    finally:
        if not d.postgresql:
            with connection.cursor() as cursor:
                for table in TEMPORARY_TABLES:
                    cursor.execute(f"DROP TABLE IF EXISTS {table}")


def _stream(sql: str, params: dict | list | None = None, chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple]:
    """Rows of ``sql`` through a server-side (named) cursor, ``chunk_rows`` at a time."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while True:
            rows = cursor.fetchmany(chunk_rows)
            if not rows:
                return
            yield from rows


def one_row(sql: str, params: dict | list | None = None) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


# --- per event ----------------------------------------------------------------------------

_EVENT_ROWS = """
WITH asp AS (
    SELECT c.event_id, SUM(c.kw) AS kw FROM {calloff} c JOIN {ev} ev ON ev.id = c.event_id GROUP BY c.event_id
),
notified AS (
    SELECT n.event_id, COUNT(*) AS sent
    FROM {notification} n
    JOIN {ev} ev ON ev.id = n.event_id
    LEFT JOIN {notification} digest ON digest.id = n.digest_id
    WHERE n.status = 'sent' OR (n.status = 'batched' AND digest.status = 'sent')
    GROUP BY n.event_id
)
SELECT ev.id, f.code, s.code, s.licence_area, ev.trigger, ev.status, ev.end_reason, ev.start_s, ev.ended_s,
       (ev.end_s - ev.start_s) / 60, ev.secs_in_period / 60,
       COALESCE(agg.mpans, 0), COALESCE(agg.actions, 0), COALESCE(agg.secs, 0) / 60,
       COALESCE(agg.overrides, 0), COALESCE(agg.failed, 0), COALESCE(agg.late, 0),
       COALESCE(asp.kw, ev.asp_calloff_kw), COALESCE(notified.sent, 0)
FROM {ev} ev
JOIN {feeder} f ON f.id = ev.feeder_id
JOIN {substation} s ON s.id = f.substation_id
LEFT JOIN {ev_agg} agg ON agg.event_id = ev.id
LEFT JOIN asp ON asp.event_id = ev.id
LEFT JOIN notified ON notified.event_id = ev.id
"""


def event_rows(snapshot: Snapshot) -> Iterator[list]:
    """One row per event (columns of ``columns.EVENTS``), oldest first, streamed."""
    sql = _EVENT_ROWS.format(**T) + " ORDER BY ev.started_at, ev.id"
    for row in _stream(sql):
        yield [
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            row[6],
            iso_utc(from_epoch(row[7])),
            iso_utc(from_epoch(row[8])) or None,
            round_minutes(row[9]),
            round_minutes(row[10]),
            int(row[11]),
            int(row[12]),
            round_minutes(row[13]),
            int(row[14]),
            int(row[15]),
            int(row[16]),
            round(float(row[17] or 0), 3),
            int(row[18]),
        ]


# --- summary -----------------------------------------------------------------------------


def summary(snapshot: Snapshot, *, generated_at: dt.datetime, breaches: int) -> dict:
    """The summary metrics (``columns.SUMMARY_METRICS``), typed."""
    period = snapshot.period
    events = one_row(
        f"""
        SELECT COUNT(*),
               COUNT(*) FILTER (WHERE trigger = 'automatic'),
               COUNT(*) FILTER (WHERE trigger = 'manual'),
               COUNT(*) FILTER (WHERE trigger = 'external'),
               COALESCE(SUM(secs_in_period), 0) / 60,
               COALESCE(MAX(secs_in_period), 0) / 60,
               COUNT(DISTINCT feeder_id)
        FROM {EVENTS_TABLE}
        """
    )
    actions = one_row(
        f"""
        SELECT COALESCE(SUM(actions), 0), COALESCE(SUM(secs), 0) / 60, COALESCE(SUM(overrides), 0),
               COALESCE(SUM(failed), 0), COALESCE(SUM(late), 0), COALESCE(SUM(mpans), 0)
        FROM {EVENT_AGG_TABLE}
        """
    )
    mpans_affected = one_row(f"SELECT COUNT(*) FROM {MPAN_AGG_TABLE}")[0]
    extras = one_row(
        """
        SELECT (SELECT COALESCE(SUM(COALESCE(asp.kw, ev.asp_calloff_kw)), 0)
                  FROM {ev} ev
                  LEFT JOIN (SELECT event_id, SUM(kw) AS kw FROM {calloff} GROUP BY event_id) asp
                         ON asp.event_id = ev.id),
               (SELECT COUNT(*) FROM {notification} n
                  JOIN {ev} ev ON ev.id = n.event_id
                  LEFT JOIN {notification} digest ON digest.id = n.digest_id
                 WHERE n.status = 'sent' OR (n.status = 'batched' AND digest.status = 'sent'))
        """.format(**T)
    )
    nf10 = {"past_market_solution_date": 0, "past_implementation_date": 0}
    for row in nf10_feeder_rows(snapshot):
        if row[6] == "past_implementation_date":
            nf10["past_implementation_date"] += 1
            nf10["past_market_solution_date"] += 1
        elif row[6] == "past_market_solution_date":
            nf10["past_market_solution_date"] += 1
    count = events[0]
    values = {
        "period_label": period.label,
        "period_first_day": period.first_day.isoformat(),
        "period_last_day": period.last_day.isoformat(),
        "period_start_utc": iso_utc(period.start_utc),
        "period_end_utc": iso_utc(period.end_utc),
        "generated_at": iso_utc(generated_at),
        "events": int(count),
        "events_automatic": int(events[1]),
        "events_manual": int(events[2]),
        "events_external": int(events[3]),
        "mpans_affected": int(mpans_affected),
        "mpan_events": int(actions[5]),
        "charger_actions": int(actions[0]),
        "charger_minutes": round_minutes(actions[1]),
        "event_minutes_total": round_minutes(events[4]),
        "event_minutes_mean": round_minutes(float(events[4]) / count) if count else 0.0,
        "event_minutes_max": round_minutes(events[5]),
        "overrides": int(actions[2]),
        "failed_commands": int(actions[3]),
        "late_commands": int(actions[4]),
        "notifications_sent": int(extras[1]),
        "asp_calloff_kw": round(float(extras[0]), 3),
        "feeders_with_events": int(events[6]),
        "feeders_past_market_solution_date": nf10["past_market_solution_date"],
        "feeders_past_implementation_date": nf10["past_implementation_date"],
        "limit_breaches": breaches,
    }
    assert list(values) == [metric.name for metric in SUMMARY_METRICS]
    return values


def duration_bucket_rows(snapshot: Snapshot) -> list[list]:
    """Events by minutes inside the period (a handful of rows)."""
    filters = []
    for low, high in DURATION_BUCKET_BOUNDS:
        cond = f"secs_in_period >= {float(low) * 60}"
        if high is not None:
            cond += f" AND secs_in_period < {float(high) * 60}"
        filters.append(f"COUNT(*) FILTER (WHERE {cond})")
    counts = one_row(f"SELECT {', '.join(filters)} FROM {EVENTS_TABLE}")
    return [
        [bucket_label(low, high), float(low), None if high is None else float(high), int(counts[i])]
        for i, (low, high) in enumerate(DURATION_BUCKET_BOUNDS)
    ]


def managed_month_rows(snapshot: Snapshot) -> list[list]:
    """Per London month touched by the period: feeders with an event in it, and events."""
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
    """Feeders under management by the period's last day, with their NF10 dates (streamed).
    Months are added as PostgreSQL does (clamped to the month's end)."""
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
    for code, substation, area, since, events in _stream(sql, {"last": last.isoformat()}):
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


# --- worst-served customers ----------------------------------------------------------------


def worst_by_total_rows(snapshot: Snapshot, *, top_n: int) -> list[list]:
    sql = f"""
        SELECT m.core, per.secs / 60, per.events, per.longest / 60
        FROM (SELECT * FROM {MPAN_AGG_TABLE} ORDER BY secs DESC, mpan_id LIMIT %(top)s) per
        JOIN {T["mpan"]} m ON m.id = per.mpan_id
        ORDER BY per.secs DESC, m.core
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"top": top_n})
        return [
            [rank, core, round_minutes(secs), int(events), round_minutes(longest)]
            for rank, (core, secs, events, longest) in enumerate(cursor.fetchall(), start=1)
        ]


# The longest action of each of a few MPANs: through the MPAN's meter's switches and the
# (hcalcs, started_at) index, or an action's own MPAN, never a scan of the whole period.
def _longest_actions(d: Dialect, count: int) -> str:
    mpans = ", ".join(["%s"] * count)
    return f"""
    SELECT mpan_id, event_id, start_s FROM (
        SELECT x.*, ROW_NUMBER() OVER (PARTITION BY x.mpan_id ORDER BY x.secs DESC, x.start_s) AS nth
        FROM (
            SELECT COALESCE(a.mpan_id, mp.id) AS mpan_id, a.event_id, {d.epoch("a.started_at")} AS start_s,
                   (a.status = 'failed' OR a.end_reason = 'failed') AS failed,
                   {d.greatest}(0, {d.least}({d.epoch("COALESCE(a.ended_at, a.expected_end_at)")}, %s)
                                   - {d.greatest}({d.epoch("a.started_at")}, %s)) AS secs
            FROM {T["action"]} a
            JOIN {EVENTS_TABLE} ev ON ev.id = a.event_id
            JOIN {T["hcalcs"]} h ON h.id = a.hcalcs_id
            LEFT JOIN {T["mpan"]} mp ON mp.meter_id = h.meter_id AND mp.role = 'import_primary'
            WHERE a.mpan_id IN ({mpans})
               OR a.hcalcs_id IN (SELECT h2.id FROM {T["hcalcs"]} h2 JOIN {T["mpan"]} m2 ON m2.meter_id = h2.meter_id
                                  WHERE m2.id IN ({mpans}) AND m2.role = 'import_primary')
        ) x
        WHERE NOT x.failed AND x.mpan_id IN ({mpans})
    ) ranked
    WHERE nth = 1
"""


def worst_by_longest_rows(snapshot: Snapshot, *, top_n: int) -> list[list]:
    sql = f"""
        SELECT per.mpan_id, m.core, per.longest / 60, per.secs / 60, per.events
        FROM (SELECT * FROM {MPAN_AGG_TABLE} ORDER BY longest DESC, mpan_id LIMIT %(top)s) per
        JOIN {T["mpan"]} m ON m.id = per.mpan_id
        ORDER BY per.longest DESC, m.core
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"top": top_n})
        top = cursor.fetchall()
        if not top:
            return []
        ids = [row[0] for row in top]
        cursor.execute(
            _longest_actions(snapshot.dialect, len(ids)),
            [snapshot.params["end_s"], snapshot.params["start_s"], *ids, *ids, *ids],
        )
        longest = {mpan_id: (event_id, from_epoch(start_s)) for mpan_id, event_id, start_s in cursor.fetchall()}
    rows = []
    for rank, (mpan_id, core, longest_secs, secs, events) in enumerate(top, start=1):
        event_id, started_at = longest[mpan_id]
        rows.append(
            [rank, core, round_minutes(longest_secs), event_id, iso_utc(started_at), round_minutes(secs), int(events)]
        )
    return rows
