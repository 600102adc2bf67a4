# ruff: noqa: S608 - SQL is built only from the constant table names in T; values are bound parameters.
from __future__ import annotations

from collections.abc import Iterator

from core.times import iso_utc_seconds
from reports.selectors.snapshot import Snapshot
from reports.selectors.sql import EVENTS_TABLE, T, from_epoch, round_minutes, stream

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
SELECT ev.id, f.code, s.code, s.licence_area, ev.trigger, ev.status, ev.ongoing, ev.end_reason, ev.start_s, ev.ended_s,
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
    """One row per event (``columns.EVENTS``), oldest first, streamed."""
    sql = _EVENT_ROWS.format(**T) + " ORDER BY ev.started_at, ev.id"
    for row in stream(sql):
        yield [
            *row[0:6],
            bool(row[6]),
            row[7],
            iso_utc_seconds(from_epoch(row[8])),
            iso_utc_seconds(from_epoch(row[9])) or None,
            round_minutes(row[10]),
            round_minutes(row[11]),
            int(row[12]),
            int(row[13]),
            round_minutes(row[14]),
            int(row[15]),
            int(row[16]),
            int(row[17]),
            round(float(row[18] or 0), 3),
            int(row[19]),
        ]


def ongoing_event_rows(snapshot: Snapshot) -> list[list]:
    sql = f"""
        SELECT ev.id, f.code, ev.start_s, (ev.end_s - ev.start_s) / 60
        FROM {EVENTS_TABLE} ev JOIN {T["feeder"]} f ON f.id = ev.feeder_id
        WHERE ev.ongoing ORDER BY ev.started_at, ev.id
    """
    return [
        [event_id, code, iso_utc_seconds(from_epoch(start_s)), round_minutes(minutes)]
        for event_id, code, start_s, minutes in stream(sql)
    ]
