"""UTC in storage and on the wire, Europe/London on screen and in report periods."""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
UTC = dt.UTC

WALLCLOCK_FORMAT = "%Y-%m-%d %H:%M:%S"


NO_UTC_OFFSET = "no UTC offset: give e.g. +00:00 or Z (local times are ambiguous at clock changes)"


class NoUtcOffset(ValueError):
    """A local time is ambiguous at the clock changes, so none is guessed."""


def datetime_with_offset(text: object) -> dt.datetime:
    """The one check of a client's timestamp: ISO 8601 with its UTC offset, returned as UTC."""
    if not isinstance(text, str):
        raise ValueError("required: an ISO 8601 string with a UTC offset")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:  # malformed, or well-formed but impossible (2026-13-01T25:00)
        raise ValueError(f"not an ISO 8601 date-time: {text[:40]!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise NoUtcOffset(NO_UTC_OFFSET)
    return parsed.astimezone(UTC)


def london_wallclock(moment: dt.datetime | None) -> str | None:
    """For Plotly (no offset). Naive input is refused: storage is UTC, so it is a bug upstream."""
    if moment is None:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("london_wallclock needs an aware datetime (storage is UTC)")
    return moment.astimezone(LONDON).strftime(WALLCLOCK_FORMAT)


def london_label(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(LONDON)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"


def london_midnight_utc(day: dt.date) -> dt.datetime:
    # Midnight always exists in London (the clocks change at 01:00 / 02:00), so no fold
    # or gap handling is needed.
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=LONDON).astimezone(UTC)


def iso_utc(moment: dt.datetime | None) -> str | None:
    """Full precision: the form pages parse and order pushed payloads and API replies by."""
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def iso_utc_seconds(moment: dt.datetime | None) -> str:
    """Whole seconds, ``""`` for None: what report readers (spreadsheets, the regulator) want."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_months(day: dt.date, months: int) -> dt.date:
    """Clamped to the month's last day, as PostgreSQL's ``date + interval 'n months'``."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(day.day, last))
