# ruff: noqa: S608 - SQL is built only from the constant table names in T; values are bound parameters.
"""NF11/NF12 usage-limit breaches over a report period (expected none; listed if not).

Every charger's curtailed intervals within 30 days either side of the period are checked
with the same interval the limits count (``[started_at, COALESCE(ended_at,
expected_end_at))``, failed commands excluded): a cheap window-function pre-filter finds the
chargers that could breach, and an exact check of the candidate windows of those chargers
finds the worst window per charger and limit.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection

from curtailment.reports.periods import iso_utc
from curtailment.reports.selectors import Snapshot, T, one_row, round_minutes

# Curtailed intervals of every charger near the period (30 days either side plus the
# longest action), failed commands excluded: the limits are about chargers switched off.
_INTERVALS = """
    SELECT a.hcalcs_id, a.started_at AS s, COALESCE(a.ended_at, a.expected_end_at) AS e
    FROM {action} a
    WHERE NOT (a.status = 'failed' OR a.end_reason = 'failed')
      AND a.started_at < %(end)s + %(window_30d)s
      AND COALESCE(a.ended_at, a.expected_end_at) > %(start)s - %(window_30d)s
      AND COALESCE(a.ended_at, a.expected_end_at) > a.started_at
"""

# A cheap pre-filter that never misses a breach: every window [t - W, t] is overlapped only by intervals that
# start in [s_i, s_i + W + longest) where i is the earliest of them, so if no running sum
# over that frame exceeds the limit no window can. Whole seconds (starts rounded down,
# durations up, a second of slack on the frame) keep it an upper bound and let PostgreSQL
# use integer frame arithmetic, much cheaper than timestamp + interval. Only chargers that fail it get the
# exact candidate-window check below.
_FLAGGED = """
    WITH iv AS ({intervals}),
    running AS (
        SELECT hcalcs_id,
               SUM(secs) OVER (PARTITION BY hcalcs_id ORDER BY s_epoch
                               RANGE BETWEEN CURRENT ROW AND %(frame_24h_s)s FOLLOWING) AS s24,
               SUM(secs) OVER (PARTITION BY hcalcs_id ORDER BY s_epoch
                               RANGE BETWEEN CURRENT ROW AND %(frame_30d_s)s FOLLOWING) AS s30
        FROM (SELECT hcalcs_id, FLOOR(EXTRACT(EPOCH FROM s))::bigint AS s_epoch,
                     CEIL(EXTRACT(EPOCH FROM e - s))::integer AS secs
              FROM iv) whole_seconds
    )
    SELECT DISTINCT hcalcs_id FROM running WHERE s24 > %(limit_24h)s * 60 OR s30 > %(limit_30d)s * 60
"""

# The curtailed minutes in a rolling window are piecewise linear in the window's position
# and peak where the window ends at some interval's end or starts at some interval's start,
# so checking those candidate windows is exact.
_EXACT = """
    WITH iv AS ({intervals} AND a.hcalcs_id = ANY(%(flagged)s)),
    limits(kind, win, lim) AS (VALUES ('24h', %(window_24h)s::interval, %(limit_24h)s),
                                      ('30d', %(window_30d)s::interval, %(limit_30d)s)),
    candidates AS (
        SELECT DISTINCT iv.hcalcs_id, limits.kind, limits.win, limits.lim, c.ws
        FROM iv CROSS JOIN limits CROSS JOIN LATERAL (VALUES (iv.e - limits.win), (iv.s)) AS c(ws)
    ),
    sums AS (
        SELECT c.hcalcs_id, c.kind, c.lim, c.ws, c.ws + c.win AS we,
               SUM(EXTRACT(EPOCH FROM LEAST(j.e, c.ws + c.win) - GREATEST(j.s, c.ws))) / 60 AS minutes
        FROM candidates c JOIN iv j ON j.hcalcs_id = c.hcalcs_id AND j.s < c.ws + c.win AND j.e > c.ws
        GROUP BY c.hcalcs_id, c.kind, c.lim, c.ws, c.win
    ),
    over AS (
        SELECT *, COUNT(*) OVER (PARTITION BY hcalcs_id, kind) AS windows,
               ROW_NUMBER() OVER (PARTITION BY hcalcs_id, kind ORDER BY minutes DESC, ws) AS worst
        FROM sums
        WHERE minutes > lim + 1e-6 AND ws < %(end)s AND we > %(start)s
    )
    SELECT mp.core, h.eui64, over.kind, over.lim, over.ws, over.we, over.minutes, over.windows
    FROM over
    JOIN {hcalcs} h ON h.id = over.hcalcs_id
    LEFT JOIN {mpan} mp ON mp.meter_id = h.meter_id AND mp.role = 'import_primary'
    WHERE over.worst = 1
    ORDER BY over.minutes - over.lim DESC, h.eui64, over.kind
"""


def breach_rows(snapshot: Snapshot) -> list[list]:
    """The worst window per charger and limit that breaches NF11/NF12 (expected none)."""
    limit_24h = int(settings.DNOCTL["LIMIT_24H_MINUTES"])
    limit_30d = int(settings.DNOCTL["LIMIT_30D_MINUTES"])
    window_24h, window_30d = dt.timedelta(hours=24), dt.timedelta(days=30)
    params = {
        "start": snapshot.period.start_utc,
        "end": snapshot.period.end_utc,
        "window_24h": window_24h,
        "window_30d": window_30d,
        "limit_24h": limit_24h,
        "limit_30d": limit_30d,
    }
    intervals = _INTERVALS.format(**T)
    longest = one_row(f"SELECT MAX(e - s) FROM ({intervals}) iv", params)[0]
    if longest is None:
        return []
    params["frame_24h_s"] = int((window_24h + longest).total_seconds()) + 2
    params["frame_30d_s"] = int((window_30d + longest).total_seconds()) + 2
    with connection.cursor() as cursor:
        cursor.execute(_FLAGGED.format(intervals=intervals), params)
        flagged = [row[0] for row in cursor.fetchall()]
        if not flagged:
            return []
        params["flagged"] = flagged
        cursor.execute(_EXACT.format(intervals=intervals, **T), params)
        return [
            [core, eui64, kind, lim, iso_utc(ws), iso_utc(we), round_minutes(minutes), windows]
            for core, eui64, kind, lim, ws, we, minutes, windows in cursor.fetchall()
        ]
