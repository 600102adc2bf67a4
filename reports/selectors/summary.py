# ruff: noqa: S608 - SQL is built only from the constant table names in T; values are bound parameters.
from __future__ import annotations

import datetime as dt

from core.times import iso_utc_seconds
from reports.columns import DURATION_BUCKET_BOUNDS, SUMMARY_METRICS, bucket_label
from reports.selectors.managed import nf10_feeder_rows
from reports.selectors.snapshot import Snapshot
from reports.selectors.sql import (
    ACTIONS_TABLE,
    EVENT_AGG_TABLE,
    EVENTS_TABLE,
    MPAN_AGG_TABLE,
    T,
    one_row,
    round_minutes,
)


def summary(snapshot: Snapshot, *, generated_at: dt.datetime, breaches: int) -> dict:
    period = snapshot.period
    events = one_row(
        f"""
        SELECT COUNT(*),
               COUNT(*) FILTER (WHERE trigger = 'automatic'),
               COUNT(*) FILTER (WHERE trigger = 'manual'),
               COUNT(*) FILTER (WHERE trigger = 'external'),
               COALESCE(SUM(secs_in_period), 0) / 60,
               COALESCE(MAX(secs_in_period), 0) / 60,
               COUNT(DISTINCT feeder_id),
               COUNT(*) FILTER (WHERE ongoing)
        FROM {EVENTS_TABLE}
        """
    )
    # Is the longest event still running (its minutes so far will grow)?
    longest = one_row(f"SELECT ongoing FROM {EVENTS_TABLE} ORDER BY secs_in_period DESC, ongoing DESC LIMIT 1")
    actions = one_row(
        f"""
        SELECT COALESCE(SUM(actions), 0), COALESCE(SUM(secs), 0) / 60, COALESCE(SUM(overrides), 0),
               COALESCE(SUM(failed), 0), COALESCE(SUM(late), 0), COALESCE(SUM(mpans), 0)
        FROM {EVENT_AGG_TABLE}
        """
    )
    mpans_affected = one_row(f"SELECT COUNT(*) FROM {MPAN_AGG_TABLE}")[0]
    # A limited minute counts on the same ledger as a switched-off one (docs/apc.md), so the
    # two kinds are shown apart as well as in charger_minutes.
    kinds = one_row(
        f"""
        SELECT COUNT(DISTINCT mpan_id) FILTER (WHERE NOT throttled AND NOT failed AND secs > 0),
               COALESCE(SUM(secs) FILTER (WHERE NOT throttled AND NOT failed), 0) / 60,
               COUNT(DISTINCT mpan_id) FILTER (WHERE throttled AND NOT failed AND secs > 0),
               COALESCE(SUM(secs) FILTER (WHERE throttled AND NOT failed), 0) / 60,
               COALESCE(SUM(secs * kw_withheld) FILTER (WHERE NOT throttled AND NOT failed), 0) / 3600,
               COALESCE(SUM(secs * kw_withheld) FILTER (WHERE throttled AND NOT failed), 0) / 3600
        FROM {ACTIONS_TABLE}
        """
    )
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
        "period_start_utc": iso_utc_seconds(period.start_utc),
        "period_end_utc": iso_utc_seconds(period.end_utc),
        "generated_at": iso_utc_seconds(generated_at),
        "events": int(count),
        "events_automatic": int(events[1]),
        "events_manual": int(events[2]),
        "events_external": int(events[3]),
        "events_ongoing": int(events[7]),
        "mpans_affected": int(mpans_affected),
        "mpan_events": int(actions[5]),
        "charger_actions": int(actions[0]),
        "charger_minutes": round_minutes(actions[1]),
        "mpans_switched_off": int(kinds[0]),
        "switched_off_minutes": round_minutes(kinds[1]),
        "mpans_throttled": int(kinds[2]),
        "throttled_minutes": round_minutes(kinds[3]),
        "switched_off_kwh": round(float(kinds[4]), 3),
        "throttled_kwh": round(float(kinds[5]), 3),
        "event_minutes_total": round_minutes(events[4]),
        "event_minutes_mean": round_minutes(float(events[4]) / count) if count else 0.0,
        "event_minutes_max": round_minutes(events[5]),
        "event_minutes_max_ongoing": bool(longest and longest[0]),
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
