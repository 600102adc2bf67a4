"""Known curtailment histories give exact report counts."""

import datetime as dt

import pytest

from consent.choices import NotificationStatus
from curtailment.choices import ActionEndReason, ActionStatus, EventTrigger
from reports.periods import period_custom, period_month, period_regulatory_year
from tests.consent.factories import HcalcsFactory, eligible_charger
from tests.feeders.factories import FeederFactory
from tests.reports.factories import asp_calloff, curtail, event_notification, event_with, utc


def day(year, month, dom):
    return period_custom(dt.date(year, month, dom), dt.date(year, month, dom))


def test_mpans_counted_once_per_event_and_once_in_summary(json_report):
    feeder = FeederFactory()
    charger_a = eligible_charger(feeder=feeder)
    # A second switch on the same meter: same MPAN, so still one MPAN in the event.
    charger_a2 = HcalcsFactory(meter=charger_a.meter, switch_index=2)
    charger_b = eligible_charger(feeder=feeder)
    first = event_with(feeder=feeder, start=utc(2026, 6, 10, 10, 0))
    curtail(first, charger_a, minutes=30)
    curtail(first, charger_a2, minutes=30)
    curtail(first, charger_b, minutes=20)
    second = event_with(feeder=feeder, start=utc(2026, 6, 12, 18, 0))
    curtail(second, charger_a, minutes=10)

    report = json_report(period_month(2026, 6))

    events = {row["event_id"]: row for row in report["tables"]["events"]}
    assert events[first.pk]["mpans_affected"] == 2
    assert events[first.pk]["charger_actions"] == 3
    assert events[first.pk]["charger_minutes"] == 80
    assert events[second.pk]["mpans_affected"] == 1
    summary = report["summary"]
    assert summary["events"] == 2
    assert summary["mpans_affected"] == 2
    assert summary["mpan_events"] == 3
    assert summary["charger_minutes"] == 90
    assert summary["feeders_with_events"] == 1
    worst = report["tables"]["worst_by_total"]
    mpan_a = charger_a.meter.mpans.get().core
    assert worst[0] == {"rank": 1, "mpan": mpan_a, "curtailed_minutes": 70, "events": 2, "longest_minutes": 30}


def test_throttled_customers_and_minutes_are_counted_apart_from_switched_off_ones(json_report):
    feeder = FeederFactory()
    apc_a = eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0)
    apc_b = eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0)
    hcalcs = eligible_charger(feeder=feeder)
    event = event_with(feeder=feeder, start=utc(2026, 6, 10, 10, 0))
    curtail(event, apc_a, minutes=40, kind="limit", level_percent=60, expected_kw=4.4)
    curtail(event, apc_b, minutes=25, kind="limit", level_percent=60, expected_kw=2.0)
    curtail(event, hcalcs, minutes=30, expected_kw=7.0)
    # A limit the device refused limited nothing.
    failed = eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0)
    curtail(event, failed, minutes=30, kind="limit", level_percent=60, status=ActionStatus.FAILED, expected_kw=4.4)

    summary = json_report(period_month(2026, 6))["summary"]

    assert (summary["mpans_throttled"], summary["throttled_minutes"]) == (2, 65)
    assert (summary["mpans_switched_off"], summary["switched_off_minutes"]) == (1, 30)
    # Energy withheld, estimated: kW withheld x minutes (4.4 x 40 + 2.0 x 25 min; 7.0 x 30 min).
    assert summary["throttled_kwh"] == pytest.approx(4.4 * 40 / 60 + 2.0 * 25 / 60, abs=0.001)
    assert summary["switched_off_kwh"] == pytest.approx(3.5, abs=0.001)
    assert summary["charger_minutes"] == 95  # one ledger: both kinds count
    assert summary["mpans_affected"] == 3


