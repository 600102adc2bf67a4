"""Redis (the Celery broker, channel layer and cache) restarted or stopped mid-event."""

from __future__ import annotations

import pytest
import requests

from curtailment.models import CurtailmentEvent
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
    login,
    post_form,
    recheck_now,
    wait_until,
)

pytestmark = [pytest.mark.processes, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

UNCONFIRMED = ("planned", "boost_setup", "sent", "acknowledged")


def all_confirmed(event) -> bool:
    actions = list(event.actions.all())
    return (
        bool(actions)
        and any(a.status == "confirmed" for a in actions)
        and not any(a.status in UNCONFIRMED for a in actions)
    )


def test_worker_outlives_a_redis_restart_with_dispatches_in_flight(live_stack, services, operator):
    """GIVEN an event whose dispatches are retrying (the DCC answers 503), so the worker holds
    unacknowledged messages WHEN Redis restarts (losing every queued message) THEN the worker
    reconnects and keeps consuming, the re-check redoes the lost dispatches, and nothing is
    sent twice."""
    feeder, _chargers = chargers_on_feeder(live_stack, 3)
    token = monitor_token_issue(name=f"faults-{feeder.code}")
    live_stack.simulator.faults.http_503 = 10_000
    with TelemetrySoak(live_stack.web_url, token, feeder.code) as soak:
        event = curtailment_event_start(
            feeder=feeder, reduction_kw=12, duration_minutes=20, reason="fault: Redis restart", requested_by=operator
        )
        wait_until(
            lambda: ServiceRequest.objects.filter(action__event=event, attempts__gte=1).exists(),
            what="dispatch retrying",
        )
        services.restart("redis")
        live_stack.simulator.faults.http_503 = 0
        accepted = soak.accepted
        wait_until(lambda: soak.accepted >= accepted + 5 or soak.errors, timeout=60, what="readings after the restart")
    assert not soak.errors
    # Ingest does not need Redis to store a reading: every reading the monitor sent is stored.
    assert FeederReading.objects.filter(feeder=feeder).count() == soak.accepted

    assert_worker_consumes(live_stack)
    wait_until(lambda: all_confirmed(event), every=recheck_now, what="every charger confirmed")
    finish_event(live_stack, event, operator)
    assert_ledger(live_stack, event)
    assert_worker_consumes(live_stack)
    log = live_stack.worker.log.read_text()
    assert "Connection to broker lost" in log  # the restart did reach the worker
    assert "Unrecoverable error" not in log


def test_curtail_with_redis_down_is_accepted_shown_queued_and_sent_when_it_is_back(live_stack, services, operator):
    """GIVEN Redis is down WHEN an operator curtails THEN the page answers (not a 500), the
    event and its actions are stored, the page says the commands are queued and why, and
    /healthz says what is wrong; WHEN Redis is back THEN the commands are sent."""
    feeder, _chargers = chargers_on_feeder(live_stack, 2)
    session = login(live_stack.web_url, operator.username, "correct-horse-battery")
    services.stop("redis")
    try:
        reply = post_form(
            session,
            f"{live_stack.web_url}/feeders/{feeder.pk}/curtail/",
            {"reduction_kw": "5", "duration_minutes": "20", "reason": "fault: broker down", "confirm": "on"},
        )
        assert reply.status_code == 200, reply.text[:2000]
        event = CurtailmentEvent.objects.get(feeder=feeder)
        assert reply.url.endswith(f"/curtailment/events/{event.pk}/"), reply.url
        assert "queued, not yet sent" in reply.text
        assert "the task queue (Redis) is unreachable" in reply.text
        assert 'id="event-queued"' in reply.text  # the event page's own banner, besides the message
        actions = list(event.actions.all())
        assert actions and all(a.status == "planned" for a in actions)
        health = requests.get(f"{live_stack.web_url}/healthz", timeout=10)
        assert health.status_code == 503
        assert any("cache unreachable" in problem for problem in health.json()["problems"]), health.json()
    finally:
        services.start("redis")

    wait_until(lambda: all_confirmed(event), every=recheck_now, what="every charger confirmed once Redis is back")
    page = session.get(f"{live_stack.web_url}/curtailment/events/{event.pk}/", timeout=10)
    assert page.status_code == 200 and 'id="event-queued"' not in page.text
    finish_event(live_stack, event, operator)
    assert_ledger(live_stack, event)
    assert_worker_consumes(live_stack)
