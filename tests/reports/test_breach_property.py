"""Property: the report's NF11/NF12 breach check agrees with the engine's pure-Python usage
twin (``curtailment.usage.intervals_max_rolling_minutes``) on random histories."""

import datetime as dt

from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from curtailment.usage import Interval, intervals_max_rolling_minutes
from reports import selectors
from reports.breaches import breach_rows
from reports.periods import period_month
from tests.consent.factories import eligible_charger
from tests.reports.factories import curtail, event_with, utc

JUNE_5 = utc(2026, 6, 5, 0, 0)

# Whole minutes from 5 June, 1-120 minutes long: exact minutes equal the twin's rounded-up
# ones. Dense enough that many examples breach 120 min / 24 h and some 480 min / 30 days.
histories = st.lists(
    st.tuples(st.integers(0, 20 * 24 * 60), st.integers(1, 120)),
    min_size=1,
    max_size=14,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories)
def test_breach_check_agrees_with_the_usage_twin(db, history):
    with transaction.atomic():
        charger = eligible_charger()
        feeder = charger.meter.premise.feeder
        intervals = []
        for offset, minutes in history:
            start = JUNE_5 + dt.timedelta(minutes=offset)
            curtail(event_with(feeder=feeder, start=start, minutes=minutes), charger, minutes=minutes)
            intervals.append(Interval(charger.pk, start, start + dt.timedelta(minutes=minutes)))

        with selectors.report_snapshot(period=period_month(2026, 6)) as snapshot:
            breaches = {row[2]: row for row in breach_rows(snapshot)}
        transaction.set_rollback(True)

    for kind, window, limit in (("24h", dt.timedelta(hours=24), 120), ("30d", dt.timedelta(days=30), 480)):
        most = intervals_max_rolling_minutes(intervals=intervals, hcalcs_id=charger.pk, window=window)
        event(f"{kind} breach" if most > limit else f"{kind} within")
        if most > limit:
            assert kind in breaches, (kind, most)
            assert breaches[kind][6] == most
        else:
            assert kind not in breaches, (kind, most, breaches.get(kind))
