"""PostgreSQL restarted, the worker SIGKILLed, the DCC simulator and the web server stopped,
each in the middle of an event and at its worst moment. Durations are short (a 20-minute
event cancelled once every charger is confirmed) so the module runs in a couple of minutes."""

from __future__ import annotations

import time

import pytest
from django.db import connections

from curtailment.services import curtailment_event_start
from dcc.models import ServiceRequest
from feeders.models import FeederReading
from feeders.services import monitor_token_issue
from tests.faults.conftest import (
    TelemetrySoak,
    assert_ledger,
    assert_worker_consumes,
    chargers_on_feeder,
    finish_event,
    recheck_now,
    wait_until,
)
from tests.faults.test_broker import all_confirmed

pytestmark = [pytest.mark.processes, pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_postgres_restart_mid_event_while_responses_arrive_loses_no_reading_and_no_response(
    live_stack, services, operator
):
    """GIVEN an event whose device responses are due in a few seconds and a monitor posting
    readings WHEN PostgreSQL restarts (responses answered 5xx meanwhile, readings refused)
    THEN the simulator's retries deliver every response once PostgreSQL is back, every reading
    the monitor had accepted is stored once, and the event ends with a true ledger."""
    feeder, _chargers = chargers_on_feeder(live_stack, 3)
    token = monitor_token_issue(name=f"faults-{feeder.code}")
    live_stack.simulator.faults.delay_s = 4.0  # device responses arrive 4 s after each command
    with TelemetrySoak(live_stack.web_url, token, feeder.code) as soak:
        wait_until(lambda: soak.accepted >= 5 or soak.errors, timeout=30, what="readings flowing")
        assert not soak.errors
        event = curtailment_event_start(
            feeder=feeder,
            reduction_kw=12,
            duration_minutes=20,
            reason="fault: PostgreSQL restart",
            requested_by=operator,
        )
        wait_until(
            lambda: ServiceRequest.objects.filter(action__event=event, srv="7.6", state="acknowledged").exists(),
            what="a 7.6 acknowledged, its response due",
        )
        services.restart("postgres", down_for=6.0)
        connections.close_all()
        assert soak.refused > 0  # the monitor did meet the outage
        accepted_after_restart = soak.accepted
        wait_until(lambda: soak.accepted >= accepted_after_restart + 5, timeout=60, what="readings flowing again")
    live_stack.simulator.faults.delay_s = 0.0

    assert not soak.errors
    assert FeederReading.objects.filter(feeder=feeder).count() == soak.accepted
    wait_until(lambda: all_confirmed(event), every=recheck_now, what="every charger confirmed")
    finish_event(live_stack, event, operator)
    assert_ledger(live_stack, event)
    assert_worker_consumes(live_stack)


def test_worker_killed_right_after_cv4_resumes_without_a_second_76(live_stack, services, operator):
    """GIVEN the worker has the pre-command of a 7.6 (CV 4 answered) and its CV 5 is on its
    way WHEN the worker is SIGKILLed THEN a new worker resumes the dispatch with the stored
    RequestID and no device runs a second 7.6."""
    feeder, _chargers = chargers_on_feeder(live_stack, 2)
    live_stack.simulator.faults.hold_cv = 5
    live_stack.simulator.faults.hold_s = 3.0
    event = curtailment_event_start(
        feeder=feeder,
        reduction_kw=8,
        duration_minutes=20,
        reason="fault: worker killed after CV 4",
        requested_by=operator,
    )
    wait_until(lambda: live_stack.simulator.held_requests > 0, what="a CV 5 held after its CV 4")
    live_stack.kill_worker()
    live_stack.simulator.faults.hold_cv = None
    live_stack.start_worker()

    wait_until(lambda: all_confirmed(event), every=recheck_now, timeout=120, what="every charger confirmed")
    finish_event(live_stack, event, operator)
    assert_ledger(live_stack, event)
    assert_worker_consumes(live_stack)


def test_dcc_and_web_stopped_mid_event_every_response_is_delivered_once(live_stack, services, operator):
    """GIVEN an event whose device responses are due WHEN our web server is down as they
    fall due, and then the DCC simulator itself stops for a while (its undelivered responses
    spooled) THEN once both are back every response is delivered and applied once, the
    dispatches that met a stopped DCC are retried or replaced, and the event ends."""
    feeder, _chargers = chargers_on_feeder(live_stack, 3)
    simulator = live_stack.simulator
    simulator.faults.delay_s = 2.0
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=12, duration_minutes=20, reason="fault: DCC and web stopped", requested_by=operator
    )
    wait_until(
        lambda: ServiceRequest.objects.filter(action__event=event, srv="7.6", state="acknowledged").exists(),
        what="a 7.6 acknowledged, its response due",
    )
    live_stack.stop_web()
    try:
        wait_until(lambda: simulator.undelivered_callbacks() > 0, timeout=30, what="a response the web did not take")
        simulator.stop()
        time.sleep(8.0)  # the DCC is away; dispatches still running meet a closed port
        simulator.start()
    finally:
        if not simulator.running:
            simulator.start()
        live_stack.start_web()
    simulator.faults.delay_s = 0.0

    wait_until(lambda: simulator.undelivered_callbacks() == 0, timeout=60, what="the spooled responses delivered")
    wait_until(
        lambda: not event.actions.filter(status__in=("planned", "boost_setup", "sent", "acknowledged")).exists(),
        every=recheck_now,
        timeout=120,
        what="no charger waiting for its command or confirmation",
    )
    finish_event(live_stack, event, operator)
    assert_ledger(live_stack, event)
    assert_worker_consumes(live_stack)
