"""The demo's telemetry simulator: load shapes, time compression, curtailment feedback,
and posting through the real ingest API over HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from curtailment.choices import ActionStatus
from dnoctl.telemetry_simulator import (
    MAX_RAMP_PERCENT_PER_MINUTE,
    FeederModel,
    FeederSpec,
    SimulatedClock,
    TelemetrySimulator,
    django_chargers_off_kw,
    django_feeder_specs,
    hot_feeders,
)
from feeders.models import FeederReading
from feeders.services import monitor_token_issue
from tests.consent.factories import eligible_charger
from tests.curtailment.factories import action, open_event
from tests.feeders.factories import FeederFactory


def models(count: int = 40) -> dict[str, FeederModel]:
    specs = [FeederSpec(f"F{i:03d}", rating_amps=300.0, high_risk=True, ev_capacity_kw=84.0) for i in range(count)]
    return {spec.code: FeederModel.build(spec) for spec in specs}


def peak_percent(model: FeederModel, chargers_off_kw: float = 0.0) -> float:
    return max(model.load_kw(hour / 4, chargers_off_kw)[0] for hour in range(96)) / model.spec.rating_kw * 100


def test_hot_feeders_cross_their_rating_in_the_evening_and_others_do_not():
    built = models()
    hot = hot_feeders(built)

    assert 0 < len(hot) < len(built)
    for code, model in built.items():
        if code in hot:
            assert peak_percent(model) > 100
            assert model.load_kw(3.0)[0] < model.spec.rating_kw * 0.6  # quiet at night
        else:
            assert peak_percent(model) < 90


def test_switching_chargers_off_takes_their_share_of_the_ev_load():
    built = models()
    model = built[hot_feeders(built)[0]]  # 84 kW of real chargers
    model.noise = 0.0
    before, ev_before = model.load_kw(20.0)
    model.noise = 0.0
    after, ev_after = model.load_kw(20.0, chargers_off_kw=42.0)

    assert ev_after == pytest.approx(ev_before / 2)
    assert after < before
    model.noise = 0.0
    everything_off, ev_left = model.load_kw(20.0, chargers_off_kw=84.0)
    assert ev_left == 0
    assert everything_off < model.spec.rating_kw * 0.8  # a hot feeder comes back below its clear level


def test_the_simulated_clock_runs_speed_times_faster_from_the_start_time():
    real_start = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    clock = SimulatedClock(speed=60, start_local="16:30", real_start=real_start)

    assert clock.local_hour(real_start) == pytest.approx(16.5)
    assert clock.local_hour(real_start + timedelta(minutes=2)) == pytest.approx(18.5)
    assert clock.local_hour(real_start + timedelta(minutes=10)) == pytest.approx(2.5)


def test_the_simulated_clock_follows_london_across_the_spring_clock_change():
    real_start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # midnight GMT on the Sunday
    clock = SimulatedClock(speed=1, start_local="00:30", real_start=real_start)

    assert clock.local_hour(clock.real_start) == pytest.approx(0.5)
    assert clock.local_hour(clock.real_start + timedelta(hours=1)) == pytest.approx(2.5)  # 01:30 GMT = 02:30 BST


def test_the_clock_slows_so_no_feeders_load_moves_faster_than_the_ramp_limit():
    """GIVEN the demo's 60x clock WHEN it runs through an evening in 5-second ticks THEN no
    feeder's load shape moves more than the ramp limit per real minute (detection judges
    readings by their real timestamps), the clock never runs slower than real time, and it
    runs at full speed where the loads are flat."""
    specs = [FeederSpec(f"F{i:03d}", rating_amps=300.0, high_risk=True, ev_capacity_kw=84.0) for i in range(40)]
    simulator = TelemetrySimulator(
        base_url="http://127.0.0.1:9", token="unused", speed=60, feeder_specs=lambda: specs, chargers_off_kw=dict
    )
    real_start = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    simulator.clock = SimulatedClock(speed=60, start_local="17:30", real_start=real_start)
    tick = timedelta(seconds=5)
    limit = MAX_RAMP_PERCENT_PER_MINUTE * tick.total_seconds() / 60
    steps = []
    before = simulator.clock.advance(real_start)
    simulated_before = simulator.clock.simulated
    for n in range(1, 12 * 45):
        simulator.batches(real_start + n * tick)
        after = simulator.clock.local_hour_of(simulator.clock.simulated)
        step = simulator.clock.simulated - simulated_before
        moved = max(abs(m.shape_percent(after) - m.shape_percent(before)) for m in simulator.models.values())
        assert step >= tick
        assert moved <= limit * 1.05 or step == tick, (after, moved, step)
        steps.append(step)
        before, simulated_before = after, simulator.clock.simulated

    assert min(steps) < tick * 10  # the evening ramp is slowed right down
    assert max(steps) == tick * 60  # the flat night runs at full speed


@pytest.mark.django_db
def test_chargers_off_counts_confirmed_actions_that_have_not_ended():
    feeder = FeederFactory(code="FDR-SIM")
    chargers = [eligible_charger(feeder=feeder, rated_kw=7.0) for _ in range(3)]
    now = timezone.now()
    event = open_event(feeder=feeder, started_at=now, minutes=60, reduction_kw=20)
    for hcalcs, status, ended in [
        (chargers[0], ActionStatus.CONFIRMED, None),
        (chargers[1], ActionStatus.SENT, None),  # not yet off
        (chargers[2], ActionStatus.CONFIRMED, now),  # ended: back on
    ]:
        action(
            event=event,
            hcalcs=hcalcs,
            status=status,
            minutes=60,
            expected_kw=7.0,
            started_at=now,
            ended_at=ended,
            confirmed_at=None,
        )

    assert django_chargers_off_kw() == {"FDR-SIM": 7.0}
    assert [(s.code, s.ev_capacity_kw) for s in django_feeder_specs()] == [("FDR-SIM", 21.0)]


@pytest.mark.django_db(transaction=True)
def test_the_simulator_posts_every_feeder_through_the_ingest_api(live_server):
    for i in range(3):
        FeederFactory(code=f"FDR-S{i}", rating_amps=300.0)
    token = monitor_token_issue(name="demo-sim")
    simulator = TelemetrySimulator(base_url=live_server.url, token=token, speed=60, chargers_off_kw=dict)

    answers = simulator.tick()
    simulator.tick(datetime.now(UTC) + timedelta(seconds=5))

    assert answers == [{"accepted": 3, "duplicates": 0}]
    assert FeederReading.objects.count() == 6
    assert set(FeederReading.objects.values_list("feeder__code", flat=True)) == {"FDR-S0", "FDR-S1", "FDR-S2"}


@pytest.mark.django_db(transaction=True)
def test_the_simulator_thread_survives_a_server_that_is_not_up_and_stops():
    FeederFactory(code="FDR-T0")
    token = monitor_token_issue(name="demo-sim-thread")
    simulator = TelemetrySimulator(
        base_url="http://127.0.0.1:9", token=token, interval_s=0.05, feeder_specs=django_feeder_specs
    )

    simulator.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while simulator.failures == 0 and datetime.now(UTC) < deadline:
            time.sleep(0.02)
    finally:
        simulator.stop()

    assert simulator.failures >= 1 and simulator.posted == 0
    assert simulator._thread is None
