# ruff: noqa: S608 - SQL is built only from a constant table name.
"""The summary's MPANs per kind (switched off, throttled) come from the per-MPAN totals;
they equal the DISTINCT count over the period's actions that the report used before."""

from django.db import connection, transaction
from django.utils import timezone

from curtailment.choices import ActionStatus
from reports import selectors
from reports.periods import period_month
from reports.selectors import ACTIONS_TABLE
from tests.consent.factories import HcalcsFactory, eligible_charger
from tests.feeders.factories import FeederFactory
from tests.reports.factories import curtail, event_with, utc

# The summary's query before the per-MPAN totals carried the kinds.
DISTINCT_OVER_ACTIONS = f"""
SELECT COUNT(DISTINCT mpan_id) FILTER (WHERE NOT throttled AND NOT failed AND secs > 0),
       COUNT(DISTINCT mpan_id) FILTER (WHERE throttled AND NOT failed AND secs > 0)
FROM {ACTIONS_TABLE}
"""


def mixed_history() -> None:
    """MPANs with switch-offs only, limits only, both kinds, a second switch on one meter,
    a failed limit, one curtailed only before the period and one across its end."""
    feeder = FeederFactory()
    hcalcs = eligible_charger(feeder=feeder)
    HcalcsFactory(meter=hcalcs.meter, switch_index=2)
    apc = eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0)
    both = eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0)
    refused = eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0)
    before = eligible_charger(feeder=feeder)
    across = eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0)
    first = event_with(feeder=feeder, start=utc(2026, 6, 10, 10, 0))
    curtail(first, hcalcs, minutes=30)
    curtail(first, apc, minutes=40, kind="limit", level_percent=60, expected_kw=4.4)
    curtail(first, both, minutes=20, kind="limit", level_percent=60, expected_kw=4.4)
    curtail(first, refused, minutes=30, kind="limit", level_percent=60, status=ActionStatus.FAILED, expected_kw=4.4)
    second = event_with(feeder=feeder, start=utc(2026, 6, 12, 18, 0))
    curtail(second, both, minutes=15)
    curtail(second, hcalcs, minutes=10)
    may = event_with(feeder=feeder, start=utc(2026, 5, 30, 9, 0))
    curtail(may, before, minutes=25)
    end_of_june = event_with(feeder=feeder, start=utc(2026, 6, 30, 22, 30), minutes=90)
    curtail(end_of_june, across, minutes=80, kind="limit", level_percent=50, expected_kw=5.5)


def test_mpans_per_kind_equal_the_distinct_count_over_actions(db):
    mixed_history()
    period = period_month(2026, 6)
    now = timezone.now()

    with transaction.atomic(), selectors.report_snapshot(period=period, now=now) as snapshot:
        summary = selectors.summary(snapshot, generated_at=now, breaches=0)
        with connection.cursor() as cursor:
            cursor.execute(DISTINCT_OVER_ACTIONS)
            switched_off, throttled = cursor.fetchone()

    assert (summary["mpans_switched_off"], summary["mpans_throttled"]) == (switched_off, throttled)
    # The history's own answer, so the comparison is not between two empty counts: the
    # switch-off meter and the meter with both kinds; the limit-only, both-kinds and
    # across-the-end meters (the refused limit and the May meter count for neither).
    assert (summary["mpans_switched_off"], summary["mpans_throttled"]) == (2, 3)
