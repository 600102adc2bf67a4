import datetime as dt

import pytest

from core.times import add_months
from reports.periods import (
    PeriodError,
    period_custom,
    period_month,
    period_parse,
    period_quarter,
    period_regulatory_year,
)

UTC = dt.UTC


def test_regulatory_year_runs_april_to_march_in_london_time():
    period = period_regulatory_year(2026)
    assert (period.first_day, period.last_day) == (dt.date(2026, 4, 1), dt.date(2027, 3, 31))
    # 1 April is in BST: London midnight is 23:00 UTC the day before; 1 April 2027 likewise.
    assert period.start_utc == dt.datetime(2026, 3, 31, 23, 0, tzinfo=UTC)
    assert period.end_utc == dt.datetime(2027, 3, 31, 23, 0, tzinfo=UTC)
    assert period.label == "Regulatory year 2026/27"


def test_quarters_follow_the_regulatory_year():
    assert period_quarter(2026, 1).first_day == dt.date(2026, 4, 1)
    assert period_quarter(2026, 3).last_day == dt.date(2026, 12, 31)
    q4 = period_quarter(2026, 4)
    assert (q4.first_day, q4.last_day) == (dt.date(2027, 1, 1), dt.date(2027, 3, 31))


def test_month_with_spring_clock_change_is_one_hour_short():
    march = period_month(2026, 3)
    assert march.start_utc == dt.datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    assert march.end_utc == dt.datetime(2026, 3, 31, 23, 0, tzinfo=UTC)
    assert march.hours == 31 * 24 - 1


def test_clock_change_days_are_23_and_25_hours():
    spring = period_custom(dt.date(2026, 3, 29), dt.date(2026, 3, 29))
    autumn = period_custom(dt.date(2026, 10, 25), dt.date(2026, 10, 25))
    assert spring.hours == 23
    assert autumn.hours == 25
    assert autumn.start_utc == dt.datetime(2026, 10, 24, 23, 0, tzinfo=UTC)
    assert autumn.end_utc == dt.datetime(2026, 10, 26, 0, 0, tzinfo=UTC)


def test_months_listed_for_a_period():
    period = period_custom(dt.date(2026, 1, 15), dt.date(2026, 3, 2))
    assert period.months() == [dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)]


def test_add_months_clamps_to_month_end():
    assert add_months(dt.date(2026, 8, 31), 6) == dt.date(2027, 2, 28)
    assert add_months(dt.date(2026, 11, 1), 18) == dt.date(2028, 5, 1)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"regulatory_year": "2026"}, (dt.date(2026, 4, 1), dt.date(2027, 3, 31))),
        ({"quarter": "2026-Q2"}, (dt.date(2026, 7, 1), dt.date(2026, 9, 30))),
        ({"month": "2027-02"}, (dt.date(2027, 2, 1), dt.date(2027, 2, 28))),
        ({"start": "2026-10-01", "end": "2026-10-31"}, (dt.date(2026, 10, 1), dt.date(2026, 10, 31))),
    ],
)
def test_period_parse_each_way_of_naming_a_period(kwargs, expected):
    period = period_parse(**kwargs)
    assert (period.first_day, period.last_day) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give exactly one"),
        ({"month": "2026-10", "regulatory_year": "2026"}, "give exactly one"),
        ({"start": "2026-10-31", "end": "2026-10-01"}, "before start date"),
        ({"start": "2026-10-01"}, "needs both start and end"),
        ({"start": "01/10/2026", "end": "2026-10-31"}, "start must be a date as YYYY-MM-DD"),
        ({"quarter": "2026-Q5"}, "quarter must look like"),
        ({"month": "2026-13"}, "month must be 1-12"),
        ({"regulatory_year": "twenty"}, "regulatory_year must be a whole number"),
        ({"start": "2020-01-01", "end": "2030-01-01"}, "at most"),
    ],
)
def test_period_parse_rejects_bad_input_with_a_clear_message(kwargs, message):
    with pytest.raises(PeriodError, match=message):
        period_parse(**kwargs)
