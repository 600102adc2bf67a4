"""Scenarios of issue 15 through real processes: PostgreSQL, Redis, a Celery worker, the
uvicorn web server (telemetry in, the DCC's callbacks) and the DCC simulator over HTTP.

Hours of feeder load are played in a minute or two by moving the world's clock instead of
waiting: at each step every stored time (readings, alerts, events, actions, DCC requests,
clocks) moves back by the step and the simulator's clock moves on by it, so every process,
reading the real time, finds that much time has passed; the devices' 7.6 Durations run out
against the simulator's clock. Steps are taken only while nothing is in flight (every
command confirmed), and the worker runs without beat: the test plays beat's part (the
minute re-check, the protection check) at the moments it simulates.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.models import AuditEntry
from curtailment.choices import ActionStatus, ClockState, EscalationStage
from curtailment.models import AspCallOff, CurtailmentAction, CurtailmentEvent, FailureClock
from curtailment.services import event_recheck, feeder_protection_check
from curtailment.usage import WINDOW_24H, WINDOW_30D, action_interval, intervals_max_rolling_minutes
from dcc.models import ServiceRequest
from feeders.models import Feeder, FeederAlert, FeederReading
from tests.curtailment.helpers import minutes_uncovered
from tests.curtailment.test_e2e import assert_each_request_processed_once, post_readings, setup_feeder, wait_until

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

# Every stored time a decision reads, by model.
MOVED = {
    FeederReading: ["measured_at", "received_at"],
    Feeder: ["last_reading_at"],
    FeederAlert: ["raised_at", "measured_at", "below_clear_since", "acknowledged_at", "cleared_at"],
    CurtailmentEvent: ["started_at", "planned_end_at", "ended_at"],
    CurtailmentAction: ["started_at", "expected_end_at", "confirmed_at", "ended_at"],
    AspCallOff: ["called_at", "released_at"],
    ServiceRequest: ["created_at", "sent_at", "acknowledged_at", "responded_at"],
    FailureClock: ["computed_at", "reading_at", "over_rating_since", "stage_started_at", "relief_due_at"],
}
IN_FLIGHT = [ActionStatus.PLANNED, ActionStatus.BOOST_SETUP, ActionStatus.SENT, ActionStatus.ACKNOWLEDGED]


@pytest.fixture
def stack(live_stack_without_beat):
    return live_stack_without_beat


class World:
    """The simulated time of a scenario, and the beat's part in it."""

    def __init__(self, stack, feeder, token) -> None:
        self.stack, self.feeder, self.token = stack, feeder, token
        self.elapsed = dt.timedelta(0)

    def settle(self, timeout: float = 45.0) -> None:
        """Wait until no command is in flight (every action confirmed, ended or late)."""
        wait_until(
            lambda: (
                not CurtailmentAction.objects.filter(event__feeder=self.feeder, status__in=IN_FLIGHT).exists()
                and not CurtailmentAction.objects.filter(
                    event__feeder=self.feeder, status=ActionStatus.RELEASING, ended_at__isnull=True
                ).exists()
            ),
            timeout=timeout,
        )

    def advance(self, step: dt.timedelta) -> None:
        """``step`` passes: every stored time moves back by it, the simulator's clock on."""
        self.settle()
        with transaction.atomic():
            for model, fields in MOVED.items():
                model.objects.update(**{name: F(name) - step for name in fields})
        self.stack.simulator.advance(step.total_seconds())
        self.elapsed += step

    def read(self, percent: float) -> None:
        """The monitor posts a reading now, every phase at ``percent`` of the 100 A rating."""
        post_readings(self.stack.web_url, self.token, self.feeder, [(timezone.now(), percent, 69.0 * percent / 100)])

    def beat(self) -> None:
        """What beat would run now: the re-check of the open event and the protection check."""
        event = CurtailmentEvent.objects.filter(feeder=self.feeder, status__in=["active", "releasing"]).first()
        if event is not None:
            event_recheck(event_id=event.pk)
        feeder_protection_check(feeder_id=self.feeder.pk)
        self.settle()

    def next_step(self, longest: dt.timedelta) -> dt.timedelta:
        """Up to ``longest``, but never past 90 s before a live action ends: its replacement is
        picked within the rotation lead (2 min), as the minute re-check would."""
        now = timezone.now()
        ends = CurtailmentAction.objects.filter(
            event__feeder=self.feeder,
            status=ActionStatus.CONFIRMED,
            expected_end_at__gt=now + dt.timedelta(seconds=150),
        ).values_list("expected_end_at", flat=True)
        step = longest
        for end in ends:
            step = min(step, end - now - dt.timedelta(seconds=90))
        return max(step, dt.timedelta(seconds=30))


def _ledger_within_limits(actions) -> None:
    intervals = [i for a in actions if (i := action_interval(a)) is not None]
    for hcalcs_id in {a.hcalcs_id for a in actions}:
        assert intervals_max_rolling_minutes(intervals=intervals, hcalcs_id=hcalcs_id, window=WINDOW_24H) <= 120
        assert intervals_max_rolling_minutes(intervals=intervals, hcalcs_id=hcalcs_id, window=WINDOW_30D) <= 480


