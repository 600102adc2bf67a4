"""ASP call-offs end to end through real processes: the web server (telemetry in), the
worker with beat (the event, the call-off, the deadline check, the fallback), the DCC
simulator, dnoctl's VTN (``Procfile``'s ``vtn``) and a stand-in aggregator's VEN (toadr3)
as separate processes, talking OpenADR 3 over loopback HTTP.

Three providers: one that delivers what is asked (credited once reported, no charger),
one that delivers half (chargers cover the rest), one that fetches the call-off and never
answers (chargers cover all of it once its deadline has passed).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.utils import timezone

from core.models import AuditEntry
from curtailment.models import AspCallOff, AspReport, CurtailmentEvent
from tests.curtailment.asp_factories import asp_contract, asp_ven
from tests.curtailment.test_e2e import post_readings, setup_feeder, wait_until
from tests.processes import ManagedProcess, free_port, wait_for_http, wait_for_log_line

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

# Short deadlines, so a test waits seconds, not the production minute and a half.
WORKER_ENV = {"DNOCTL_ASP_CONFIRM_S": "8", "DNOCTL_ASP_CHECK_S": "2"}


@dataclass
class AspStack:
    vtn_url: str
    vtn: ManagedProcess
    vens: list[ManagedProcess]

    def start_ven(self, *, client_id: str, secret: str, ven_name: str, delivers: float = 1.0, silent: bool = False):
        argv = [
            sys.executable,
            "-m",
            "curtailment.openadr.ven",
            "--vtn-url",
            self.vtn_url,
            "--client-id",
            client_id,
            "--ven-name",
            ven_name,
            "--delivers",
            str(delivers),
            "--poll-s",
            "0.5",
            "--report-s",
            "1",
        ] + (["--silent"] if silent else [])
        env = {**self.vtn.env, "VEN_CLIENT_SECRET": secret}
        ven = ManagedProcess(f"ven-{ven_name}", argv, env, self.vtn.log.with_name(f"ven-{ven_name}.log"))
        ven.start()
        wait_for_log_line(ven.log, "polling", ven.proc)
        self.vens.append(ven)
        return ven


@pytest.fixture
def asp_stack(live_stack) -> Iterator[AspStack]:
    """The VTN beside the live stack, and a worker with short ASP deadlines; the VENs a test
    starts are stopped before the live stack quiesces (nothing may write while it flushes)."""
    worker_env = live_stack.worker.env
    live_stack.worker.stop()
    live_stack.worker.env = {**worker_env, **WORKER_ENV}
    live_stack.start_worker()
    port = free_port()
    vtn = ManagedProcess(
        "vtn",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "curtailment.openadr.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        dict(live_stack.env),
        live_stack.workdir / "vtn.log",
    )
    vtn.start()
    stack = AspStack(vtn_url=f"http://127.0.0.1:{port}/openadr3/3.0.1", vtn=vtn, vens=[])
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz/vtn", vtn.proc, vtn.log)
        yield stack
    finally:
        for ven in stack.vens:
            ven.stop()
        vtn.stop()
        live_stack.worker.stop()
        live_stack.worker.env = worker_env


def _called_off_feeder(live_stack, asp_stack, *, delivers: float = 1.0, silent: bool = False):
    """A feeder with four chargers and a 20 kW contract whose VEN runs; 95 % posted."""
    feeder, _chargers, token = setup_feeder(live_stack, chargers=4)
    ven, secret = asp_ven()
    asp_contract(feeders=[feeder], available_kw=20, ven=ven)
    asp_stack.start_ven(client_id=ven.client_id, secret=secret, ven_name=ven.ven_name, delivers=delivers, silent=silent)
    # 95 % of rating, 65 kW: 65 x (95-80)/95 x 1.1 = 11.3 kW to shed, all asked of the ASP.
    post_readings(live_stack.web_url, token, feeder, [(timezone.now(), 95.0, 65.0)])
    event = wait_until(lambda: CurtailmentEvent.objects.filter(feeder=feeder).first())
    calloff = wait_until(lambda: AspCallOff.objects.filter(event=event).first())
    assert calloff.kw == pytest.approx(event.required_reduction_kw)
    return event, calloff


def _settled(calloff) -> AspCallOff:
    return wait_until(lambda: AspCallOff.objects.filter(pk=calloff.pk, settled_at__isnull=False).first())


def test_a_provider_that_delivers_is_credited_once_reported_and_no_charger_is_curtailed(live_stack, asp_stack):
    event, calloff = _called_off_feeder(live_stack, asp_stack)
    # Nothing is asked of the chargers while the provider has time to deliver.
    assert not event.actions.exists()

    calloff = _settled(calloff)

    assert calloff.seen_at is not None and calloff.reported_at is not None
    assert calloff.confirmed_kw == pytest.approx(calloff.kw, abs=0.01)
    assert calloff.counted_kw == pytest.approx(calloff.kw, abs=0.01)
    assert AspReport.objects.filter(calloff=calloff).exists()
    event.refresh_from_db()
    assert event.asp_calloff_kw == pytest.approx(event.required_reduction_kw, abs=0.01)
    assert not event.actions.exists()
    assert not AuditEntry.objects.filter(action="asp.fallback").exists()
    assert AuditEntry.objects.filter(action="asp.deadline", inputs__calloff=calloff.pk).count() == 1


def test_a_provider_that_delivers_half_is_credited_half_and_chargers_cover_the_rest(live_stack, asp_stack):
    event, calloff = _called_off_feeder(live_stack, asp_stack, delivers=0.5)

    calloff = _settled(calloff)
    actions = wait_until(lambda: list(event.actions.all()))

    assert calloff.confirmed_kw == pytest.approx(calloff.kw / 2, abs=0.01)
    event.refresh_from_db()
    assert event.asp_calloff_kw == pytest.approx(calloff.kw / 2, abs=0.01)
    shortfall = event.required_reduction_kw - event.asp_calloff_kw
    assert sum(action.expected_kw for action in actions) >= shortfall
    assert all(action.started_at >= calloff.confirm_by for action in actions)
    fallback = AuditEntry.objects.get(action="asp.fallback")
    assert fallback.inputs["confirmed_kw"] == pytest.approx(calloff.kw / 2, abs=0.01)
    assert AuditEntry.objects.filter(action="event.top_up", reason__startswith="ASP fallback").exists()
    # The chargers picked in the fallback are really curtailed through the DCC.
    wait_until(lambda: all(a.status == "confirmed" for a in event.actions.all()))


def test_a_provider_that_never_answers_is_covered_by_chargers_after_its_deadline(live_stack, asp_stack):
    event, calloff = _called_off_feeder(live_stack, asp_stack, silent=True)

    calloff = _settled(calloff)
    actions = wait_until(lambda: list(event.actions.all()))

    assert calloff.seen_at is not None  # the provider had it
    assert calloff.reported_at is None and calloff.counted_kw == 0
    event.refresh_from_db()
    assert event.asp_calloff_kw == 0
    assert sum(action.expected_kw for action in actions) >= event.required_reduction_kw
    assert all(action.started_at >= calloff.confirm_by for action in actions)
    assert "reported no delivery by its deadline" in AuditEntry.objects.get(action="asp.fallback").reason
    wait_until(lambda: all(a.status == "confirmed" for a in event.actions.all()))
