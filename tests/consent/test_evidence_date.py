"""Consent evidence is of consent already given: a date after today (Europe/London) is
refused with an error naming ``evidence_date``, by the API, the premise page's form and the
service behind both, and nothing is changed."""

import datetime as dt
import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from consent import services
from consent.choices import ConsentStatus
from consent.models import ConsentChange
from tests.consent.factories import ConsentFactory
from tests.consent.test_api import _token

pytestmark = pytest.mark.django_db


def _pending():
    return ConsentFactory(status=ConsentStatus.PENDING, evidence_channel="", evidence_date=None)


def _unchanged(consent) -> bool:
    consent.refresh_from_db()
    return consent.status == ConsentStatus.PENDING and not ConsentChange.objects.filter(consent=consent).exists()


def _tomorrow() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=1)


@pytest.mark.parametrize("future", [_tomorrow, lambda: dt.date(2099, 1, 1)])
def test_the_api_refuses_an_evidence_date_in_the_future_naming_the_field(client, operator, future):
    consent = _pending()
    body = {"evidence_channel": "web", "evidence_date": future().isoformat(), "reason": "web form"}

    reply = client.post(
        f"/api/v1/consent/premises/{consent.tenancy.premise.reference}/consent/grant/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {_token(operator)}",
    )

    assert reply.status_code == 400
    assert reply["Content-Type"] == "application/json"
    assert "is in the future" in reply.json()["fields"]["evidence_date"][0]
    assert _unchanged(consent)


def test_the_api_accepts_evidence_dated_today(client, operator):
    consent = _pending()
    body = {"evidence_channel": "web", "evidence_date": timezone.localdate().isoformat(), "reason": "web form"}

    reply = client.post(
        f"/api/v1/consent/premises/{consent.tenancy.premise.reference}/consent/grant/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {_token(operator)}",
    )

    assert reply.status_code == 200, reply.content
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.GRANTED and consent.evidence_date == timezone.localdate()


def test_the_premise_page_refuses_a_future_evidence_date_on_the_field(operator_client):
    consent = _pending()
    form = {"evidence_channel": "phone", "evidence_date": "2099-01-01", "override_allowed": "on", "reason": "x"}

    reply = operator_client.post(f"/consent/premises/{consent.tenancy.premise_id}/consent/grant/", form)

    assert reply.status_code == 400
    assert "2099-01-01 is in the future" in reply.context["grant_form"].errors["evidence_date"][0]
    assert _unchanged(consent)


def test_the_premise_page_offers_no_day_after_today(operator_client):
    consent = _pending()

    page = operator_client.get(f"/consent/premises/{consent.tenancy.premise_id}/")

    assert f'max="{timezone.localdate().isoformat()}"' in page.content.decode()


def test_the_premise_page_prefills_the_evidence_date_as_a_date_input_takes_it(operator_client):
    """An <input type=date> accepts only YYYY-MM-DD; today's date in the en-GB default format
    (DD/MM/YYYY) would be dropped by the browser and the field left empty."""
    consent = _pending()

    page = operator_client.get(f"/consent/premises/{consent.tenancy.premise_id}/").content.decode()

    field = re.search(r'<input type="date" name="evidence_date"[^>]*>', page)[0]
    assert f'value="{timezone.localdate().isoformat()}"' in field


def test_the_service_refuses_a_future_evidence_date(operator):
    consent = _pending()

    with pytest.raises(ValidationError) as refused:
        services.consent_grant(
            consent=consent,
            evidence_channel="letter",
            evidence_date=_tomorrow(),
            granted_by=operator,
            reason="signed form",
        )

    assert list(refused.value.message_dict) == ["evidence_date"]
    assert _unchanged(consent)
