# ruff: noqa: S608 - SQL is built only from the constant table names in T; values are bound parameters.
"""NF11/NF12 usage-limit breaches over a report period (expected none; listed if not).

A cheap window-function pre-filter finds the chargers that could breach, then an exact check of
their candidate windows finds the worst per charger and limit. Times are epoch seconds, so the
same SQL runs on PostgreSQL and SQLite."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection

from core.times import iso_utc_seconds
from reports.selectors import (
    ACTION_FAILED,
    ACTION_START,
    Dialect,
    Snapshot,
    T,
    action_end,
    from_epoch,
    round_minutes,
    ts_param,
)

FLAGGED_TABLE = "ofgem_report_flagged_chargers"
# Minutes over a limit by less than this are rounding noise of the epoch arithmetic.
TOLERANCE_MINUTES = 1e-4


def _intervals(d: Dialect, *, flagged_only: bool = False) -> str:
    """Failed commands excluded: the limits are about chargers switched off."""
    end = action_end(d)
    flagged = f" AND a.hcalcs_id IN (SELECT hcalcs_id FROM {FLAGGED_TABLE})" if flagged_only else ""
    return f"""
    SELECT a.hcalcs_id, {d.epoch(ACTION_START)} AS s, {d.epoch(end)} AS e
    FROM {T["action"]} a
    WHERE NOT {ACTION_FAILED}
      AND {ACTION_START} < %(scan_end)s AND {end} > %(scan_start)s AND {end} > {ACTION_START}{flagged}
"""


# A cheap pre-filter that never misses a breach: every window [t - W, t] is overlapped only
# by intervals that start in [s_i, s_i + W + longest) where i is the earliest of them, so if
# no running sum over that frame exceeds the limit no window can. Whole seconds (starts
# truncated, durations plus one second, two seconds of slack on the frame) keep it an upper
# bound and let the database use integer frame arithmetic. Only chargers that fail it get
# the exact candidate-window check below.
def _flagged(d: Dialect) -> str:
    return f"""
    WITH iv AS ({_intervals(d)}),
    running AS (
        SELECT hcalcs_id,
               SUM(secs) OVER (PARTITION BY hcalcs_id ORDER BY s_whole
                               RANGE BETWEEN CURRENT ROW AND %(frame_24h_s)s FOLLOWING) AS s24,
               SUM(secs) OVER (PARTITION BY hcalcs_id ORDER BY s_whole
                               RANGE BETWEEN CURRENT ROW AND %(frame_30d_s)s FOLLOWING) AS s30
        FROM (SELECT hcalcs_id, CAST(s AS bigint) AS s_whole, CAST(e - s AS integer) + 1 AS secs FROM iv) whole
    )
    SELECT DISTINCT hcalcs_id FROM running WHERE s24 > %(limit_24h)s * 60 OR s30 > %(limit_30d)s * 60
"""


# The curtailed minutes in a rolling window are piecewise linear in the window's position
# and peak where the window ends at some interval's end or starts at some interval's start,
# so checking those candidate windows is exact.
def _exact(d: Dialect) -> str:
    return f"""
    WITH iv AS ({_intervals(d, flagged_only=True)}),
    limits AS (SELECT '24h' AS kind, %(window_24h_s)s AS win, %(limit_24h)s AS lim
               UNION ALL SELECT '30d', %(window_30d_s)s, %(limit_30d)s),
    candidates AS (
        SELECT DISTINCT hcalcs_id, kind, win, lim, ws FROM (
            SELECT iv.hcalcs_id, limits.kind, limits.win, limits.lim, iv.e - limits.win AS ws FROM iv CROSS JOIN limits
            UNION ALL
            SELECT iv.hcalcs_id, limits.kind, limits.win, limits.lim, iv.s FROM iv CROSS JOIN limits
        ) anchored
    ),
    sums AS (
        SELECT c.hcalcs_id, c.kind, c.lim, c.ws, c.ws + c.win AS we,
               SUM({d.least}(j.e, c.ws + c.win) - {d.greatest}(j.s, c.ws)) / 60 AS minutes
        FROM candidates c JOIN iv j ON j.hcalcs_id = c.hcalcs_id AND j.s < c.ws + c.win AND j.e > c.ws
        GROUP BY c.hcalcs_id, c.kind, c.lim, c.ws, c.win
    ),
    over_limit AS (
        SELECT sums.*, COUNT(*) OVER (PARTITION BY hcalcs_id, kind) AS windows,
               ROW_NUMBER() OVER (PARTITION BY hcalcs_id, kind ORDER BY minutes DESC, ws) AS worst
        FROM sums
        WHERE minutes > lim + {TOLERANCE_MINUTES} AND ws < %(end_s)s AND we > %(start_s)s
    )
    SELECT mp.core, h.eui64, o.kind, o.lim, o.ws, o.we, o.minutes, o.windows
    FROM over_limit o
    JOIN {T["hcalcs"]} h ON h.id = o.hcalcs_id
    LEFT JOIN {T["mpan"]} mp ON mp.meter_id = h.meter_id AND mp.role = 'import_primary'
    WHERE o.worst = 1
    ORDER BY o.minutes - o.lim DESC, h.eui64, o.kind
"""


def breach_rows(snapshot: Snapshot) -> list[list]:
    """The worst window per charger and limit that breaches NF11/NF12 (expected none)."""
    d = snapshot.dialect
    window_24h, window_30d = dt.timedelta(hours=24), dt.timedelta(days=30)
    period = snapshot.period
    params = {
        "scan_start": ts_param(period.start_utc - window_30d),
        "scan_end": ts_param(period.end_utc + window_30d),
        "start_s": period.start_utc.timestamp(),
        "end_s": period.end_utc.timestamp(),
        "window_24h_s": window_24h.total_seconds(),
        "window_30d_s": window_30d.total_seconds(),
        "limit_24h": int(settings.DNOCTL["LIMIT_24H_MINUTES"]),
        "limit_30d": int(settings.DNOCTL["LIMIT_30D_MINUTES"]),
        "now": snapshot.params["now"],
    }
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(e - s) FROM ({_intervals(d)}) iv", params)
        longest_s = cursor.fetchone()[0]
        if longest_s is None:
            return []
        params["frame_24h_s"] = int(params["window_24h_s"] + float(longest_s)) + 2
        params["frame_30d_s"] = int(params["window_30d_s"] + float(longest_s)) + 2
        cursor.execute(f"DROP TABLE IF EXISTS {FLAGGED_TABLE}")
        cursor.execute(f"CREATE {d.temp_table(FLAGGED_TABLE)} AS {_flagged(d)}", params)
        try:
            cursor.execute(f"SELECT COUNT(*) FROM {FLAGGED_TABLE}")
            if cursor.fetchone()[0] == 0:
                return []
            cursor.execute(_exact(d), params)
            return [
                [
                    core,
                    eui64,
                    kind,
                    int(lim),
                    iso_utc_seconds(from_epoch(ws)),
                    iso_utc_seconds(from_epoch(we)),
                    round_minutes(minutes),
                    int(windows),
                ]
                for core, eui64, kind, lim, ws, we, minutes, windows in cursor.fetchall()
            ]
        finally:
            if not d.postgresql:
                cursor.execute(f"DROP TABLE IF EXISTS {FLAGGED_TABLE}")
