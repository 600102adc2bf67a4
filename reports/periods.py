"""Report periods: whole Europe/London calendar days, so a period holding a clock change is an
hour shorter or longer in UTC. The regulatory year runs 1 April - 31 March."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from core.times import add_months, iso_utc_seconds, london_midnight_utc

# A custom period longer than this is almost certainly a typo in a year.
MAX_PERIOD_DAYS = 366 * 5


class PeriodError(ValueError):
    """A period that cannot be reported on; the message names what is wrong."""


@dataclass(frozen=True)
class ReportPeriod:
    """Whole London calendar days ``first_day`` .. ``last_day`` (both inclusive)."""

    kind: str
    first_day: dt.date
    last_day: dt.date
    label: str

    @property
    def start_utc(self) -> dt.datetime:
        return london_midnight_utc(self.first_day)

    @property
    def end_utc(self) -> dt.datetime:
        """Exclusive: the London midnight after ``last_day``."""
        return london_midnight_utc(self.last_day + dt.timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def hours(self) -> float:
        return (self.end_utc - self.start_utc).total_seconds() / 3600

    def months(self) -> list[dt.date]:
        month = self.first_day.replace(day=1)
        result = []
        while month <= self.last_day:
            result.append(month)
            month = add_months(month, 1)
        return result

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "label": self.label,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "start_utc": iso_utc_seconds(self.start_utc),
            "end_utc": iso_utc_seconds(self.end_utc),
            "timezone": "Europe/London",
        }


def regulatory_year_of(day: dt.date) -> int:
    """Named by the calendar year it starts in."""
    return day.year if day.month >= 4 else day.year - 1


def period_regulatory_year(year: int) -> ReportPeriod:
    _check_year(year)
    return ReportPeriod(
        kind="regulatory_year",
        first_day=dt.date(year, 4, 1),
        last_day=dt.date(year + 1, 3, 31),
        label=f"Regulatory year {year}/{(year + 1) % 100:02d}",
    )


def period_quarter(year: int, quarter: int) -> ReportPeriod:
    _check_year(year)
    if quarter not in (1, 2, 3, 4):
        raise PeriodError(f"quarter must be 1, 2, 3 or 4, got {quarter!r}")
    first = add_months(dt.date(year, 4, 1), 3 * (quarter - 1))
    last = add_months(first, 3) - dt.timedelta(days=1)
    return ReportPeriod(
        kind="quarter", first_day=first, last_day=last, label=f"Q{quarter} of {year}/{(year + 1) % 100:02d}"
    )


def period_month(year: int, month: int) -> ReportPeriod:
    _check_year(year)
    if not 1 <= month <= 12:
        raise PeriodError(f"month must be 1-12, got {month!r}")
    first = dt.date(year, month, 1)
    last = add_months(first, 1) - dt.timedelta(days=1)
    return ReportPeriod(kind="month", first_day=first, last_day=last, label=first.strftime("%B %Y"))


def period_custom(first_day: dt.date, last_day: dt.date) -> ReportPeriod:
    if last_day < first_day:
        raise PeriodError(f"end date {last_day.isoformat()} is before start date {first_day.isoformat()}")
    if (last_day - first_day).days + 1 > MAX_PERIOD_DAYS:
        raise PeriodError(f"a period may be at most {MAX_PERIOD_DAYS} days long")
    _check_year(first_day.year)
    _check_year(last_day.year)
    return ReportPeriod(
        kind="custom",
        first_day=first_day,
        last_day=last_day,
        label=f"{first_day.isoformat()} to {last_day.isoformat()}",
    )


def _check_year(year: int) -> None:
    if not isinstance(year, int) or not 2000 <= year <= 2200:
        raise PeriodError(f"year must be between 2000 and 2200, got {year!r}")


def _parse_date(name: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise PeriodError(f"{name} must be a date as YYYY-MM-DD, got {value!r}") from None


def _parse_int(name: str, value) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise PeriodError(f"{name} must be a whole number, got {value!r}") from None


_QUARTER_RE = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def period_parse(
    *,
    start: str | None = None,
    end: str | None = None,
    regulatory_year: str | int | None = None,
    quarter: str | None = None,
    month: str | None = None,
) -> ReportPeriod:
    """One period from exactly one way of naming it: ``regulatory_year``, ``quarter``
    (``2026-Q3``), ``month`` (``2026-10``) or ``start`` and ``end`` (inclusive). The page, API
    and command share it."""
    given = [
        name
        for name, value in (
            ("regulatory_year", regulatory_year),
            ("quarter", quarter),
            ("month", month),
            ("start/end", start or end),
        )
        if value not in (None, "")
    ]
    if len(given) != 1:
        raise PeriodError(
            "give exactly one of regulatory_year, quarter, month or start and end"
            + (f" (got {', '.join(given)})" if given else "")
        )
    if regulatory_year not in (None, ""):
        return period_regulatory_year(_parse_int("regulatory_year", regulatory_year))
    if quarter not in (None, ""):
        found = _QUARTER_RE.match(str(quarter).strip())
        if not found:
            raise PeriodError(f"quarter must look like 2026-Q1 (regulatory year and quarter 1-4), got {quarter!r}")
        return period_quarter(int(found.group(1)), int(found.group(2)))
    if month not in (None, ""):
        found = _MONTH_RE.match(str(month).strip())
        if not found:
            raise PeriodError(f"month must look like 2026-10, got {month!r}")
        return period_month(int(found.group(1)), int(found.group(2)))
    if not start or not end:
        raise PeriodError("a custom period needs both start and end dates")
    return period_custom(_parse_date("start", start), _parse_date("end", end))