def test_event_across_period_boundary_is_in_both_periods_with_clipped_minutes(json_report):
    charger = eligible_charger()
    # 22:30-23:30 UTC on 31 May = 23:30 BST 31 May to 00:30 BST 1 June.
    event = event_with(feeder=charger.meter.premise.feeder, start=utc(2026, 5, 31, 22, 30), minutes=60)
    curtail(event, charger, minutes=60)

    may = json_report(period_month(2026, 5))
    june = json_report(period_month(2026, 6))

    for report in (may, june):
        assert report["summary"]["events"] == 1
        assert report["summary"]["mpans_affected"] == 1
        (row,) = report["tables"]["events"]
        assert row["duration_minutes"] == 60
        assert row["minutes_in_period"] == 30
        assert row["charger_minutes"] == 30
    assert may["summary"]["charger_minutes"] + june["summary"]["charger_minutes"] == 60


def test_spring_clock_change_day_has_23_hours_of_events(json_report):
    feeder = FeederFactory()
    charger = eligible_charger(feeder=feeder)
    inside = event_with(feeder=feeder, start=utc(2026, 3, 29, 0, 30))  # 00:30 GMT on the 29th
    curtail(inside, charger, minutes=30)
    late_evening = event_with(feeder=feeder, start=utc(2026, 3, 29, 22, 0))  # 23:00 BST on the 29th
    curtail(late_evening, charger, minutes=30)
    next_day = event_with(feeder=feeder, start=utc(2026, 3, 29, 23, 30))  # 00:30 BST on the 30th
    curtail(next_day, charger, minutes=30)

    report = json_report(day(2026, 3, 29))

    assert [row["event_id"] for row in report["tables"]["events"]] == [inside.pk, late_evening.pk]
    assert report["summary"]["charger_minutes"] == 60
    assert report["period"]["end_utc"] == "2026-03-29T23:00:00Z"


def test_autumn_clock_change_day_has_25_hours_of_events(json_report):
    feeder = FeederFactory()
    charger = eligible_charger(feeder=feeder)
    early = event_with(feeder=feeder, start=utc(2026, 10, 24, 23, 30))  # 00:30 BST on the 25th
    curtail(early, charger, minutes=30)
    late = event_with(feeder=feeder, start=utc(2026, 10, 25, 23, 30))  # 23:30 GMT on the 25th
    curtail(late, charger, minutes=60)  # runs 30 minutes into the 26th
    outside = event_with(feeder=feeder, start=utc(2026, 10, 26, 0, 10))  # 00:10 GMT on the 26th
    curtail(outside, charger, minutes=30)

    report = json_report(day(2026, 10, 25))

    assert [row["event_id"] for row in report["tables"]["events"]] == [early.pk, late.pk]
    assert report["summary"]["charger_minutes"] == 30 + 30
    months = {row["month"]: row for row in json_report(period_month(2026, 10))["tables"]["managed_months"]}
    assert months["2026-10"] == {"month": "2026-10", "feeders_managed": 1, "events": 3}


def test_override_cut_short_counts_only_the_minutes_curtailed(json_report):
    charger = eligible_charger()
    event = event_with(feeder=charger.meter.premise.feeder, start=utc(2026, 7, 1, 17, 0))
    curtail(event, charger, minutes=60, ended_after=25, end_reason=ActionEndReason.OVERRIDE)

    report = json_report(period_month(2026, 7))

    (row,) = report["tables"]["events"]
    assert row["overrides"] == 1
    assert row["charger_minutes"] == 25
    assert report["summary"]["overrides"] == 1
    assert report["tables"]["worst_by_longest"][0]["longest_minutes"] == 25


