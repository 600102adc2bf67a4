from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from consent.models import HCALCS, MPAN, Notification
from curtailment.models import AspCallOff, CurtailmentAction, CurtailmentEvent
from feeders.models import Feeder, Substation

CHUNK_ROWS = 2000

EVENTS_TABLE = "ofgem_report_events"
ACTIONS_TABLE = "ofgem_report_actions"
EVENT_AGG_TABLE = "ofgem_report_event_totals"
MPAN_AGG_TABLE = "ofgem_report_mpan_totals"

# What the device did (the ledger): an action (alias ``a``) curtailed its charger over
# [ACTION_START, action_end(d)), from the device's confirmation to its release or revert;
# while it runs, up to the report's "now" (never its planned minutes still to come). One the
# device never confirmed, or whose command failed, switched nothing off: ACTION_FAILED.
ACTION_START = "a.confirmed_at"
ACTION_FAILED = "(a.confirmed_at IS NULL OR a.status = 'failed' OR a.end_reason = 'failed')"
# An event is ongoing while it is open (active or releasing): it counts up to "now".
EVENT_ONGOING = "e.status IN ('active', 'releasing')"

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
    """The few SQL spellings that differ between PostgreSQL and SQLite."""

    vendor: str

    @property
    def postgresql(self) -> bool:
        return self.vendor == "postgresql"

    def epoch(self, expr: str) -> str:
        """SQLite keeps UTC text."""
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

    def seconds_in_period(
        self, start: str, end: str, *, period_start: str = "%(start_s)s", period_end: str = "%(end_s)s"
    ) -> str:
        """The clipping every table of the report counts by."""
        return (
            f"{self.greatest}(0, {self.least}({self.epoch(end)}, {period_end})"
            f" - {self.greatest}({self.epoch(start)}, {period_start}))"
        )

    def temp_table(self, name: str) -> str:
        # PostgreSQL drops it at commit; SQLite's lives with the connection and is dropped
        # explicitly when the snapshot closes.
        return f"TEMPORARY TABLE {name} ON COMMIT DROP" if self.postgresql else f"TEMP TABLE {name}"


def action_end(d: Dialect, now: str = "%(now)s") -> str:
    """While it runs, ``now`` or its planned end if earlier, since the device reverts by itself then."""
    return f"COALESCE(a.ended_at, {d.least}(a.expected_end_at, {now}))"


def event_end(now: str = "%(now)s") -> str:
    """``now`` while ongoing: an event lives while its feeder is at risk, with no fixed end."""
    return f"COALESCE(e.ended_at, CASE WHEN {EVENT_ONGOING} THEN {now} ELSE e.planned_end_at END)"


def dialect() -> Dialect:
    if connection.vendor not in ("postgresql", "sqlite"):
        raise ReportUnavailable(f"Ofgem reports run on PostgreSQL or SQLite, not {connection.vendor}")
    return Dialect(connection.vendor)


def ts_param(value: dt.datetime):
    """As the database stores it, so columns compare natively (SQLite's UTC text orders as text)."""
    return connection.ops.adapt_datetimefield_value(value)


def from_epoch(seconds) -> dt.datetime | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(round(float(seconds), 3), tz=dt.UTC)


def late_after() -> dt.timedelta:
    return dt.timedelta(seconds=int(settings.DNOCTL["CONFIRMATION_TIMEOUT_S"]))


def round_minutes(value) -> float:
    return round(float(value or 0), 2)


def stream(sql: str, params: dict | list | None = None, chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple]:
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
