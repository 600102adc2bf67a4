"""dnoctl's OpenADR 3 VTN (curtailment.openadr.api) through Django's test client, with the
VTN process's URLconf. Every reply is checked against the VTN's own OpenAPI schema, and the
objects a VEN reads are parsed with toadr3's models of the specification (an independent
client library: what it cannot read, a real VEN would not either)."""

from __future__ import annotations

import datetime as dt
import json
from functools import cache

import pytest
import toadr3.models
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from openapi_core import OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIResponse

from core.models import AuditEntry
from curtailment.models import AspCallOff, AspReport
from curtailment.openadr.api import vtn
from curtailment.services import curtailment_event_cancel, curtailment_event_start
from tests.api.conformance import RequestOfReply
from tests.consent.factories import eligible_charger
from tests.curtailment.asp_factories import asp_contract, asp_ven, delivery_report
from tests.feeders.factories import FeederFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("curtailment.openadr.urls")]

BASE = "/openadr3/3.0.1"


@cache
def schema() -> OpenAPI:
    return OpenAPI.from_dict(json.loads(json.dumps(vtn.get_openapi_schema(path_prefix=f"{BASE}/"))))


def checked(response):
    """The reply, once the VTN's schema has described it."""
    schema().validate_response(RequestOfReply(response.wsgi_request), DjangoOpenAPIResponse(response))
    return response


class Ven:
    """A VEN's view of the VTN: its token and its requests."""

    def __init__(self, client, ven, secret):
        self.client, self.ven, self.secret = client, ven, secret
        reply = checked(self.client.post(f"{BASE}/auth/token", self.credentials()))
        assert reply.status_code == 200, reply.content
        self.token = reply.json()["access_token"]

    def credentials(self, **changes) -> dict:
        return {
            "grant_type": "client_credentials",
            "client_id": self.ven.client_id,
            "client_secret": self.secret,
            "scope": "read_all write_reports",
            **changes,
        }

    def get(self, path: str, **params):
        return checked(self.client.get(f"{BASE}/{path}", params, HTTP_AUTHORIZATION=f"Bearer {self.token}"))

    def post(self, path: str, body: dict):
        return checked(
            self.client.post(
                f"{BASE}/{path}",
                json.dumps(body),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {self.token}",
            )
        )


@pytest.fixture
def called_off(client, operator):
    """An event whose 12 kW are called off from one provider; the provider's VEN."""
    feeder = FeederFactory()
    eligible_charger(feeder=feeder)
    ven, secret = asp_ven()
    asp_contract(feeders=[feeder], available_kw=20, ven=ven)
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=12, duration_minutes=30, reason="t", requested_by=operator
    )
    return event, AspCallOff.objects.get(event=event), Ven(client, ven, secret)


def test_a_ven_sees_its_calloff_as_an_openadr_event_and_the_first_fetch_is_audited(called_off):
    event, calloff, ven = called_off
    reply = ven.get("events")
    assert reply.status_code == 200
    (parsed,) = [toadr3.models.Event.model_validate(item) for item in reply.json()]
    assert parsed.id == f"calloff-{calloff.pk}" and parsed.program_id == f"contract-{calloff.contract_id}"
    (payload,) = parsed.intervals[0].payloads
    assert (payload.type, payload.values) == ("DISPATCH_SETPOINT_RELATIVE", [-12.0])
    # In whole seconds; the interval covers the event to its planned end.
    assert dt.timedelta(0) <= calloff.called_at - parsed.interval_period.start < dt.timedelta(seconds=1)
    assert parsed.interval_period.start + parsed.interval_period.duration >= event.planned_end_at
    assert {t.type: t.values for t in parsed.targets} == {
        "VEN_NAME": [ven.ven.ven_name],
        "POWER_SERVICE_LOCATION": [event.feeder.code],
    }
    assert parsed.report_descriptors[0].payload_type == "DELTA_USAGE" and parsed.report_descriptors[0].units == "KW"
    ven.get("events")
    calloff.refresh_from_db()
    assert calloff.seen_at is not None
    assert AuditEntry.objects.filter(action="asp.seen").count() == 1


def test_a_ven_sees_its_programme(called_off):
    _event, calloff, ven = called_off
    (program,) = [toadr3.models.Program.model_validate(item) for item in ven.get("programs").json()]
    assert program.program_name == calloff.contract.reference
    assert ven.get(f"programs/{program.id}").json()["programName"] == calloff.contract.reference


