"""Django side of the DCC conversation against the real database (PostgreSQL under
``make test``): persisted counters, send/retry, and the ``/dcc/responses/`` endpoint."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from dcc import config as dcc_config
from dcc.choices import ServiceRequestState as State
from dcc.counters import DbCounterSource
from dcc.duis import DccArgumentError, DccTransientError, RequestId, documents
from dcc.duis.alert_codes import BOOST_ALERT_CODE
from dcc.models import (
    DccRequestCounter,
    DeviceCertificate,
    InboundDocument,
    ServiceRequest,
    ServiceRequestTransition,
)
from dcc.services import (
    _default_command_variant,
    device_certificates_store,
    handlers_replaced,
    service_request_create,
    service_request_dispatch,
    service_request_send,
)
from dcc.simulator import device_gbcs

from .conftest import HCALCS, OLD_FIRMWARE, ORIGINATOR, POOR_WAN, run_in_threads, wait_until
from .test_xmlsafe import BILLION_LAUGHS, XXE

REPO_ROOT = Path(__file__).resolve().parents[2]


def _snapshot() -> list[tuple]:
    rows = ServiceRequest.objects.order_by("pk").values_list("pk", "state", "ack_code", "response_code", "responded_at")
    return [*rows, ServiceRequestTransition.objects.count()]


def _post(client, document: bytes):
    return client.post("/dcc/responses/", data=document, content_type="application/xml")


def _forwarded(receiver, request_id: str) -> list[bytes]:
    return [d for d in list(receiver.documents) if f"<sr:RequestID>{request_id}</sr:RequestID>".encode() in d]


# --------------------------------------------------------------------------- counters


@pytest.mark.django_db(transaction=True)
def test_counters_from_many_threads_never_repeat_or_go_back():
    per_thread: list[list[int]] = []
    lock = threading.Lock()

    def take() -> None:
        try:
            values = [DbCounterSource().next_counter(ORIGINATOR) for _ in range(40)]
            with lock:
                per_thread.append(values)
        finally:
            connection.close()

    run_in_threads(take, 8)
    everything = [v for values in per_thread for v in values]
    assert len(per_thread) == 8
    assert len(set(everything)) == len(everything) == 320
    assert all(values == sorted(values) and len(set(values)) == len(values) for values in per_thread)
    assert DbCounterSource().next_counter(ORIGINATOR) > max(everything)


@pytest.mark.django_db
def test_counters_keep_ahead_of_the_millisecond_clock_and_of_other_signers():
    before_ms = int(time.time() * 1000)
    first = DbCounterSource().next_counter(ORIGINATOR)
    assert first >= before_ms  # a new originator starts at the clock, as the DCC's tool does
    # Someone signed for the same originator with the DCC's tool, whose counter is the clock:
    # a counter that only added 1 would now be behind it, and look like a replay.
    DccRequestCounter.objects.filter(originator_eui64=ORIGINATOR).update(value=first - 5_000_000)
    assert DbCounterSource().next_counter(ORIGINATOR) >= before_ms
    # And a counter already ahead of the clock (clock skew, bursts) still only moves up by one.
    ahead = int(time.time() * 1000) + 3_600_000
    DccRequestCounter.objects.filter(originator_eui64=ORIGINATOR).update(value=ahead)
    assert DbCounterSource().next_counter(ORIGINATOR) == ahead + 1


def _database_url() -> str:
    s = connection.settings_dict
    auth = quote(s.get("USER") or "") + (f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_counters_from_many_processes_never_repeat_or_go_back():
    assert connection.vendor == "postgresql", "run through make test (PostgreSQL)"
    script = (
        "import django; django.setup()\n"
        "from dcc.counters import DbCounterSource\n"
        f"print(' '.join(str(DbCounterSource().next_counter({ORIGINATOR!r})) for _ in range(30)))\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "dnoctl.settings",
        "DB_CONN_MAX_AGE": "0",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err for _, err in outputs]
    per_process = [[int(v) for v in out.split()] for out, _ in outputs]
    everything = [v for values in per_process for v in values]
    assert len(set(everything)) == len(everything) == 120
    assert all(values == sorted(values) for values in per_process)
    assert DbCounterSource().next_counter(ORIGINATOR) > max(everything)


# --------------------------------------------------------------------------- sending


@pytest.mark.django_db
def test_send_deactivate_stores_history_and_applies_the_device_response_once(
    dcc_settings, simulator, receiver, client, django_capture_on_commit_callbacks
):
    heard: list[dict] = []

    def listener(service_request, result):
        heard.append({"request_id": service_request.request_id, "state": service_request.state, "result": result})

    with handlers_replaced(responses={"7.6": listener}):
        service_request = service_request_send(srv="7.6", target=HCALCS, index=3, duration_minutes=30)
        assert service_request.state == State.ACKNOWLEDGED
        assert service_request.ack_code == "I0"
        assert service_request.command_variant == 5
        assert (service_request.originator_eui64, service_request.target_eui64) == (ORIGINATOR, HCALCS)
        stages = [t.detail.split("\n")[0] for t in service_request.transitions.order_by("at", "id")]
        assert stages == [
            "CV 5",
            "sending (attempt 1)",
            "transform",
            "transform-ack",
            "request",
            "request-ack",
            "acknowledged",
        ]
        assert [r[:2] for r in simulator.received] == [(service_request.request_id, 4), (service_request.request_id, 5)]

        [document] = wait_until(lambda: _forwarded(receiver, service_request.request_id))
        with django_capture_on_commit_callbacks(execute=True):
            first = _post(client, document)
        assert (first.status_code, first.content) == (200, b"applied\n")
        service_request.refresh_from_db()
        assert service_request.state == State.RESPONDED
        assert service_request.response_code == "I0"
        assert heard == [
            {"request_id": service_request.request_id, "state": State.RESPONDED, "result": heard[0]["result"]}
        ]
        # Decoded from the ESME's signed GBCS answer, authenticated with its certificate.
        assert heard[0]["result"]["summary"] == "ECS47: success"
        assert service_request.device_outcome == "ECS47: success"

        before = _snapshot()
        with django_capture_on_commit_callbacks(execute=True):
            again = _post(client, document)
        assert (again.status_code, again.content) == (200, b"duplicate\n")
        assert _snapshot() == before
        assert len(heard) == 1


@pytest.mark.django_db
def test_retry_after_transport_failure_reuses_the_request_id_and_never_resends_after_ack(dcc_settings, simulator):
    simulator.faults.http_503 = 100
    with pytest.raises(DccTransientError):
        service_request_send(srv="7.8", target=HCALCS, index=1)
    stored = ServiceRequest.objects.get()
    assert stored.state == State.SENT and stored.attempts == 1 and "503" in stored.error
    assert simulator.received == []

    simulator.faults.http_503 = 0
    retried = service_request_dispatch(service_request_id=stored.pk)
    assert retried.request_id == stored.request_id
    assert retried.state == State.ACKNOWLEDGED and retried.attempts == 2
    seen = list(simulator.received)

    again = service_request_dispatch(service_request_id=stored.pk)
    assert again.state == State.ACKNOWLEDGED and again.attempts == 2
    assert simulator.received == seen  # nothing sent after the acknowledgement
    assert ServiceRequest.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_request_dispatched_by_many_workers_at_once_is_sent_once(dcc_settings, simulator):
    stored = service_request_create(srv="7.6", target=HCALCS, index=2, duration_minutes=10)
    results: list[str] = []

    def dispatch() -> None:
        try:
            results.append(service_request_dispatch(service_request_id=stored.pk).state)
        finally:
            connection.close()

    run_in_threads(dispatch, 6)
    assert [cv for rid, cv, _ in simulator.received if rid == stored.request_id] == [4, 5]
    stored.refresh_from_db()
    assert stored.state == State.ACKNOWLEDGED and stored.attempts == 1
    assert len(results) == 6


@pytest.mark.django_db
def test_a_request_in_flight_elsewhere_is_not_sent_again(dcc_settings, simulator):
    stored = service_request_create(srv="7.8", target=HCALCS, index=1)
    ServiceRequest.objects.filter(pk=stored.pk).update(state=State.SENT, sent_at=timezone.now(), attempts=1)
    assert service_request_dispatch(service_request_id=stored.pk).state == State.SENT
    assert simulator.received == []
    # Once the other worker's lease has run out (it died mid-send), a retry may resend.
    ServiceRequest.objects.filter(pk=stored.pk).update(sent_at=timezone.now() - dt.timedelta(minutes=5))
    resent = service_request_dispatch(service_request_id=stored.pk)
    assert resent.state == State.ACKNOWLEDGED and resent.attempts == 2
    assert resent.request_id == stored.request_id


@pytest.mark.django_db
def test_eligibility_rejection_is_recorded(dcc_settings):
    rejected = service_request_send(srv="7.6", target=OLD_FIRMWARE, index=1, duration_minutes=10)
    assert rejected.state == State.REJECTED
    assert rejected.ack_code == "E11"
    history = list(rejected.transitions.order_by("at", "id"))
    # The refusing acknowledgement is in the history (before the move it caused), not lost.
    [ack] = [t for t in history if t.detail.startswith("transform-ack\n")]
    assert "E11" in ack.detail and (ack.from_state, ack.to_state) == (State.SENT, State.SENT)
    assert history[-1].to_state == State.REJECTED
    assert history.index(ack) == len(history) - 2


@pytest.mark.django_db
def test_bad_arguments_spend_no_counter(dcc_settings):
    with pytest.raises(DccArgumentError, match=r"^index: "):
        service_request_create(srv="7.6", target=HCALCS, index=6, duration_minutes=10)
    with pytest.raises(DccArgumentError, match=r"^srv: "):
        service_request_create(srv="7.5", target=HCALCS)
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(DccArgumentError, match=r"^level: "):
        service_request_create(srv="7.16", target=HCALCS, index=1, level=101, start=now, end=now)
    with pytest.raises(DccArgumentError, match=r"^end: "):
        service_request_create(srv="7.16", target=HCALCS, index=1, level=50, start=now, end=now)
    assert not ServiceRequest.objects.exists()


@pytest.mark.django_db
def test_a_poor_wan_charger_gets_local_delivery_only_where_a_channel_is_configured(dcc_settings, simulator, settings):
    poor_wan_action = SimpleNamespace(pk=None, use_local_delivery=True)
    good_wan_action = SimpleNamespace(pk=None, use_local_delivery=False)
    assert _default_command_variant("7.6", good_wan_action) == 5
    assert dcc_config.local_delivery_channel() == "simulator"
    assert _default_command_variant("7.6", poor_wan_action) == 7
    assert _default_command_variant("7.9", poor_wan_action) == 3
    settings.DCC = {**settings.DCC, "LOCAL_DELIVERY": ""}
    # No PPMID/HHT path in production: the WAN, retried, rather than a CV 7 nothing delivers.
    assert _default_command_variant("7.6", poor_wan_action) == 5
    assert _default_command_variant("7.9", poor_wan_action) == 1


@pytest.mark.django_db
def test_local_delivery_applies_the_device_response_and_logs_the_8_13(dcc_settings, simulator):
    service_request = service_request_send(srv="7.6", target=POOR_WAN, index=1, duration_minutes=15, command_variant=7)
    assert service_request.state == State.RESPONDED
    [child] = service_request.children.all()
    assert (child.srv, child.command_variant, child.state, child.ack_code) == ("8.13", 8, State.ACKNOWLEDGED, "I0")
    stages = [t.detail.split("\n")[0] for t in service_request.transitions.order_by("at", "id")]
    assert stages[:6] == ["CV 7", "sending (attempt 1)", "transform", "transform-ack", "request", "request-ack"]
    child_stages = [t.detail.split("\n")[0] for t in child.transitions.order_by("at", "id")]
    assert child_stages[:3] == ["return local command response", "request", "request-ack"]
    assert child.counter > service_request.counter
    assert simulator.device_state(POOR_WAN)["switches"]["1"]["state"] == "off"


# --------------------------------------------------------------------------- responses


def _device_response_document(
    simulator, dcc_signer, request_id: str, srv: str, status: str = "success", *, device: str | None = None
) -> bytes:
    """A DCC-signed device response carrying the device's real GBCS answer (its own keys)."""
    rid = RequestId.parse(request_id)
    payload = device_gbcs.device_response(
        device=simulator.devices.get(device or rid.target),
        user=simulator.users[rid.originator],
        srv=srv,
        counter=rid.counter,
        body={"indexes": [1]},
        result={"status": status},
        now=time.time(),
    )
    root = documents.build_response(
        request_id=request_id, response_id=rid.response_id(), response_code="I0", srv=srv, gbcs_payload=payload
    )
    return dcc_signer.sign(root)