def test_a_feeder_held_at_85_percent_for_three_hours_stays_protected_with_rotation(stack):
    feeder, chargers, token = setup_feeder(stack, chargers=4)
    world = World(stack, feeder, token)
    world.read(95.0)  # 95 % raises the alert; the worker opens the event and dispatches
    event = wait_until(lambda: CurtailmentEvent.objects.filter(feeder=feeder).first())
    world.settle()
    need = event.required_reduction_kw
    assert event.while_at_risk and event.actions.filter(status=ActionStatus.CONFIRMED).count() == 2

    while world.elapsed < dt.timedelta(hours=3):
        world.advance(world.next_step(dt.timedelta(minutes=10)))
        world.read(85.0)  # the curtailment holds it at 85 %: below at-risk, above clear
        world.beat()
        assert CurtailmentEvent.objects.get(pk=event.pk).status == "active", f"ended after {world.elapsed}"
        clock = FailureClock.objects.get(feeder=feeder)
        assert (clock.state, clock.relieved, clock.stage) == (ClockState.STEADY, True, EscalationStage.WAITING)

    # One event for the whole three hours, never a minute short of the kW it needed.
    assert CurtailmentEvent.objects.filter(feeder=feeder).count() == 1
    event.refresh_from_db()
    actions = list(CurtailmentAction.objects.filter(event=event))
    # From when the first chargers were all confirmed.
    protected_from = max(a.confirmed_at for a in actions if a.started_at == event.started_at)
    assert timezone.now() - protected_from >= dt.timedelta(hours=3)
    gaps = minutes_uncovered(actions, start=protected_from, end=timezone.now(), need_kw=need)
    assert gaps == [], [(a.hcalcs_id, a.confirmed_at, a.ended_at or a.expected_end_at) for a in actions]
    # Rotation: every home took turns, none past 120 minutes in 24 h (nor 480 in 30 days).
    assert {a.hcalcs_id for a in actions} == {c.pk for c in chargers}
    _ledger_within_limits(actions)
    assert AuditEntry.objects.filter(action="event.extend", target_id=str(event.pk)).count() >= 2
    # The devices did what the ledger says: one 7.6 run per action, each once.
    assert_each_request_processed_once(stack)
    ran = Counter(
        srv
        for charger in chargers
        for _request_id, srv, _at in stack.simulator.devices.get(charger.meter.esme_eui64).executions
    )
    assert ran["7.6"] == ServiceRequest.objects.filter(action__event=event, srv="7.6").count() == len(actions)

    # The load falls below the clear level and stays there: the event ends, the chargers back on.
    for _ in range(6):
        world.advance(dt.timedelta(minutes=1))
        world.read(70.0)
        world.beat()
    wait_until(lambda: CurtailmentEvent.objects.get(pk=event.pk).status == "ended", every=world.beat)
    event.refresh_from_db()
    assert event.end_reason == "early_release"
    assert not CurtailmentAction.objects.filter(event=event, ended_at__isnull=True).exists()
    wait_until(lambda: not FailureClock.objects.filter(feeder=feeder).exists(), every=world.beat)


def test_a_load_that_rises_peaks_and_falls_is_followed_by_the_clock_the_event_and_the_status(stack):
    feeder, _chargers, token = setup_feeder(stack, chargers=4)
    world = World(stack, feeder, token)
    profile = [70, 74, 78, 82, 86, 89, 92, 95, 97, 96, 93, 89, 85, 81, 77, 74, 72, 71, 70, 70, 70, 70, 70]
    peak = profile.index(max(profile))
    seen = {}
    for minute, percent in enumerate(profile):
        if minute:
            world.advance(dt.timedelta(minutes=1))
        world.read(float(percent))
        if FeederAlert.objects.filter(feeder=feeder, cleared_at__isnull=True).exists():
            wait_until(lambda: CurtailmentEvent.objects.filter(feeder=feeder).exists())  # the worker's hand-over
        world.beat()
        clock = FailureClock.objects.filter(feeder=feeder).first()
        feeder.refresh_from_db()
        seen[minute] = (feeder.status, clock.state if clock else None)

    alerted = min(m for m, (_status, state) in seen.items() if state is not None)
    # Rising (by threshold at 92 %, or earlier by the trend): no clock before the alert, then
    # the feeder is curtailing and the clock counts down to the rating.
    assert alerted <= profile.index(92)
    assert all(seen[m] == ("normal", None) for m in range(alerted))
    assert seen[alerted][1] == ClockState.RISING
    assert all(seen[m][0] == "curtailing" for m in range(alerted + 1, peak + 1))
    # Falling: once the fall is in the trend the clock no longer says "rising".
    assert all(seen[m][1] != ClockState.RISING for m in range(peak + 5, len(profile)))
    event = CurtailmentEvent.objects.get(feeder=feeder)
    wait_until(lambda: CurtailmentEvent.objects.get(pk=event.pk).status == "ended", every=world.beat)
    event.refresh_from_db()
    assert event.end_reason == "early_release"
    wait_until(lambda: Feeder.objects.get(pk=feeder.pk).status == "normal", every=world.beat)
    wait_until(lambda: not FailureClock.objects.filter(feeder=feeder).exists(), every=world.beat)
    _ledger_within_limits(list(CurtailmentAction.objects.filter(event=event)))
    assert_each_request_processed_once(stack)
