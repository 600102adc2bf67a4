"""End to end through real processes: PostgreSQL, Redis, a Celery worker (with beat), the
uvicorn web server receiving the DCC's callbacks, and the DCC simulator over HTTP.

Readings go in through the telemetry API, the alert is raised by detection, the worker
opens the event and talks DUIS to the simulator, the simulator's device responses come
back through ``POST /dcc/responses/``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections import Counter

import pytest
import requests
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.db.models import F
from django.utils import timezone

from consent.models import Notification
from core.models import AuditEntry
from core.push import feeder_group
from curtailment.models import CurtailmentAction, CurtailmentEvent
from dcc.models import ServiceRequest
from dnoctl.celery import app as celery_app
from feeders.models import FeederReading
from feeders.services import monitor_token_issue
from tests.consent.factories import eligible_charger
from tests.feeders.factories import FeederFactory

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


class PushListener:
    """A channel in the feeder's group, read by a thread with its own event loop and its own
    channel-layer instance, so every push is collected as it arrives (messages in the Redis
    layer expire after 30 s)."""

    def __init__(self, group: str) -> None:
        self.messages: list[dict] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run(group)), daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "channel layer listener did not start"

    async def _run(self, group: str) -> None:
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        self._ready.set()
        while not self._stop.is_set():
            try:
                self.messages.append(await asyncio.wait_for(layer.receive(channel), timeout=0.5))
            except TimeoutError:
                continue

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def drain(self) -> None:
        """Nothing to do: the thread collects continuously (kept for ``wait_until``)."""

    def types(self) -> Counter:
        return Counter(message["type"] for message in list(self.messages))


def wait_until(condition, *, timeout: float = 45.0, listener: PushListener | None = None, every=None):
    """Poll ``condition``; call ``every`` (e.g. queue a re-check, as beat would) at most
    every 2 seconds meanwhile."""
    deadline = time.monotonic() + timeout
    last_every = 0.0
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if listener is not None:
            listener.drain()
        if every is not None and time.monotonic() - last_every >= 2.0:
            every()
            last_every = time.monotonic()
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def post_readings(web_url: str, token: str, feeder, rows: list[tuple[dt.datetime, float, float]]) -> None:
    body = {
        "readings": [
            {"feeder": feeder.code, "measured_at": at.isoformat(), "amps": [amps, amps, amps], "kw": kw}
            for at, amps, kw in rows
        ]
    }
    reply = requests.post(
        f"{web_url}/api/v1/telemetry/", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert reply.status_code == 202, reply.text


def load_drops(web_url: str, token: str, feeder) -> None:
    """The simulated load falls below the clear level and stays there: the readings that
    raised the alert are moved 8 minutes back (standing in for the wait) and six minutes
    of readings at 50 % follow, through the API."""
    FeederReading.objects.filter(feeder=feeder).update(measured_at=F("measured_at") - dt.timedelta(minutes=8))
    now = timezone.now()
    post_readings(web_url, token, feeder, [(now - dt.timedelta(minutes=m), 50.0, 34.0) for m in range(6, -1, -1)])


def recheck_now() -> None:
    celery_app.send_task("curtailment.tasks.events_recheck")


def setup_feeder(live_stack, chargers: int):
    feeder = FeederFactory(
        rating_amps=100, at_risk_percent=90, clear_percent=80, high_risk=True, automatic_curtailment=True
    )
    made = [eligible_charger(feeder=feeder) for _ in range(chargers)]
    live_stack.register_meters()
    token = monitor_token_issue(name=f"e2e-{feeder.code}")
    return feeder, made, token


def assert_each_request_processed_once(live_stack) -> None:
    counts = Counter((request_id, cv) for request_id, cv, _code in live_stack.simulator.received)
    repeated = {key: n for key, n in counts.items() if n > 1}
    assert not repeated, f"requests processed more than once: {repeated}"


def test_alert_to_curtailment_to_early_release_through_real_processes(live_stack):
    feeder, _chargers, token = setup_feeder(live_stack, chargers=4)
    listener = PushListener(feeder_group(feeder.pk))

    # 95 % of rating on every phase, 65 kW: 65 x (95-80)/95 x 1.1 = 11.3 kW to shed -> two chargers.
    post_readings(live_stack.web_url, token, feeder, [(timezone.now(), 95.0, 65.0)])
    event = wait_until(lambda: CurtailmentEvent.objects.filter(feeder=feeder).first(), listener=listener)
    assert event.trigger == "automatic"
    assert event.required_reduction_kw == pytest.approx(65 * 15 / 95 * 1.1)
    actions = wait_until(
        lambda: (rows := list(event.actions.all())) and all(a.status == "confirmed" for a in rows) and rows,
        listener=listener,
    )
    assert len(actions) == 2
    for action in actions:
        requests_by_srv = {sr.srv: sr for sr in action.service_requests.all()}
        assert set(requests_by_srv) == {"7.9", "7.6"}  # override allowed: boost button first
        assert requests_by_srv["7.9"].state == "responded" and requests_by_srv["7.6"].state == "responded"
        assert requests_by_srv["7.6"].command_variant == 5
        assert requests_by_srv["7.9"].counter < requests_by_srv["7.6"].counter
        device = live_stack.simulator.device_state(action.hcalcs.meter.esme_eui64)
        assert device["boost_button"] == [action.hcalcs.switch_index]
    event.feeder.refresh_from_db()
    assert event.feeder.status == "curtailing"

    load_drops(live_stack.web_url, token, feeder)
    wait_until(
        lambda: CurtailmentEvent.objects.get(pk=event.pk).status == "ended", listener=listener, every=recheck_now
    )
    event.refresh_from_db()
    assert event.end_reason == "early_release"
    for action in CurtailmentAction.objects.filter(event=event):
        assert (action.status, action.end_reason) == ("ended", "released")
        reset = action.service_requests.get(srv="7.8")
        assert reset.state == "responded"
        assert action.ended_at <= action.expected_end_at
    assert_each_request_processed_once(live_stack)
    audit = set(
        AuditEntry.objects.filter(target_id=str(event.pk), target_type="curtailment.curtailmentevent").values_list(
            "action", flat=True
        )
    )
    assert {"event.start", "event.release", "event.end"} <= audit
    # NF2/NF4: each curtailed customer has a notice for this event.
    wait_until(lambda: Notification.objects.filter(event=event, kind="event").count() == 2, timeout=45)
    start = AuditEntry.objects.get(action="event.start", target_id=str(event.pk))
    assert start.actor == "rule:auto-curtail" and len(start.inputs["candidates"]) == 4
    wait_until(lambda: listener.types()["event.updated"] >= 3, listener=listener, timeout=10)
    types = listener.types()
    assert types["action.updated"] >= 6 and types["service_request.updated"] >= 6
    wait_until(lambda: feeder.__class__.objects.get(pk=feeder.pk).status != "curtailing", timeout=10)
    listener.stop()


def test_worker_killed_mid_event_restarts_and_ends_the_event_without_sending_twice(live_stack):
    feeder, _chargers, token = setup_feeder(live_stack, chargers=4)
    # The DCC answers 503 for a while: the worker is retrying (same RequestIDs) when it dies.
    live_stack.simulator.faults.http_503 = 10_000
    post_readings(live_stack.web_url, token, feeder, [(timezone.now(), 95.0, 65.0)])
    event = wait_until(lambda: CurtailmentEvent.objects.filter(feeder=feeder).first())
    wait_until(lambda: ServiceRequest.objects.filter(action__event=event, attempts__gte=1).count() >= 2)
    live_stack.kill_worker()
    live_stack.simulator.faults.http_503 = 0
    live_stack.start_worker()

    def confirmed():
        rows = list(event.actions.all())
        return any(a.status == "confirmed" for a in rows) and not any(
            a.status in ("planned", "boost_setup", "sent", "acknowledged") for a in rows
        )

    wait_until(confirmed, every=recheck_now, timeout=90)
    load_drops(live_stack.web_url, token, feeder)
    wait_until(lambda: CurtailmentEvent.objects.get(pk=event.pk).status == "ended", every=recheck_now, timeout=60)
    event.refresh_from_db()
    assert event.end_reason == "early_release"
    assert not event.actions.filter(
        status__in=["planned", "boost_setup", "sent", "acknowledged", "confirmed", "late", "releasing"]
    ).exists()
    for action in event.actions.all():
        per_srv = Counter(action.service_requests.values_list("srv", flat=True))
        assert all(n == 1 for n in per_srv.values()), per_srv
        states = dict(action.service_requests.values_list("srv", "state"))
        if "7.6" in states:
            # The 7.9 claimed by the dead worker was resent (same RequestID) once its claim
            # lapsed, and the 7.6 never overtook it.
            assert states["7.9"] in ("acknowledged", "responded"), states
        else:
            assert action.end_reason == "late", (action.status, action.end_reason, states)
    assert_each_request_processed_once(live_stack)


def test_boost_press_overrides_then_operator_cancel_resets_every_live_charger(live_stack, operator):
    """GIVEN a manual event whose charger is on the boost button and switched off
    WHEN the customer presses boost (the simulated meter raises its alert to our endpoint)
    THEN that action ends with reason override and a replacement is switched off; and
    WHEN the operator cancels the event THEN the replacement gets a 7.8 and the event ends."""
    from curtailment.services import curtailment_event_cancel, curtailment_event_start

    feeder, _chargers, _token = setup_feeder(live_stack, chargers=3)
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=5, duration_minutes=30, reason="e2e boost", requested_by=operator
    )
    first = wait_until(lambda: event.actions.filter(status="confirmed").first())
    meter = first.hcalcs.meter
    wait_until(
        lambda: live_stack.simulator.device_state(meter.esme_eui64)["boost_button"] == [first.hcalcs.switch_index]
    )
    assert live_stack.simulator.press_boost(meter.esme_eui64) == [first.hcalcs.switch_index]

    replacement = wait_until(lambda: event.actions.exclude(pk=first.pk).filter(status="confirmed").first())
    first.refresh_from_db()
    assert (first.status, first.end_reason) == ("ended", "override")
    assert first.ended_at < first.expected_end_at
    assert AuditEntry.objects.filter(action="action.override", target_id=str(first.pk)).exists()

    curtailment_event_cancel(event=event, reason="operator cancels", cancelled_by=operator)
    wait_until(lambda: CurtailmentEvent.objects.get(pk=event.pk).status == "ended")
    replacement.refresh_from_db()
    assert (replacement.status, replacement.end_reason) == ("ended", "cancelled")
    assert replacement.service_requests.get(srv="7.8").state == "responded"
    assert not first.service_requests.filter(srv="7.8").exists()  # already back on: no reset
    device = live_stack.simulator.device_state(replacement.hcalcs.meter.esme_eui64)
    assert device["switches"][str(replacement.hcalcs.switch_index)]["state"] == "on"
    event.refresh_from_db()
    assert event.end_reason == "cancelled"
    assert_each_request_processed_once(live_stack)