@pytest.mark.django_db
def test_response_overtaking_the_acknowledgement_and_out_of_order_responses(
    dcc_settings, simulator, dcc_signer, client
):
    off = service_request_create(srv="7.6", target=HCALCS, index=1, duration_minutes=20)
    on = service_request_create(srv="7.8", target=HCALCS, index=1)
    # The 7.8's response arrives first, and the 7.6's arrives before the 7.6 was even marked sent.
    assert _post(client, _device_response_document(simulator, dcc_signer, on.request_id, "7.8")).status_code == 200
    assert _post(client, _device_response_document(simulator, dcc_signer, off.request_id, "7.6")).status_code == 200
    off.refresh_from_db()
    on.refresh_from_db()
    assert off.state == on.state == State.RESPONDED


@pytest.mark.django_db
def test_device_failure_response_marks_the_request_failed(dcc_settings, simulator, dcc_signer, client):
    request = service_request_create(srv="7.6", target=HCALCS, index=1, duration_minutes=20)
    assert (
        _post(
            client, _device_response_document(simulator, dcc_signer, request.request_id, "7.6", status="failure")
        ).status_code
        == 200
    )
    request.refresh_from_db()
    assert request.state == State.FAILED
    # What the meter said, decoded from its GBCS: the DLMS result of each of the two requests.
    assert request.device_outcome == (
        "ECS47: failure: switch duration: object-undefined (4); switch action: object-undefined (4)"
    )


