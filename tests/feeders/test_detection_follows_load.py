"""Detection you can trust (issue 15): a status, trend or alert never contradicts the load
shown next to it, for a load that rises, peaks and falls, and under the demo's accelerated
clock. Readings go through the real ingest service into PostgreSQL, each batch judged at
the time a monitor would have posted it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from dnoctl.telemetry_simulator import (
    MAX_RAMP_PERCENT_PER_MINUTE,
    FeederModel,
    FeederSpec,
    SimulatedClock,
    TelemetrySimulator,
)
from feeders.choices import AlertKind, FeederStatus
from feeders.models import FeederAlert, MonitorToken
from feeders.selectors import TREND_WINDOW_MINUTES, feeder_trend
from feeders.services import monitor_token_issue, telemetry_ingest
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db

RATING = 400.0
STEP = timedelta(seconds=30)
NEWER_HALF = timedelta(minutes=TREND_WINDOW_MINUTES / 2)


def _token() -> MonitorToken:
    monitor_token_issue(name="trust")
    return MonitorToken.objects.get(name="trust")


def _row(code: str, at: datetime, percent: float) -> dict:
    amps = RATING * percent / 100.0
    return {"feeder": code, "measured_at": at.isoformat(), "amps": [amps, amps * 0.9, amps * 0.9], "kw": 1.0}


def rise_peak_fall(start: datetime) -> list[tuple[datetime, float]]:
    """60 % rising 4 %/min to 96 %, two minutes at the peak, falling 4 %/min to 40 %, then
    level: a reading every 30 s."""
    loads = [60.0 + 2.0 * i for i in range(19)]  # 60 .. 96 over 9 minutes
    loads += [96.0, 96.5, 96.0, 95.5]  # the peak
    loads += [94.0 - 2.0 * i for i in range(28)]  # 94 .. 40
    loads += [40.0] * 16
    return [(start + STEP * i, load) for i, load in enumerate(loads)]


def test_a_load_that_rises_peaks_and_falls_is_followed_by_its_status_and_trend(operator_client):
    """GIVEN a load rising 4 %/min from 60 % to a 96 % peak and falling 4 %/min to 40 %
    THEN the trend rises (and forecasts the rating) on the way up, stops saying so within
    half its window of the turn, never raises an alert on the fall; the feeder is at risk
    from the trend alert until the load has been below the clear level for the hold time,
    then normal; and the feeder page says so."""
    feeder = FeederFactory(code="FDR-PEAK", rating_amps=RATING, status=FeederStatus.NORMAL)
    token = _token()
    series = rise_peak_fall(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))  # across the spring clock change
    peak_at = max(series, key=lambda point: point[1])[0]
    hold = timedelta(minutes=5)
    seen = []
    below_clear_since = None
    for at, load in series:
        telemetry_ingest(token=token, readings=[_row(feeder.code, at, load)], now=at)
        feeder.refresh_from_db()
        trend = feeder_trend(feeder=feeder)
        alert = FeederAlert.objects.filter(feeder=feeder).order_by("-pk").first()
        seen.append((at, load, feeder.status, trend, alert))
        below_clear_since = (below_clear_since or at) if load < feeder.clear_percent else None
        open_now = alert is not None and alert.cleared_at is None
        # The status is the alert's state: at risk exactly while an alert is open.
        assert feeder.status == (FeederStatus.AT_RISK if open_now else FeederStatus.NORMAL), (at, load)
        # Hysteresis: at risk below the clear level only until the hold has passed.
        if open_now and below_clear_since is not None:
            assert at - below_clear_since < hold, (at, load)
        if at > peak_at + NEWER_HALF:
            assert not trend.rising and trend.minutes_to_rating is None, (at, load, trend)

    rising = [(at, load, trend) for at, load, _, trend, _ in seen if trend.rising]
    assert rising and max(at for at, _, _ in rising) <= peak_at + NEWER_HALF
    on_the_way_up = [trend for at, load, _, trend, _ in seen if trend.sufficient and at < peak_at - NEWER_HALF]
    assert on_the_way_up and all(trend.rising for trend in on_the_way_up)
    assert all(trend.slope_percent_per_minute == pytest.approx(4.0) for trend in on_the_way_up)
    alerts = list(FeederAlert.objects.filter(feeder=feeder).order_by("raised_at"))
    assert [alert.kind for alert in alerts] == [AlertKind.TREND]  # before the threshold; nothing on the fall
    assert alerts[0].measured_at < peak_at
    assert alerts[0].cleared_at is not None
    statuses = [status for _, _, status, _, _ in seen]
    first_risk, last_risk = statuses.index("at_risk"), len(statuses) - 1 - statuses[::-1].index("at_risk")
    assert set(statuses[:first_risk]) == {"normal"} and set(statuses[last_risk + 1 :]) == {"normal"}
    assert set(statuses[first_risk : last_risk + 1]) == {"at_risk"}
    cleared_load = seen[last_risk + 1][1]
    assert cleared_load >= feeder.clear_percent - 5 * 4.0 - 2.0  # five minutes' fall at 4 %/min below clear

    page = operator_client.get(f"/feeders/{feeder.pk}/").content.decode()
    assert 'data-direction="falling"' in page and "reaches rating" not in page


def test_the_feeder_page_names_a_turn_and_when_an_alert_clears(operator_client):
    """GIVEN a load that rose and has just turned down past the clear level THEN the page
    shows the turn rather than "reaches rating", draws no forecast line against it, and says
    when the open alert clears if the load stays below the clear level."""
    feeder = FeederFactory(code="FDR-TURN", rating_amps=RATING, status=FeederStatus.NORMAL)
    token = _token()
    now = datetime.now(UTC).replace(microsecond=0)
    loads = [70, 74, 78, 82, 86, 90, 94, 96, 92, 86, 79]  # up, then down through 80 % in the newer half
    rows = [_row(feeder.code, now - STEP * (len(loads) - 1 - i), load) for i, load in enumerate(loads)]
    telemetry_ingest(token=token, readings=rows, now=now)

    trend = feeder_trend(feeder=feeder)
    assert trend.slope_percent_per_minute > 0 and trend.direction == "turning_down"
    page = operator_client.get(f"/feeders/{feeder.pk}/")
    html = page.content.decode()
    assert 'data-direction="turning_down"' in html and "turning down" in html
    assert "reaches rating" not in html
    [forecast] = [trace for trace in page.context["figure"]["data"] if trace["name"] == "Trend forecast"]
    assert forecast["x"] == [] and forecast["y"] == []
    assert "Below the clear level since" in html and "clears at" in html


def _hot_model(spec: FeederSpec) -> tuple[int, FeederModel]:
    for seed in range(100):
        model = FeederModel.build(spec, seed)
        if model.hot:
            return seed, model
    raise AssertionError("no hot feeder in 100 seeds")


def test_the_demo_clock_cannot_distort_detection():
    """GIVEN the demo's simulator at 60x on a hot feeder, posting every 5 s of real time
    THEN through the evening the status is at risk exactly while an alert is open, the
    alert clears by the hysteresis rule close to the clear level (not at 11-22 % as in
    issue 15), no trend alert is raised and no trend says "reaches rating" while the
    newest readings fall."""
    spec = FeederSpec("FDR-DEMO", rating_amps=300.0, high_risk=True, ev_capacity_kw=84.0)
    seed, _ = _hot_model(spec)
    feeder = FeederFactory(code=spec.code, rating_amps=spec.rating_amps, status=FeederStatus.NORMAL)
    token = _token()
    simulator = TelemetrySimulator(
        base_url="http://127.0.0.1:9",
        token="unused",
        speed=60,
        seed=seed,
        feeder_specs=lambda: [spec],
        chargers_off_kw=dict,
    )
    real_start = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    simulator.clock = SimulatedClock(speed=60, start_local="17:30", real_start=real_start)
    hold = timedelta(minutes=5)
    readings: list[tuple[datetime, float]] = []
    below_clear_since = None
    cleared_at_load = None
    for tick in range(12 * 40):
        real_now = real_start + timedelta(seconds=5 * tick)
        [rows] = simulator.batches(real_now)
        telemetry_ingest(token=token, readings=rows, now=real_now)
        load = max(rows[0]["amps"]) / spec.rating_amps * 100
        readings.append((real_now, load))
        feeder.refresh_from_db()
        alert = FeederAlert.objects.filter(feeder=feeder).order_by("-pk").first()
        open_now = alert is not None and alert.cleared_at is None
        assert feeder.status == (FeederStatus.AT_RISK if open_now else FeederStatus.NORMAL)
        below_clear_since = (below_clear_since or real_now) if load < feeder.clear_percent else None
        if open_now and below_clear_since is not None:
            assert real_now - below_clear_since < hold
        if alert is not None and alert.cleared_at == real_now:
            cleared_at_load = load
        newer = [value for at, value in readings if at > real_now - NEWER_HALF]
        falling = len(newer) >= 2 and all(b <= a for a, b in pairwise(newer))
        if falling:
            trend = feeder_trend(feeder=feeder)
            assert not trend.rising and trend.minutes_to_rating is None
            assert not FeederAlert.objects.filter(kind=AlertKind.TREND, measured_at=real_now).exists()
        if cleared_at_load is not None:
            break

    assert FeederAlert.objects.filter(feeder=feeder).exists(), "the hot feeder never became at risk"
    assert cleared_at_load is not None, "the alert did not clear within 40 real minutes"
    # Five minutes below the clear level at most MAX_RAMP %/min below it, plus noise.
    assert cleared_at_load >= feeder.clear_percent - 5 * MAX_RAMP_PERCENT_PER_MINUTE - 5
