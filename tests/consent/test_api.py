"""The consent API for the DNO's customer systems: auth, CSRF, permissions, all-or-nothing."""

import json

import pytest
from django.core.management import call_command
from django.test import Client

from consent.choices import ConsentStatus
from consent.models import ConsentChange, Customer, HalfHourlyConsumption, Tenancy
from tests.consent.factories import ConsentFactory, CustomerFactory, MpanFactory, eligible_charger

pytestmark = pytest.mark.django_db


def _token(user, name="crm") -> str:
    from io import StringIO

    out = StringIO()
    call_command("consent_api_token", name, user=user.username, stdout=out)
    return out.getvalue().strip()


def _post(client, url, body, token=None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers, **extra)


def _premise_with_pending_consent():
    consent = ConsentFactory(status=ConsentStatus.PENDING, evidence_channel="", evidence_date=None)
    return consent.tenancy.premise, consent


def test_no_credentials_or_a_bad_token_is_401(client):
    premise, _ = _premise_with_pending_consent()
    assert client.get(f"/api/v1/consent/premises/{premise.reference}/").status_code == 401
    reply = client.get(f"/api/v1/consent/premises/{premise.reference}/", HTTP_AUTHORIZATION="Bearer nope")
    assert reply.status_code == 401
    assert reply.json()["error"] == "invalid or revoked API token"


def test_grant_with_a_token_needs_no_csrf_and_records_the_service_account(operator):
    premise, consent = _premise_with_pending_consent()
    token = _token(operator)
    client = Client(enforce_csrf_checks=True)
    reply = _post(
        client,
        f"/api/v1/consent/premises/{premise.reference}/consent/grant/",
        {"evidence_channel": "web", "evidence_date": "2026-11-20", "override_allowed": False, "reason": "web form"},
        token=token,
    )
    assert reply.status_code == 200, reply.content
    assert reply.json()["consent"]["status"] == "granted"
    assert ConsentChange.objects.get(consent=consent).changed_by == operator


def test_session_requests_must_carry_the_csrf_token(operator):
    premise, consent = _premise_with_pending_consent()
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    reply = _post(client, f"/api/v1/consent/premises/{premise.reference}/consent/decline/", {"reason": "no"})
    assert reply.status_code == 403
    assert "CSRF" in reply.json()["error"]
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.PENDING