def test_failed_and_late_commands_are_counted_and_failed_ones_curtail_nobody(json_report):
    feeder = FeederFactory()
    failed_charger, late_charger = eligible_charger(feeder=feeder), eligible_charger(feeder=feeder)
    event = event_with(feeder=feeder, start=utc(2026, 7, 2, 17, 0))
    curtail(
        event,
        failed_charger,
        minutes=30,
        status=ActionStatus.FAILED,
        end_reason=ActionEndReason.FAILED,
        confirmed_at=None,
    )
    start = event.started_at
    # Confirmed 45 s after dispatch: the device is off for its 30 minutes from then.
    acted = start + dt.timedelta(seconds=45)
    reverted = acted + dt.timedelta(minutes=30)
    curtail(event, late_charger, minutes=30, confirmed_at=acted, expected_end_at=reverted, ended_at=reverted)

    (row,) = json_report(period_month(2026, 7))["tables"]["events"]

    assert row["failed_commands"] == 1
    assert row["late_commands"] == 1
    assert row["charger_actions"] == 2
    assert row["mpans_affected"] == 1
    assert row["charger_minutes"] == 30


def test_asp_calloff_notifications_and_trigger_per_event(json_report):
    charger = eligible_charger()
    event = event_with(feeder=charger.meter.premise.feeder, start=utc(2026, 8, 3, 18, 0), trigger=EventTrigger.MANUAL)
    curtail(event, charger)
    asp_calloff(event, kw=12.5)
    event_notification(event)
    event_notification(event, status=NotificationStatus.FAILED)
    digest = event_notification(event, status=NotificationStatus.SENT)
    event_notification(event, status=NotificationStatus.BATCHED, digest=digest)

    report = json_report(period_month(2026, 8))

    (row,) = report["tables"]["events"]
    assert row["asp_calloff_kw"] == 12.5
    assert row["notifications_sent"] == 3  # two sent directly, one inside a sent digest
    assert row["trigger"] == "manual"
    assert row["licence_area"] == charger.meter.premise.feeder.substation.licence_area
    assert report["summary"]["events_manual"] == 1


def test_duration_buckets_use_minutes_in_period(json_report):
    feeder = FeederFactory()
    for index, minutes in enumerate((10, 14, 15, 59, 60, 300)):
        event_with(feeder=feeder, start=utc(2026, 6, 1 + index, 12, 0), minutes=minutes)

    buckets = {row["bucket"]: row["events"] for row in json_report(period_month(2026, 6))["tables"]["duration_buckets"]}

    assert buckets == {
        "0-15 min": 2,
        "15-30 min": 1,
        "30-60 min": 1,
        "60-120 min": 1,
        "120-240 min": 0,
        ">= 240 min": 1,
    }


def test_worst_served_rank_by_total_and_by_longest(json_report):
    feeder = FeederFactory()
    steady, spiky = eligible_charger(feeder=feeder), eligible_charger(feeder=feeder)
    for dom in (1, 3, 5):
        event = event_with(feeder=feeder, start=utc(2026, 6, dom, 18, 0), minutes=90)
        curtail(event, steady, minutes=40)
    big = event_with(feeder=feeder, start=utc(2026, 6, 7, 18, 0), minutes=90)
    curtail(big, spiky, minutes=90)

    tables = json_report(period_month(2026, 6))["tables"]

    steady_mpan, spiky_mpan = steady.meter.mpans.get().core, spiky.meter.mpans.get().core
    assert [(r["mpan"], r["curtailed_minutes"], r["events"]) for r in tables["worst_by_total"]] == [
        (steady_mpan, 120, 3),
        (spiky_mpan, 90, 1),
    ]
    assert [(r["mpan"], r["longest_minutes"], r["longest_event_id"]) for r in tables["worst_by_longest"]] == [
        (spiky_mpan, 90, big.pk),
        (steady_mpan, 40, tables["worst_by_longest"][1]["longest_event_id"]),
    ]
    assert tables["worst_by_longest"][0]["longest_started_at"] == "2026-06-07T18:00:00Z"