@pytest.mark.django_db
def test_a_device_answer_that_does_not_authenticate_is_never_taken_as_success(
    dcc_settings, simulator, dcc_signer, client, django_capture_on_commit_callbacks
):
    request = service_request_create(srv="7.6", target=HCALCS, index=1, duration_minutes=20)
    rid = RequestId.parse(request.request_id)
    # A genuine DCC envelope around GBCS that another meter signed: the DCC does not check the
    # device's signature, the user must.
    impostor = simulator.devices.get(OLD_FIRMWARE)
    payload = device_gbcs.device_response(
        device=impostor,
        user=simulator.users[ORIGINATOR],
        srv="7.6",
        counter=rid.counter,
        body={},
        result={"status": "success"},
        now=time.time(),
    )
    payload = payload.replace(bytes.fromhex(OLD_FIRMWARE.replace("-", "")), bytes.fromhex(HCALCS.replace("-", "")))
    document = dcc_signer.sign(
        documents.build_response(
            request_id=request.request_id,
            response_id=rid.response_id(),
            response_code="I0",
            srv="7.6",
            gbcs_payload=payload,
        )
    )
    heard = []
    with (
        handlers_replaced(responses={"7.6": lambda sr, result: heard.append(result["status"])}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert _post(client, document).content == b"applied\n"
    request.refresh_from_db()
    assert request.state == State.FAILED
    assert request.device_outcome == "not authenticated: signature does not verify"
    assert heard == ["unauthenticated"]


@pytest.mark.django_db
def test_without_the_devices_certificate_its_answer_is_not_authenticated(dcc_settings, simulator, dcc_signer, client):
    DeviceCertificate.objects.filter(eui64=HCALCS).delete()
    request = service_request_create(srv="7.6", target=HCALCS, index=1, duration_minutes=20)
    _post(client, _device_response_document(simulator, dcc_signer, request.request_id, "7.6"))
    request.refresh_from_db()
    assert (request.state, request.device_outcome) == (
        State.FAILED,
        f"not authenticated: no DS/KA certificate for device {HCALCS}",
    )


@pytest.mark.django_db
def test_device_certificates_are_checked_before_they_are_kept(dcc_settings, simulator):
    other = simulator.devices.get(OLD_FIRMWARE).certificates_pem()
    with pytest.raises(DccArgumentError, match=rf"^certificate: {HCALCS} DS: certificate is for {OLD_FIRMWARE}"):
        device_certificates_store(certificates={HCALCS: {"DS": other["DS"]}}, source="test")
    with pytest.raises(DccArgumentError, match=rf"^certificate: {OLD_FIRMWARE} DS: .*not a DS certificate"):
        device_certificates_store(certificates={OLD_FIRMWARE: {"DS": other["KA"]}}, source="test")
    assert (
        DeviceCertificate.objects.get(eui64=HCALCS, usage="DS").certificate
        == (simulator.devices.get(HCALCS).certificates_pem()["DS"])
    )


@pytest.mark.django_db
def test_bad_documents_are_refused_and_change_nothing(dcc_settings, simulator, dcc_signer, user_signer, client):
    request = service_request_create(srv="7.6", target=HCALCS, index=2, duration_minutes=20)
    genuine = _device_response_document(simulator, dcc_signer, request.request_id, "7.6")
    forged = _device_response_document(simulator, user_signer, request.request_id, "7.6")  # right shape, wrong key
    tampered = genuine.replace(b"<sr:ResponseCode>I0<", b"<sr:ResponseCode>E2<")
    unsigned = genuine[: genuine.index(b"<ds:Signature")] + b"</sr:Response>"
    rid = RequestId.parse(request.request_id)
    wrong_device = dcc_signer.sign(
        documents.build_response(
            request_id=request.request_id,
            response_id=f"{OLD_FIRMWARE}:{ORIGINATOR}:{rid.counter}",
            response_code="I0",
            srv="7.6",
            gbcs_payload=device_gbcs.device_response(
                device=simulator.devices.get(OLD_FIRMWARE),
                user=simulator.users[ORIGINATOR],
                srv="7.6",
                counter=rid.counter,
                body={},
                result={"status": "success"},
                now=time.time(),
            ),
        )
    )
    before = _snapshot()
    cases = {
        "unsigned": (unsigned, 403),
        "forged": (forged, 403),
        "tampered": (tampered, 403),
        "xxe": (XXE, 400),
        "billion-laughs": (BILLION_LAUGHS, 400),
        "malformed": (b"<sr:Response", 400),
        "empty": (b"", 400),
        "wrong-device": (wrong_device, 400),
    }
    statuses = {name: _post(client, document).status_code for name, (document, _) in cases.items()}
    assert statuses == {name: status for name, (_, status) in cases.items()}
    assert _snapshot() == before
    assert not InboundDocument.objects.exists()  # nothing refused is kept as if it were the DCC's
    assert client.get("/dcc/responses/").status_code == 405


@pytest.mark.django_db
def test_a_response_for_a_request_we_never_sent_is_logged_and_answered_2xx(dcc_settings, simulator, dcc_signer, client):
    service_request_create(srv="7.6", target=HCALCS, index=2, duration_minutes=20)
    before = _snapshot()
    unknown_id = f"{ORIGINATOR}:{HCALCS}:1"
    reply = _post(client, _device_response_document(simulator, dcc_signer, unknown_id, "7.6"))
    # A refusal would only make the DCC send it again; it is kept for a person to look at.
    assert (reply.status_code, reply.content) == (200, b"unknown_request\n")
    assert _snapshot() == before
    [kept] = InboundDocument.objects.all()
    assert (kept.kind, kept.outcome, kept.request_id, kept.code) == ("response", "unknown_request", unknown_id, "I0")
    assert kept.service_request_id is None


@pytest.mark.django_db
def test_a_dcc_alert_that_a_command_failed_fails_that_request_once(
    dcc_settings, dcc_signer, client, django_capture_on_commit_callbacks
):
    request = service_request_create(srv="7.6", target=HCALCS, index=2, duration_minutes=20)
    heard: list[tuple] = []
    alert = dcc_signer.sign(
        documents.build_dcc_alert(alert_code="N12", failed_request_id=request.request_id, device=HCALCS)
    )
    with (
        handlers_replaced(responses={"7.6": lambda sr, result: heard.append((sr.state, result))}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        first = _post(client, alert)
        again = _post(client, alert)
    assert [(r.status_code, r.content) for r in (first, again)] == [(200, b"applied\n"), (200, b"duplicate\n")]
    request.refresh_from_db()
    assert (request.state, request.response_code) == (State.FAILED, "N12")
    assert "N12" in request.error
    assert heard == [(State.FAILED, {"status": "failure", "detail": {"reason": request.error}})]
    assert list(InboundDocument.objects.order_by("pk").values_list("kind", "outcome")) == [
        ("dcc_alert", "applied"),
        ("dcc_alert", "duplicate"),
    ]


@pytest.mark.django_db
def test_other_dcc_alerts_are_verified_kept_and_logged_not_refused(dcc_settings, simulator, dcc_signer, client):
    root = documents.build_dcc_alert(alert_code="N12", failed_request_id=f"{ORIGINATOR}:{HCALCS}:1", device=HCALCS)
    reply = _post(client, dcc_signer.sign(root))
    assert (reply.status_code, reply.content) == (200, b"logged\n")
    [kept] = InboundDocument.objects.all()
    assert (kept.kind, kept.code, kept.outcome, kept.detail) == ("dcc_alert", "N12", "logged", "CommandFailure")


@pytest.mark.django_db
def test_boost_alert_reaches_the_alert_hook(
    dcc_settings, simulator, dcc_signer, client, django_capture_on_commit_callbacks
):
    heard: list[tuple] = []

    def listener(alert):
        heard.append((alert.target_eui64, alert.alert_code, alert.response_id, alert.detail))

    device = simulator.devices.get(HCALCS)
    pressed = time.time()
    payload = device_gbcs.boost_alert(device=device, user=simulator.users[ORIGINATOR], now=pressed)
    alert = dcc_signer.sign(
        documents.build_response(
            request_id=None,
            response_id=f"{HCALCS}:{ORIGINATOR}:1",
            response_code="I0",
            alert_code=BOOST_ALERT_CODE,
            gbcs_payload=payload,
        )
    )
    with handlers_replaced(alerts={BOOST_ALERT_CODE: listener}), django_capture_on_commit_callbacks(execute=True):
        reply = _post(client, alert)
    assert (reply.status_code, reply.content) == (200, b"alert\n")
    when = dt.datetime.fromtimestamp(pressed, dt.UTC)
    when = when.replace(microsecond=when.microsecond // 10_000 * 10_000).isoformat()  # GBCS: 1/100 s
    detail = {"alert_code": "8161", "boost_pressed": True, "pressed_at": when}
    assert heard == [(HCALCS, BOOST_ALERT_CODE, f"{HCALCS}:{ORIGINATOR}:1", detail)]
