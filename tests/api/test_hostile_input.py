"""Input the schemathesis run found mishandled (or that sits beside what it found): JSON
nested deeper than the parser goes, integers too long to convert, text PostgreSQL cannot
store (NUL, unpaired surrogates) and impossible dates answered 500; objects where the
schema says text were stored as their Python spelling. Each is now a 4xx naming the
problem, and nothing is stored."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from consent.choices import ConsentStatus
from consent.models import ConsentChange, Tenancy
from feeders.models import FeederAlert, FeederReading
from feeders.services import monitor_token_issue
from tests.consent.factories import ConsentFactory, eligible_charger
from tests.feeders.conftest import ALERTS_URL, TELEMETRY_URL, minutes_ago, reading
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db

DEEP = b'{"readings": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
LONG_NUMBER = b'{"readings": [' + b"9" * 5000 + b"]}"
# JSON's own spellings: a NUL, and half of a surrogate pair.
NUL = "\\u0000"
SURROGATE = "\\ud800"


@pytest.fixture
def head_end_token() -> str:
    FeederFactory(code="FDR-A", rating_amps=400.0)
    return monitor_token_issue(name="hostile-head-end")


@pytest.fixture
def consent_token(operator) -> str:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("consent_api_token", "hostile", user=operator.username, stdout=out)
    return out.getvalue().strip()


def _post(url: str, raw: bytes, token: str, client: Client | None = None, content_type="application/json"):
    client = client or Client()
    return client.post(url, data=raw, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token}")


# --- telemetry and alerts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [(DEEP, "nested too deeply"), (LONG_NUMBER, "4300 digits"), (b"[" * 2000 + b"]" * 2000, "nested too deeply")],
)
def test_telemetry_too_deep_or_too_long_for_the_parser_is_a_400(head_end_token, raw, reason_part):
    response = _post(TELEMETRY_URL, raw, head_end_token)

    assert response.status_code == 400
    assert reason_part in response.json()["errors"][0]["reason"]
    assert FeederReading.objects.count() == 0


def test_telemetry_with_an_unpaired_surrogate_is_a_400_naming_where(head_end_token):
    row = json.dumps(reading("FDR-A", minutes_ago(1), 100.0)).replace('"FDR-A"', f'"FDR{SURROGATE}A"')
    response = _post(TELEMETRY_URL, f'{{"readings": [{row}]}}'.encode(), head_end_token)

    assert response.status_code == 400
    assert "readings[0].feeder" in response.json()["errors"][0]["reason"]
    assert FeederReading.objects.count() == 0


@pytest.mark.parametrize(("field", "text"), [("reason", f"trip{NUL}"), ("feeder", f"FDR{NUL}A"), ("reason", SURROGATE)])
def test_an_alert_with_unstorable_text_is_a_400_naming_the_field(head_end_token, field, text):
    body = {"feeder": "FDR-A", "raised_at": minutes_ago(1).isoformat(), "reason": "scada", field: "PLACEHOLDER"}
    raw = json.dumps(body).replace('"PLACEHOLDER"', f'"{text}"').encode()

    response = _post(ALERTS_URL, raw, head_end_token)

    assert response.status_code == 400
    # NUL is valid JSON, checked with the fields; a surrogate fails the parse, which names where
    errors = response.json()["errors"]
    assert any(error["field"] == field or f": {field} must not" in error["reason"] for error in errors), errors
    assert FeederAlert.objects.count() == 0


# --- consent ---------------------------------------------------------------------------------


def _pending_premise():
    consent = ConsentFactory(status=ConsentStatus.PENDING, evidence_channel="", evidence_date=None)
    return consent.tenancy.premise.reference, consent


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"evidence_channel": "web", "evidence_date": "2024-13-01", "reason": "x"}', "evidence_date"),
        ('{"evidence_channel": "web", "evidence_date": "2026-02-30", "reason": "x"}', "evidence_date"),
        (f'{{"evidence_channel": "web", "evidence_date": "2026-11-20", "reason": "x{NUL}"}}', "reason"),
        (f'{{"evidence_channel": "w{SURROGATE}", "evidence_date": "2026-11-20", "reason": "x"}}', "evidence_channel"),
        (f'{{"evidence_channel": "web", "evidence_date": "2026-11-20", "reason": "x", "{NUL}": 1}}', "\x00"),
    ],
)
def test_a_consent_change_with_an_impossible_date_or_unstorable_text_is_a_400(consent_token, raw, field):
    reference, consent = _pending_premise()

    response = _post(f"/api/v1/consent/premises/{reference}/consent/grant/", raw.encode(), consent_token)

    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.PENDING
    assert not ConsentChange.objects.filter(consent=consent).exists()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("consent/grant/", {"evidence_channel": "web", "evidence_date": "2026-11-20", "reason": {}}, "reason"),
        ("consent/grant/", {"evidence_channel": 7, "evidence_date": "2026-11-20", "reason": "x"}, "evidence_channel"),
        ("consent/decline/", {"reason": "no", "evidence_reference": ["a"]}, "evidence_reference"),
        ("consent/preferences/", {"reason": "x", "notification_frequency": False}, "notification_frequency"),
        ("tenancy/", {"customer": {"name": {"first": "Ada"}}, "reason": "moved in"}, "customer.name"),
    ],
)
def test_a_consent_field_of_the_wrong_type_is_a_400_naming_it(consent_token, path, body, field):
    reference, consent = _pending_premise()

    response = _post(f"/api/v1/consent/premises/{reference}/{path}", json.dumps(body).encode(), consent_token)

    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.PENDING
    assert not ConsentChange.objects.filter(consent=consent).exists()


def test_a_consent_body_too_deep_for_the_parser_is_a_400(consent_token):
    reference, _ = _pending_premise()
    raw = b'{"reason": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    response = _post(f"/api/v1/consent/premises/{reference}/consent/withdraw/", raw, consent_token)

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["fields"]["__all__"][0]


def test_a_change_of_tenancy_at_an_impossible_time_is_a_400(consent_token):
    premise = eligible_charger().meter.premise
    body = {"customer": {"name": "Ada"}, "reason": "moved in", "at": "2026-13-01T00:00:00Z"}

    response = _post(f"/api/v1/consent/premises/{premise.reference}/tenancy/", json.dumps(body).encode(), consent_token)

    assert response.status_code == 400
    assert "at" in response.json()["fields"]
    assert Tenancy.objects.filter(premise=premise).count() == 1


def test_a_tenancy_feed_row_at_an_impossible_time_is_a_400_naming_the_row(consent_token):
    premise = eligible_charger().meter.premise
    feed = f"premise_reference,at,name,reason\n{premise.reference},2026-13-01T00:00:00Z,Ada,moved in\n"

    response = _post("/api/v1/consent/tenancy-feed/", feed.encode(), consent_token, content_type="text/csv")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": 2, "column": "at", "reason": "not an ISO 8601 date-time with its offset: '2026-13-01T00:00:00Z'"}
    ]
    assert Tenancy.objects.filter(premise=premise).count() == 1


@pytest.mark.parametrize("reference", ["NO-SUCH-PREMISE", "PR%00X"])
def test_an_unknown_premise_is_a_json_404(consent_token, reference):
    response = Client().get(f"/api/v1/consent/premises/{reference}/", HTTP_AUTHORIZATION=f"Bearer {consent_token}")

    assert response.status_code == 404
    assert response.json()["error"].startswith("no premise with reference")


# --- reports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [b'{"format": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", b'{"top_n": ' + b"7" * 5000 + b"}"]
)
def test_an_export_request_too_deep_or_too_long_for_the_parser_is_a_400(viewer_client, raw):
    response = viewer_client.post("/api/v1/reports/exports/", raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"error": "the body must be a JSON object"}


def test_an_export_period_of_the_wrong_type_is_a_400_naming_it(viewer_client):
    body = {"format": "csv", "month": "2026-10", "start": {}}

    response = viewer_client.post("/api/v1/reports/exports/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"error": "start must be a string or a whole number, got dict"}