def test_a_report_is_taken_credited_and_read_back(called_off):
    _event, calloff, ven = called_off
    reply = ven.post("reports", delivery_report(calloff, kw=12))
    assert reply.status_code == 201, reply.content
    stored = toadr3.models.Report.model_validate(reply.json())
    assert stored.event_id == f"calloff-{calloff.pk}" and stored.id.startswith("report-")
    calloff.refresh_from_db()
    assert calloff.confirmed_kw == 12 and calloff.reported_at is not None
    assert [r["id"] for r in ven.get("reports", eventID=f"calloff-{calloff.pk}").json()] == [stored.id]
    assert ven.get(f"reports/{stored.id}").json()["resources"][0]["resourceName"] == "AGGREGATED_REPORT"


def test_the_stand_in_vens_own_report_is_accepted(called_off):
    from curtailment.openadr.ven import delivery_report as ven_report

    _event, calloff, ven = called_off
    event = toadr3.models.Event.model_validate(ven.get("events").json()[0])
    report = ven_report(event=event, ven_name=ven.ven.ven_name, kw=6, sequence=0, now=timezone.now())
    reply = ven.post("reports", json.loads(report.as_json()))
    assert reply.status_code == 201, reply.content
    calloff.refresh_from_db()
    assert calloff.confirmed_kw == 6


@pytest.mark.parametrize(
    ("body_change", "words"),
    [
        ({"resources": []}, "resources"),
        ({"eventID": "calloff 1"}, "eventID"),
        ({"programID": None}, "programID"),
    ],
)
def test_a_malformed_report_is_refused_naming_the_field_and_nothing_is_stored(called_off, body_change, words):
    _event, calloff, ven = called_off
    reply = ven.post("reports", {**delivery_report(calloff, kw=12), **body_change})
    assert reply.status_code == 400
    assert words in reply.json()["detail"]
    assert not AspReport.objects.exists()


def test_a_ven_cannot_see_or_report_on_another_providers_calloffs(called_off, client):
    _event, calloff, _ven = called_off
    other_ven, secret = asp_ven()
    other = Ven(client, other_ven, secret)
    assert other.get("events").json() == []
    assert other.get(f"events/calloff-{calloff.pk}").status_code == 404
    assert other.get(f"programs/contract-{calloff.contract_id}").status_code == 404
    reply = other.post("reports", delivery_report(calloff, kw=12, client_name=other_ven.ven_name))
    assert reply.status_code == 404
    assert not AspReport.objects.exists()


def test_a_released_calloff_leaves_the_list_and_its_interval_ends_at_the_release(called_off, operator):
    event, calloff, ven = called_off
    curtailment_event_cancel(event=event, reason="load fell", cancelled_by=operator)
    calloff.refresh_from_db()
    assert ven.get("events").json() == []
    parsed = toadr3.models.Event.model_validate(ven.get(f"events/calloff-{calloff.pk}").json())
    assert parsed.interval_period.start + parsed.interval_period.duration >= calloff.released_at
    assert parsed.interval_period.duration < dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"client_secret": "wrong"}, "invalid_client"),
        ({"client_id": "nobody"}, "invalid_client"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"scope": "write_events"}, "invalid_scope"),
        ({"client_secret": ""}, "invalid_request"),
    ],
)
def test_the_token_exchange_refuses_bad_credentials(called_off, client, changes, error):
    _event, _calloff, ven = called_off
    reply = checked(client.post(f"{BASE}/auth/token", ven.credentials(**changes)))
    assert reply.status_code == 400 and reply.json()["error"] == error


def test_requests_without_a_valid_token_are_refused(called_off, client):
    _event, _calloff, ven = called_off
    assert checked(client.get(f"{BASE}/events")).status_code == 401
    assert checked(client.get(f"{BASE}/events", HTTP_AUTHORIZATION="Bearer forged")).status_code == 401
    ven.ven.active = False
    ven.ven.save()
    reply = ven.get("events")
    assert reply.status_code == 401 and reply["WWW-Authenticate"] == "Bearer"


def test_a_token_lapses_after_its_lifetime(called_off):
    _event, _calloff, ven = called_off
    with override_settings(OPENADR={**settings.OPENADR, "TOKEN_TTL_S": -1}):
        assert ven.get("events").status_code == 401


def test_a_read_only_token_cannot_report(called_off, client):
    _event, calloff, ven = called_off
    reply = checked(client.post(f"{BASE}/auth/token", ven.credentials(scope="read_all")))
    ven.token = reply.json()["access_token"]
    refused = ven.post("reports", delivery_report(calloff, kw=12))
    assert refused.status_code == 403 and "write_reports" in refused.json()["detail"]


def test_the_dashboard_is_not_served_by_the_vtn_process(client):
    for path in ("/", "/admin/", "/feeders/"):
        reply = client.get(path)
        assert reply.status_code == 404 and reply.json()["status"] == 404
    assert client.get("/healthz/vtn").status_code == 200
