"""Fault injection against the real processes (``tests.processes``): Redis and PostgreSQL
restarted on their own ports (``tests.services_control``), the worker SIGKILLed, the DCC
simulator or the web server stopped, each in the middle of a curtailment event.

Each test then checks the same ledger (:func:`assert_ledger`): every event closes, every
service request reaches a final state, no device ran a second 7.6 for one action, every
7.6 a device ran belongs to a stored request of its action and was confirmed, every charger
is back on, and the worker still consumes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
import time
from collections import Counter

import pytest
import requests
from django.db import connections
from django.utils import timezone

from curtailment.models import CurtailmentEvent
from dcc.models import ServiceRequest
from dnoctl.celery import app as celery_app
from tests import services_control
from tests.consent.factories import eligible_charger
from tests.feeders.factories import FeederFactory

FINAL_REQUEST_STATES = {"responded", "rejected", "failed", "timed_out"}


@pytest.fixture
def services():
    """The harness's PostgreSQL and Redis, restartable (``scripts/with_services.py``)."""
    if not services_control.available():
        pytest.fail("fault tests restart PostgreSQL and Redis: run them through scripts/with_services.py")
    yield services_control
    # Whatever happened, leave both servers up for the next test.
    services_control.start("redis")
    services_control.start("postgres")
    connections.close_all()


def wait_until(condition, *, timeout: float = 90.0, every=None, what: str = "condition"):
    """Poll ``condition`` (database errors while a server restarts count as "not yet");
    call ``every`` at most every 2 seconds meanwhile (e.g. queue a re-check, as beat would)."""
    deadline = time.monotonic() + timeout
    last_every = 0.0
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:  # a server is restarting: the test's own connection may be broken
            connections.close_all()
            value = None
        if value:
            return value
        if every is not None and time.monotonic() - last_every >= 2.0:
            with contextlib.suppress(Exception):  # the broker is down: the next call tries again
                every()
            last_every = time.monotonic()
        time.sleep(0.2)
    raise AssertionError(f"{what} not met within {timeout} s")


def recheck_now() -> None:
    celery_app.send_task("curtailment.tasks.events_recheck")


def chargers_on_feeder(live_stack, count: int = 3):
    """A high-risk feeder with ``count`` eligible chargers, known to the simulator."""
    feeder = FeederFactory(rating_amps=100, high_risk=True, automatic_curtailment=False)
    chargers = [eligible_charger(feeder=feeder) for _ in range(count)]
    live_stack.register_meters()
    return feeder, chargers


def login(web_url: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{web_url}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    reply = session.post(
        f"{web_url}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{web_url}/accounts/login/"},
        timeout=10,
    )
    assert reply.status_code == 200 and "Log out" in reply.text, reply.text[:300]
    return session


def post_form(session: requests.Session, url: str, data: dict) -> requests.Response:
    """POST a dashboard form as the browser does (CSRF cookie and token, same-origin Referer)."""
    token = session.cookies["csrftoken"]
    return session.post(
        url, data={**data, "csrfmiddlewaretoken": token}, headers={"Referer": url}, timeout=30, allow_redirects=True
    )


def assert_worker_consumes(live_stack) -> None:
    """The worker process is alive, its consumer answers through the broker, and its
    heartbeat (written from the consumer's loop) is fresh."""
    from dnoctl.liveness import liveness_read

    assert live_stack.worker.proc.poll() is None, live_stack.worker.log.read_text()[-3000:]
    wait_until(lambda: celery_app.control.ping(timeout=1.0), timeout=60, what="the worker answers a ping")
    wait_until(lambda: not liveness_read()["worker"].stale, timeout=30, what="a fresh worker heartbeat")


def finish_event(live_stack, event, operator) -> CurtailmentEvent:
    """Cancel the event as an operator would and wait until it has ended."""
    from curtailment.services import curtailment_event_cancel

    event.refresh_from_db()
    if event.status != "ended":
        curtailment_event_cancel(event=event, reason="fault test: end of the scenario", cancelled_by=operator)
    wait_until(
        lambda: CurtailmentEvent.objects.get(pk=event.pk).status == "ended",
        every=recheck_now,
        timeout=120,
        what=f"event {event.pk} ended",
    )
    event.refresh_from_db()
    return event


# The ledger takes the device's times from the DCC's timestamps (1/100 s); the simulator
# stamps a response a few milliseconds after the device acted.
LEDGER_TOLERANCE_S = 1.0


