"""Consent screens: permissions, personal data, forms, uploads, the premise page."""

import datetime as dt
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from consent import views
from consent.choices import ConsentStatus, NotificationStatus
from consent.models import Consent, HalfHourlyConsumption, Notification, Premise, Tenancy
from tests.consent.factories import ConsentFactory, eligible_charger
from tests.consent.registers import register_rows, register_write

pytestmark = pytest.mark.django_db


def _charger_with_named_customer():
    charger = eligible_charger()
    customer = Tenancy.objects.get(premise=charger.meter.premise).customer
    customer.name, customer.email, customer.external_ref = "Grace Hopper", "grace@example.org", "CRM-00412"
    customer.save()
    return charger, customer


def test_viewer_sees_a_masked_customer_reference_not_personal_data(viewer_client):
    charger, customer = _charger_with_named_customer()
    page = viewer_client.get(f"/consent/premises/{charger.meter.premise_id}/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Grace Hopper" not in text and "grace@example.org" not in text and "CRM-00412" not in text
    assert f"•••412 (#{customer.pk})" in text
    assert "Grant consent" not in text  # no controls for viewers


def test_operator_sees_name_and_contact_details(operator_client):
    charger, _ = _charger_with_named_customer()
    text = operator_client.get(f"/consent/premises/{charger.meter.premise_id}/").content.decode()
    assert "Grace Hopper" in text and "grace@example.org" in text
    assert "Grant consent" in text


def test_viewer_cannot_change_consent(viewer_client):
    charger = eligible_charger()
    reply = viewer_client.post(f"/consent/premises/{charger.meter.premise_id}/consent/withdraw/", {"reason": "test"})
    assert reply.status_code == 403
    assert Consent.objects.get(tenancy__premise_id=charger.meter.premise_id).status == ConsentStatus.GRANTED


def test_consent_forms_need_the_csrf_token(operator):
    charger = eligible_charger()
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    reply = client.post(f"/consent/premises/{charger.meter.premise_id}/consent/withdraw/", {"reason": "test"})
    assert reply.status_code == 403


def test_operator_grants_consent_from_the_premise_page(operator_client):
    consent = ConsentFactory(status=ConsentStatus.PENDING, evidence_channel="", evidence_date=None)
    url = f"/consent/premises/{consent.tenancy.premise_id}/consent/grant/"
    form = {"evidence_channel": "phone", "evidence_date": "2026-11-20", "override_allowed": "on", "reason": "called us"}
    reply = operator_client.post(url, form)
    assert reply.status_code == 302
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.GRANTED and consent.evidence_channel == "phone"
    page = operator_client.get(reply.url).content.decode()
    assert "pending → granted" in page and "called us" in page


def test_bad_form_is_refused_with_the_reason(operator_client):
    consent = ConsentFactory(status=ConsentStatus.PENDING, evidence_channel="", evidence_date=None)
    reply = operator_client.post(
        f"/consent/premises/{consent.tenancy.premise_id}/consent/grant/", {"evidence_channel": "phone"}
    )
    assert reply.status_code == 400
    assert "This field is required" in reply.content.decode()
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.PENDING


def test_change_of_tenancy_from_the_screen_fills_the_awaiting_queue(operator_client):
    charger = eligible_charger()
    premise = charger.meter.premise
    moved_in = timezone.localtime() - dt.timedelta(hours=1)
    reply = operator_client.post(
        f"/consent/premises/{premise.pk}/tenancy/",
        {
            "name": "Alan Newcomer",
            "email": "alan@example.org",
            "at": moved_in.strftime("%Y-%m-%dT%H:%M"),
            "notification_channel": "email",
            "notification_frequency": "each_event",
            "reason": "letting agent told us",
        },
    )
    assert reply.status_code == 302, reply.content.decode()[:2000]
    assert Tenancy.objects.get(premise=premise, end__isnull=True).customer.name == "Alan Newcomer"
    queue = operator_client.get("/consent/awaiting/").content.decode()
    assert premise.reference in queue and "Alan Newcomer" in queue


def test_register_search_finds_a_premise_by_mpan(viewer_client):
    charger = eligible_charger()
    core = charger.meter.mpans.get().core
    eligible_charger()
    page = viewer_client.get("/consent/", {"q": core}).content.decode()
    assert charger.meter.premise.reference in page
    assert page.count("/consent/premises/") == 1


def test_premise_page_chart_uses_london_wall_clock(viewer_client):
    charger = eligible_charger()
    mpan = charger.meter.mpans.get()
    start = (timezone.now() - dt.timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    HalfHourlyConsumption.objects.create(mpan=mpan, period_start=start, kwh=3.0)
    text = viewer_client.get(f"/consent/premises/{charger.meter.premise_id}/").content.decode()
    figure = json.loads(re.search(r'<script id="profile-figure" type="application/json">(.*?)</script>', text).group(1))
    [trace] = figure["data"]
    assert trace["y"] == [6.0]
    assert trace["x"] == [timezone.localtime(start).strftime("%Y-%m-%d %H:%M:%S")]


def test_import_upload_small_file_reports_counts_and_errors(engineer_client, tmp_path):
    good = register_write(tmp_path / "good.csv", register_rows(3))
    reply = engineer_client.post("/consent/import/", {"file": SimpleUploadedFile("good.csv", good.read_bytes())})
    assert reply.status_code == 200
    assert "Imported · 3 rows" in reply.content.decode()
    assert Premise.objects.count() == 3

    rows = list(register_rows(5))
    rows[4]["postcode"] = "nowhere"
    bad = register_write(tmp_path / "bad.csv", rows)
    reply = engineer_client.post("/consent/import/", {"file": SimpleUploadedFile("bad.csv", bad.read_bytes())})
    text = reply.content.decode()
    assert reply.status_code == 400
    assert "Nothing was written: 1 error" in text and '<td class="num">6</td>' in text
    assert Premise.objects.count() == 3


def test_import_needs_the_import_permission(operator_client, tmp_path):
    path = register_write(tmp_path / "r.csv", register_rows(1))
    reply = operator_client.post("/consent/import/", {"file": SimpleUploadedFile("r.csv", path.read_bytes())})
    assert reply.status_code == 403
    assert not Premise.objects.exists()


def test_large_import_runs_in_a_task_with_progress(
    engineer_client, tmp_path, monkeypatch, celery_eager, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(views, "INLINE_IMPORT_MAX_BYTES", 100)
    monkeypatch.setattr(views, "IMPORT_DIR", tmp_path / "imports")
    path = register_write(tmp_path / "r.csv", register_rows(30))
    with django_capture_on_commit_callbacks(execute=True):
        reply = engineer_client.post("/consent/import/", {"file": SimpleUploadedFile("r.csv", path.read_bytes())})
    assert reply.status_code == 302
    job_id = reply.url.rstrip("/").rsplit("/", 1)[-1]
    progress = engineer_client.get(f"/api/v1/consent/imports/{job_id}/").json()
    assert (progress["phase"], progress["percent"]) == ("done", 100)
    assert progress["report"]["counts"]["premises"]["created"] == 30
    assert "Imported · 30 rows" in engineer_client.get(reply.url).content.decode()
    assert not list((tmp_path / "imports").iterdir())  # the upload is deleted afterwards


def test_failed_notices_page_lists_gave_up_and_retry_requeues(operator_client, django_capture_on_commit_callbacks):
    charger = eligible_charger()
    customer = Tenancy.objects.get(premise=charger.meter.premise).customer
    notice = Notification.objects.create(
        customer=customer,
        premise=charger.meter.premise,
        kind="event",
        channel="email",
        subject="s",
        body="b",
        status=NotificationStatus.GAVE_UP,
        attempts=6,
        last_error="mail server refused",
        due_at=timezone.now(),
    )
    page = operator_client.get("/consent/notifications/failed/").content.decode()
    assert "mail server refused" in page and "Retry" in page
    with django_capture_on_commit_callbacks() as callbacks:
        operator_client.post(f"/consent/notifications/{notice.pk}/retry/")
    notice.refresh_from_db()
    assert notice.status == NotificationStatus.PENDING and len(callbacks) == 1


def test_tenancy_feed_upload_reports_errors(operator_client):
    premise = eligible_charger().meter.premise
    feed = f"premise_reference,name,reason\n{premise.reference},Someone,moved\nNOPE,Other,moved\n".encode()
    reply = operator_client.post("/consent/tenancy-feed/", {"file": SimpleUploadedFile("feed.csv", feed)})
    assert reply.status_code == 400
    assert "no premise &#x27;NOPE&#x27;" in reply.content.decode()
    assert Tenancy.objects.filter(premise=premise).count() == 1


def test_operator_sends_the_consent_request_again_from_the_queue(operator_client, viewer):
    consent = ConsentFactory(status=ConsentStatus.PENDING, evidence_channel="", evidence_date=None)
    viewer_client = Client()
    viewer_client.force_login(viewer)
    assert viewer_client.post(f"/consent/consents/{consent.pk}/resend-request/").status_code == 403
    reply = operator_client.post(f"/consent/consents/{consent.pk}/resend-request/")
    assert reply.status_code == 302
    assert Notification.objects.filter(customer=consent.tenancy.customer, kind="consent_request").count() == 1
    granted = ConsentFactory()
    operator_client.post(f"/consent/consents/{granted.pk}/resend-request/")
    assert not Notification.objects.filter(customer=granted.tenancy.customer).exists()
