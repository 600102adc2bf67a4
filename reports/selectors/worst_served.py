# ruff: noqa: S608 - SQL is built only from the constant table names in T; values are bound parameters.
from __future__ import annotations

from django.db import connection

from core.times import iso_utc_seconds
from reports.selectors.snapshot import Snapshot
from reports.selectors.sql import (
    ACTION_FAILED,
    ACTION_START,
    EVENTS_TABLE,
    MPAN_AGG_TABLE,
    Dialect,
    T,
    action_end,
    from_epoch,
    round_minutes,
)


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
            SELECT COALESCE(a.mpan_id, mp.id) AS mpan_id, a.event_id, {d.epoch(ACTION_START)} AS start_s,
                   {ACTION_FAILED} AS failed,
                   {d.seconds_in_period(ACTION_START, action_end(d, now="%s"), period_start="%s", period_end="%s")} AS secs
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
            # In the order of the placeholders: the action's end (now), the period's end and start.
            [snapshot.params["now"], snapshot.params["end_s"], snapshot.params["start_s"], *ids, *ids, *ids],
        )
        longest = {mpan_id: (event_id, from_epoch(start_s)) for mpan_id, event_id, start_s in cursor.fetchall()}
    rows = []
    for rank, (mpan_id, core, longest_secs, secs, events) in enumerate(top, start=1):
        event_id, started_at = longest[mpan_id]
        rows.append(
            [
                rank,
                core,
                round_minutes(longest_secs),
                event_id,
                iso_utc_seconds(started_at),
                round_minutes(secs),
                int(events),
            ]
        )
    return rows