def test_revoked_token_stops_working(operator):
    premise, _ = _premise_with_pending_consent()
    token = _token(operator)
    call_command("consent_api_token", "crm", revoke=True, stdout=open("/dev/null", "w"))  # noqa: SIM115
    reply = Client().get(f"/api/v1/consent/premises/{premise.reference}/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert reply.status_code == 401


def test_viewer_cannot_change_consent_and_sees_no_personal_data(viewer):
    premise, consent = _premise_with_pending_consent()
    token = _token(viewer)
    client = Client()
    reply = _post(client, f"/api/v1/consent/premises/{premise.reference}/consent/decline/", {"reason": "x"}, token)
    assert reply.status_code == 403
    detail = client.get(f"/api/v1/consent/premises/{premise.reference}/", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    customer = consent.tenancy.customer
    assert "name" not in detail["consent"]["customer"]
    assert customer.name not in json.dumps(detail) and customer.email not in json.dumps(detail)


def test_operator_sees_personal_data(operator):
    premise, consent = _premise_with_pending_consent()
    detail = (
        Client()
        .get(f"/api/v1/consent/premises/{premise.reference}/", HTTP_AUTHORIZATION=f"Bearer {_token(operator)}")
        .json()
    )
    assert detail["consent"]["customer"]["name"] == consent.tenancy.customer.name


def test_bad_input_is_400_naming_the_field_and_conflict_is_409(operator):
    premise, consent = _premise_with_pending_consent()
    token = _token(operator)
    url = f"/api/v1/consent/premises/{premise.reference}/consent/grant/"
    reply = _post(Client(), url, {"evidence_channel": "web", "evidence_date": "yesterday", "reason": "x"}, token)
    assert reply.status_code == 400
    assert "evidence_date" in reply.json()["fields"]
    reply = _post(Client(), f"/api/v1/consent/premises/{premise.reference}/consent/withdraw/", {"reason": "x"}, token)
    assert reply.status_code == 409
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.PENDING


def test_change_of_tenancy_through_the_api(operator):
    charger = eligible_charger()
    premise = charger.meter.premise
    reply = _post(
        Client(),
        f"/api/v1/consent/premises/{premise.reference}/tenancy/",
        {
            "customer": {"reference": "CRM-991", "name": "Ada Newcomer", "email": "ada@example.org"},
            "reason": "move-in notified by supplier",
            "notification_frequency": "daily_digest",
        },
        _token(operator),
    )
    assert reply.status_code == 201, reply.content
    body = reply.json()
    assert body["consent"]["status"] == "pending"
    assert body["consent"]["notification_frequency"] == "daily_digest"
    assert Tenancy.objects.get(premise=premise, end__isnull=True).customer.external_ref == "CRM-991"
    awaiting = Client().get("/api/v1/consent/awaiting-consent/", HTTP_AUTHORIZATION=f"Bearer {_token(operator, 'b')}")
    assert [a["premise"] for a in awaiting.json()["awaiting"]] == [premise.reference]


def test_tenancy_feed_is_all_or_nothing(operator):
    first, second = eligible_charger().meter.premise, eligible_charger().meter.premise
    token = _token(operator)
    feed = (
        "premise_reference,name,email,reason\n"
        f"{first.reference},New One,one@example.org,moved in\n"
        f"{second.reference},,two@example.org,moved in\n"
    )
    reply = Client().post(
        "/api/v1/consent/tenancy-feed/", data=feed, content_type="text/csv", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert reply.status_code == 400
    assert reply.json()["errors"] == [{"row": 3, "column": "name", "reason": "required"}]
    assert Tenancy.objects.count() == 2 and not Customer.objects.filter(name="New One").exists()

    good = feed.replace(",,two@", ",New Two,two@")
    reply = Client().post(
        "/api/v1/consent/tenancy-feed/", data=good, content_type="text/csv", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert reply.json() == {"ok": True, "changes": 2}
    assert Tenancy.objects.filter(end__isnull=True, consent__status=ConsentStatus.PENDING).count() == 2


def test_half_hours_json_and_csv(operator):
    mpan = MpanFactory()
    token = _token(operator)
    reading = {"mpan": mpan.core, "period_start": "2026-11-20T18:00:00Z", "kwh": 3.2}
    reply = _post(Client(), "/api/v1/consent/half-hours/", {"readings": [reading, reading]}, token)
    assert reply.status_code == 200 and reply.json()["created"] == 1
    csv_body = f"mpan,period_start,kwh\n{mpan.core},2026-11-20T18:00:00Z,3.2\n{mpan.core},2026-11-20T18:30:00Z,x\n"
    reply = Client().post(
        "/api/v1/consent/half-hours/", data=csv_body, content_type="text/csv", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert reply.status_code == 400
    assert reply.json()["errors"] == [{"index": 1, "field": "kwh", "reason": "not a number: 'x'"}]
    assert HalfHourlyConsumption.objects.count() == 1


def test_customer_records_made_by_api_keep_no_personal_data_in_audit(operator):
    charger = eligible_charger()
    _post(
        Client(),
        f"/api/v1/consent/premises/{charger.meter.premise.reference}/tenancy/",
        {"customer": {"name": "Private Person", "email": "private@example.org"}, "reason": "moved in"},
        _token(operator),
    )
    from core.models import AuditEntry

    dumped = json.dumps(list(AuditEntry.objects.values("reason", "inputs")))
    assert "Private Person" not in dumped and "private@example.org" not in dumped
    assert CustomerFactory._meta.model.objects.filter(name="Private Person").exists()