def _device_off_interval(device, request_id: str, action, requests_by_id) -> tuple[float, float]:
    """When the simulated meter switched this action's charger off and back on (its own
    record): off when it ran the 7.6, on at the end of the Duration, or sooner when it ran the
    action's 7.8 or its customer pressed boost."""
    ran = {rid: at for rid, _srv, at in device.executions}
    off = ran[request_id]
    minutes = int(requests_by_id[request_id].request_document.split("<sr:Duration>")[1].split("<")[0])
    on = off + 60 * minutes
    resets = [
        ran[rid] for rid, sr in requests_by_id.items() if sr.action_id == action.pk and sr.srv == "7.8" and rid in ran
    ]
    presses = [at for at in device.boost_presses if at >= off]
    return off, min([on, *resets, *presses])


def assert_ledger(live_stack, event) -> None:
    """What must hold after any fault, once the event has ended (module docstring)."""
    simulator = live_stack.simulator
    wait_until(lambda: simulator.undelivered_callbacks() == 0, timeout=60, what="every device response delivered")
    wait_until(
        lambda: not ServiceRequest.objects.filter(action__event=event).exclude(state__in=FINAL_REQUEST_STATES).exists(),
        timeout=60,
        what="every service request final",
    )
    requests_by_id = {sr.request_id: sr for sr in ServiceRequest.objects.filter(action__event=event)}
    executed_76: Counter = Counter()
    for action in event.actions.select_related("hcalcs__meter"):
        assert action.status in ("ended", "failed"), (action.pk, action.status)
        device = simulator.devices.get(action.hcalcs.meter.esme_eui64)
        runs = [(rid, srv) for rid, srv, _at in device.executions if srv == "7.6"]
        mine = [rid for rid, _srv in runs if rid in requests_by_id and requests_by_id[rid].action_id == action.pk]
        executed_76[action.pk] = len(mine)
        # Every 7.6 the device ran is one dnoctl stored for an action of this event.
        assert all(rid in requests_by_id for rid, _srv in runs), (runs, sorted(requests_by_id))
        if mine:
            # The device switched the charger off for this action: its response was applied,
            # and the ledger's minutes are the device's own, to the second.
            assert action.confirmed_at is not None, (action.pk, action.status, action.end_reason)
            off, on = _device_off_interval(device, mine[0], action, requests_by_id)
            assert abs(action.confirmed_at.timestamp() - off) < LEDGER_TOLERANCE_S, (
                action.pk,
                action.confirmed_at,
                off,
            )
            assert abs(action.ended_at.timestamp() - on) < LEDGER_TOLERANCE_S, (action.pk, action.ended_at, on)
        else:
            # The device never ran its 7.6: nothing may count against the customer.
            assert action.confirmed_at is None, (action.pk, action.status, action.confirmed_at)
        state = simulator.device_state(action.hcalcs.meter.esme_eui64)
        assert state["switches"][str(action.hcalcs.switch_index)]["state"] == "on", (action.pk, state)
    assert all(n <= 1 for n in executed_76.values()), f"a 7.6 executed twice for one action: {executed_76}"
    # And no DUIS request was processed twice by the DCC.
    processed = Counter((rid, cv) for rid, cv, _code in simulator.received)
    assert not [key for key, n in processed.items() if n > 1], processed
    event.refresh_from_db()
    assert event.status == "ended" and event.ended_at is not None


class TelemetrySoak:
    """An LV monitor posting one reading every 0.2 s through the real ingest API, resending
    a batch until it is accepted (as a monitor does); counts what it had accepted."""

    def __init__(self, web_url: str, token: str, feeder_code: str) -> None:
        self.url = f"{web_url}/api/v1/telemetry/"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.feeder_code = feeder_code
        self.accepted = 0
        self.refused = 0  # answers other than 202 while a fault lasted (then resent)
        self.errors: list[str] = []  # 4xx: a reading the API refused as bad
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = timezone.now() - dt.timedelta(hours=1)

    def __enter__(self) -> TelemetrySoak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            at = self._start + dt.timedelta(seconds=n)
            reading = {"feeder": self.feeder_code, "measured_at": at.isoformat(), "amps": [40, 40, 40], "kw": 27.0}
            while not self._stop.is_set():
                try:
                    reply = requests.post(self.url, json={"readings": [reading]}, headers=self.headers, timeout=10)
                except requests.RequestException:
                    reply = None
                if reply is not None and reply.status_code == 202:
                    self.accepted += 1
                    break
                if reply is not None and 400 <= reply.status_code < 500:
                    self.errors.append(f"{reply.status_code}: {reply.text[:300]}")  # the test's own mistake
                    return
                self.refused += 1
                time.sleep(0.3)
            n += 1
            self._stop.wait(0.2)