def test_compliant_history_has_no_breaches(json_report):
    feeder = FeederFactory()
    charger = eligible_charger(feeder=feeder)
    # 120 minutes in 24 h exactly, and 480 in 30 days exactly: at the limits, not over.
    for start in (utc(2026, 6, 1, 8, 0), utc(2026, 6, 1, 20, 0)):
        curtail(event_with(feeder=feeder, start=start, minutes=60), charger, minutes=60)
    for dom in (5, 10, 15):
        curtail(event_with(feeder=feeder, start=utc(2026, 6, dom, 8, 0), minutes=120), charger, minutes=120)

    report = json_report(period_month(2026, 6))

    assert report["tables"]["breaches"] == []
    assert report["summary"]["limit_breaches"] == 0


def test_breaches_of_24h_and_30d_limits_are_listed(json_report):
    feeder = FeederFactory()
    charger = eligible_charger(feeder=feeder)
    # 24 h: 50 + 50 + 50 minutes within 10 hours = 150 > 120.
    for hour in (6, 10, 14):
        curtail(event_with(feeder=feeder, start=utc(2026, 6, 2, hour, 0), minutes=50), charger, minutes=50)
    # 30 d: plus 4 x 100 minutes on separate days = 550 > 480.
    for dom in (8, 12, 16, 20):
        curtail(event_with(feeder=feeder, start=utc(2026, 6, dom, 8, 0), minutes=100), charger, minutes=100)
    compliant = eligible_charger(feeder=feeder)
    curtail(event_with(feeder=feeder, start=utc(2026, 6, 25, 8, 0), minutes=60), compliant, minutes=60)

    report = json_report(period_month(2026, 6))

    breaches = {row["limit"]: row for row in report["tables"]["breaches"]}
    assert set(breaches) == {"24h", "30d"}
    assert breaches["24h"]["curtailed_minutes"] == 150
    assert breaches["24h"]["mpan"] == charger.meter.mpans.get().core
    assert breaches["24h"]["hcalcs"] == charger.eui64
    assert breaches["24h"]["window_start"] <= "2026-06-02T06:00:00Z"
    assert breaches["30d"]["curtailed_minutes"] == 550
    assert breaches["30d"]["limit_minutes"] == 480
    assert report["summary"]["limit_breaches"] == 2


def test_breach_window_straddling_an_action_is_measured_exactly(json_report):
    feeder = FeederFactory()
    charger = eligible_charger(feeder=feeder)
    # 100 min at 00:00-01:40 and 100 min at 23:00-00:40 the next day: neither start-anchored
    # nor end-anchored window sees both in full; the worst 24 h window holds 60 + 100 minutes.
    curtail(event_with(feeder=feeder, start=utc(2026, 6, 1, 0, 0), minutes=100), charger, minutes=100)
    curtail(event_with(feeder=feeder, start=utc(2026, 6, 1, 23, 0), minutes=100), charger, minutes=100)

    (breach,) = json_report(period_month(2026, 6))["tables"]["breaches"]

    assert breach["limit"] == "24h"
    assert breach["curtailed_minutes"] == 160


def test_nf10_feeder_dates(json_report):
    FeederFactory(code="OLD", managed_since=dt.date(2025, 9, 1))
    FeederFactory(code="MID", managed_since=dt.date(2026, 6, 1))
    FeederFactory(code="NEW", managed_since=dt.date(2027, 1, 1))
    FeederFactory(code="LATER", managed_since=dt.date(2027, 6, 1))

    report = json_report(period_regulatory_year(2026))

    rows = {row["feeder"]: row for row in report["tables"]["nf10_feeders"]}
    assert set(rows) == {"OLD", "MID", "NEW"}
    assert rows["OLD"]["nf10_status"] == "past_implementation_date"
    assert rows["OLD"]["implementation_due"] == "2027-03-01"
    assert rows["MID"]["nf10_status"] == "past_market_solution_date"
    assert rows["MID"]["market_solution_due"] == "2026-12-01"
    assert rows["NEW"]["nf10_status"] == "within_market_solution_window"
    assert report["summary"]["feeders_past_market_solution_date"] == 2
    assert report["summary"]["feeders_past_implementation_date"] == 1
