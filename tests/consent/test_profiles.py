"""Half-hourly profile data (seed 003): idempotent ingest, retention, and the selectors."""

import datetime as dt
import io

import pytest
from django.utils import timezone

from consent.choices import ElementType, MpanRole
from consent.models import HalfHourlyConsumption
from consent.profiles import (
    HalfHourReading,
    halfhour_csv_readings,
    halfhour_ingest,
    halfhour_prune,
    retention_cutoff,
)
from consent.selectors import (
    LONDON,
    feeder_half_hourly_demand,
    hcalcs_likely_drawing,
    same_half_hour_on_previous_days,
)
from tests.consent.factories import HcalcsFactory, MeterFactory, MpanFactory, PremiseFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 20, 10, tzinfo=dt.UTC)


def _hh(hours_ago: float) -> dt.datetime:
    start = NOW - dt.timedelta(hours=hours_ago)
    return start.replace(minute=(start.minute // 30) * 30, second=0, microsecond=0)


def test_duplicate_half_hours_are_idempotent():
    mpan = MpanFactory()
    readings = [
        HalfHourReading(mpan.core, "2026-11-24T17:00:00Z", 1.25),
        HalfHourReading(mpan.core, "2026-11-24T17:30:00+00:00", "0.5"),
    ]
    first = halfhour_ingest(readings=readings, now=NOW)
    assert (first.ok, first.created) == (True, 2)
    again = halfhour_ingest(readings=[*readings, readings[0]], now=NOW)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert HalfHourlyConsumption.objects.count() == 2

    corrected = halfhour_ingest(readings=[HalfHourReading(mpan.core, "2026-11-24T17:00:00Z", 1.5)], now=NOW)
    assert (corrected.created, corrected.updated) == (0, 1)
    assert HalfHourlyConsumption.objects.get(period_start=dt.datetime(2026, 11, 24, 17, tzinfo=dt.UTC)).kwh == 1.5


def test_one_bad_reading_stores_nothing_and_names_each_problem():
    mpan = MpanFactory()
    result = halfhour_ingest(
        readings=[
            HalfHourReading(mpan.core, "2026-11-24T17:00:00Z", 1.0),
            HalfHourReading(mpan.core, "2026-11-24T17:10:00Z", 1.0),
            HalfHourReading(mpan.core, "2026-11-24T17:30:00", 1.0),
            HalfHourReading(mpan.core, "2026-11-24T18:00:00Z", -2),
            HalfHourReading("1400000000999", "2026-11-24T18:00:00Z", 1.0),
        ],
        now=NOW,
    )
    assert not result.ok
    assert [(e["index"], e["field"]) for e in result.errors] == [
        (1, "period_start"),
        (2, "period_start"),
        (3, "kwh"),
        (4, "mpan"),
    ]
    assert "offset" in result.errors[1]["reason"]
    assert not HalfHourlyConsumption.objects.exists()


def test_retention_prunes_beyond_three_months():
    mpan = MpanFactory()
    cutoff = retention_cutoff(NOW)
    assert cutoff == dt.datetime(2026, 8, 24, 20, 10, tzinfo=dt.UTC)
    old = cutoff - dt.timedelta(minutes=40)
    kept = cutoff + dt.timedelta(minutes=20)
    for period in (old, kept, _hh(1)):
        HalfHourlyConsumption.objects.create(mpan=mpan, period_start=period.replace(second=0, microsecond=0), kwh=1)
    assert halfhour_prune(now=NOW) == 1
    assert sorted(HalfHourlyConsumption.objects.values_list("period_start", flat=True)) == [
        kept.replace(second=0, microsecond=0),
        _hh(1),
    ]
    assert halfhour_prune(now=NOW) == 0


def test_retention_cutoff_clamps_to_the_months_length():
    assert retention_cutoff(dt.datetime(2026, 5, 31, 12, tzinfo=dt.UTC)) == dt.datetime(2026, 2, 28, 12, tzinfo=dt.UTC)


def test_data_older_than_retention_is_refused():
    mpan = MpanFactory()
    result = halfhour_ingest(readings=[HalfHourReading(mpan.core, "2026-01-01T00:00:00Z", 1.0)], now=NOW)
    assert "retention" in result.errors[0]["reason"]


def test_csv_readings_stream_and_a_wrong_header_is_named():
    mpan = MpanFactory()
    data = f"mpan,period_start,kwh\n{mpan.core},2026-11-24T16:00:00Z,0.7\n".encode()
    result = halfhour_ingest(readings=halfhour_csv_readings(io.BytesIO(data)), now=NOW)
    assert result.ok and result.created == 1
    with pytest.raises(ValueError, match="mpan,period_start,kwh"):
        list(halfhour_csv_readings(io.BytesIO(b"core,when,energy\n")))


def test_feeder_demand_nets_export_and_shows_secondary_element_export():
    premise = PremiseFactory()
    meter = MeterFactory(premise=premise, element_type=ElementType.TWIN)
    imp = MpanFactory(meter=meter, role=MpanRole.IMPORT_PRIMARY)
    exp2 = MpanFactory(meter=meter, role=MpanRole.EXPORT_SECONDARY)
    other = MpanFactory(meter=MeterFactory(premise=PremiseFactory(feeder=premise.feeder)))
    period = _hh(2)
    for mpan, kwh in ((imp, 2.0), (exp2, 0.5), (other, 1.0)):
        HalfHourlyConsumption.objects.create(mpan=mpan, period_start=period, kwh=kwh)
    [slot] = feeder_half_hourly_demand(feeder_id=premise.feeder_id, start=period, end=period + dt.timedelta(hours=1))
    assert slot["import_kw"] == 6.0  # (2 + 1) kWh in half an hour
    assert slot["export_kw"] == slot["btm_export_kw"] == 1.0
    assert slot["net_kw"] == 5.0


def test_same_half_hour_follows_local_time_across_the_clock_change():
    at = dt.datetime(2026, 10, 26, 18, 0, tzinfo=dt.UTC)  # 18:00 GMT, the day after the change
    starts = same_half_hour_on_previous_days(at=at, days=2)
    assert [s.astimezone(LONDON).strftime("%H:%M") for s in starts] == ["18:00", "18:00"]
    assert starts[1] == dt.datetime(2026, 10, 24, 17, 0, tzinfo=dt.UTC)  # 18:00 BST


def test_likely_drawing_from_recent_profiles_at_this_time_of_day():
    charger = HcalcsFactory(rated_kw=7.0)
    mpan = MpanFactory(meter=charger.meter)
    quiet = HcalcsFactory()  # no profile data
    at = timezone.now()
    starts = same_half_hour_on_previous_days(at=at, days=28)
    # Charging (>= 3.5 kW, i.e. >= 1.75 kWh per half hour) on 7 of the 28 days.
    for day, start in enumerate(starts):
        HalfHourlyConsumption.objects.create(mpan=mpan, period_start=start, kwh=3.4 if day % 4 == 0 else 0.3)
    likely = hcalcs_likely_drawing(hcalcs_ids=[charger.pk, quiet.pk], at=at)
    assert likely[charger.pk] == pytest.approx(7 / 28)
    assert likely[quiet.pk] == 0.5


def test_half_hours_command_is_all_or_nothing(tmp_path, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    mpan = MpanFactory()
    start = (timezone.now() - dt.timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    good = f"{mpan.core},{start.isoformat()},0.8"
    path = tmp_path / "hh.csv"
    path.write_text(f"mpan,period_start,kwh\n{good}\n{mpan.core},{start.isoformat()},-1\n")
    with pytest.raises(CommandError, match="nothing was stored"):
        call_command("import_half_hours", str(path))
    assert "row 3 kwh" in capsys.readouterr().err
    assert not HalfHourlyConsumption.objects.exists()
    path.write_text(f"mpan,period_start,kwh\n{good}\n{good}\n")
    call_command("import_half_hours", str(path))
    assert "1 created" in capsys.readouterr().out
    assert HalfHourlyConsumption.objects.count() == 1


def test_beat_runs_the_prune_and_the_due_notices():
    from dnoctl.celery import app

    app.loader.import_default_modules()  # what the worker and beat do at start (autodiscovery)
    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"consent.tasks.halfhour_prune", "consent.tasks.notifications_send_due"} <= tasks


def test_likely_drawing_skips_the_half_hour_that_does_not_exist_on_the_spring_change():
    at = dt.datetime(2026, 3, 30, 0, 30, tzinfo=dt.UTC)  # 01:30 BST on the Monday after the change
    starts = same_half_hour_on_previous_days(at=at, days=2)
    # Sunday 29 March had no 01:30 (clocks went 01:00 GMT -> 02:00 BST): only Saturday's counts.
    assert starts == [dt.datetime(2026, 3, 28, 1, 30, tzinfo=dt.UTC)]


def test_premise_chart_keeps_both_repeated_hours_of_the_autumn_change():
    from consent.views import _profile_figure

    first = dt.datetime(2026, 10, 25, 0, 0, tzinfo=dt.UTC)  # 01:00 BST
    periods = [first + dt.timedelta(minutes=30 * n) for n in range(4)]  # 01:00, 01:30 BST, 01:00, 01:30 GMT
    figure = _profile_figure({"import_primary": [(p, 0.5 + n) for n, p in enumerate(periods)]})
    [trace] = figure["data"]
    assert trace["x"] == [
        "2026-10-25 01:00:00",
        "2026-10-25 01:30:00",
        "2026-10-25 01:00:00",
        "2026-10-25 01:30:00",
    ]
    assert trace["y"] == [1.0, 3.0, 5.0, 7.0]  # nothing dropped or merged
