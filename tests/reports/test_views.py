"""The Reports page, the reports API and export jobs (queued, run as the worker would)."""

import io
import json
import zipfile

import openpyxl
import pytest
from django.contrib.auth.models import User

from core.models import AuditEntry
from reports.services import report_export_run
from reports.tasks import report_export_task
from tests.consent.factories import eligible_charger
from tests.reports.factories import curtail, event_with, utc


@pytest.fixture
def june_history(db):
    charger = eligible_charger()
    feeder = charger.meter.premise.feeder
    curtail(event_with(feeder=feeder, start=utc(2026, 6, 3, 17, 0)), charger, minutes=45)
    curtail(event_with(feeder=feeder, start=utc(2026, 6, 9, 17, 0)), charger, minutes=30)
    return charger.meter.mpans.get().core


@pytest.fixture
def nobody_client(client, db):
    """Logged in, but in no role: no export permission."""
    client.force_login(User.objects.create_user("nobody", password="x-correct-horse"))
    return client


def test_reports_page_shows_the_summary_and_charts(viewer_client, june_history):
    response = viewer_client.get("/reports/", {"kind": "month", "month": "2026-06"})

    assert response.status_code == 200
    assert response.context["summary"]["events"] == 2
    assert response.context["summary"]["mpans_affected"] == 1
    body = response.content.decode()
    assert june_history in body
    assert 'id="figure-durations"' in body
    assert "June 2026" in body
    assert 'name="format" value="xlsx"' in body


def test_reports_page_defaults_to_the_current_regulatory_year(viewer_client, db):
    response = viewer_client.get("/reports/")

    assert response.status_code == 200
    assert response.context["period"].kind == "regulatory_year"


def test_reports_page_bad_period_is_a_400_naming_the_problem(viewer_client, db):
    response = viewer_client.get("/reports/", {"kind": "custom", "start": "2026-06-30", "end": "2026-06-01"})

    assert response.status_code == 400
    assert "end date 2026-06-01 is before start date 2026-06-30" in response.content.decode()


def test_reports_page_needs_login(client, db):
    response = client.get("/reports/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_api_summary_returns_the_report_without_event_rows(viewer_client, june_history):
    response = viewer_client.get("/api/v1/reports/summary", {"month": "2026-06"})

    assert response.status_code == 200
    body = response.json()
    assert body["summary"]["charger_minutes"] == 75
    assert body["worst_by_total"][0]["mpan"] == june_history
    assert body["worst_by_total"][0]["curtailed_minutes"] == 75
    assert body["duration_buckets"][3] == {
        "bucket": "60-120 min",
        "min_minutes": 60.0,
        "max_minutes": 120.0,
        "events": 2,
    }
    assert body["period"]["start_utc"] == "2026-05-31T23:00:00Z"


def test_api_summary_rejects_an_ambiguous_period(viewer_client, db):
    response = viewer_client.get("/api/v1/reports/summary", {"month": "2026-06", "regulatory_year": "2026"})

    assert response.status_code == 400
    assert "give exactly one" in response.json()["error"]


def test_api_needs_login_with_a_json_401(client, db):
    response = client.get("/api/v1/reports/summary", {"month": "2026-06"})

    assert response.status_code == 401
    assert response.json() == {"error": "authentication required"}


def test_export_without_permission_is_forbidden_and_not_recorded(nobody_client, june_history):
    api = nobody_client.post(
        "/api/v1/reports/exports/", {"format": "csv", "month": "2026-06"}, content_type="application/json"
    )
    page = nobody_client.post("/reports/exports/", {"kind": "month", "month": "2026-06", "format": "csv"})

    assert api.status_code == 403
    assert page.status_code == 403
    assert not AuditEntry.objects.filter(action__startswith="report.").exists()


def test_export_with_bad_format_or_period_is_a_400(viewer_client, db):
    bad_format = viewer_client.post(
        "/api/v1/reports/exports/", {"format": "pdf", "month": "2026-06"}, content_type="application/json"
    )
    bad_period = viewer_client.post(
        "/api/v1/reports/exports/", {"format": "csv", "month": "June"}, content_type="application/json"
    )
    not_json = viewer_client.post("/api/v1/reports/exports/", "month=2026-06", content_type="application/json")

    assert bad_format.status_code == 400
    assert "format must be one of csv, xlsx, json" in bad_format.json()["error"]
    assert bad_period.status_code == 400
    assert "month must look like 2026-10" in bad_period.json()["error"]
    assert not_json.status_code == 400
    assert not AuditEntry.objects.filter(action__startswith="report.").exists()


def test_export_is_queued_generated_and_downloaded_with_an_audit_trail(
    viewer_client, viewer, june_history, reports_dir, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = viewer_client.post(
            "/api/v1/reports/exports/", {"format": "xlsx", "month": "2026-06"}, content_type="application/json"
        )
    assert created.status_code == 202
    job = created.json()
    assert job["state"] == "queued"
    assert job["download_url"] is None
    assert len(callbacks) == 1  # the task is queued only once the request commits

    report_export_task.apply(args=[job["id"]])  # what the worker does with the message

    status = viewer_client.get(f"/api/v1/reports/exports/{job['id']}/").json()
    assert status["state"] == "done"
    assert status["progress"] == 1.0
    assert status["rows"]["events"] == 2
    download = viewer_client.get(f"/api/v1/reports/exports/{job['id']}/download")
    assert download.status_code == 200
    assert 'filename="ofgem-curtailment-2026-06-01-to-2026-06-30.xlsx"' in download["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content)), read_only=True)
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=2, max_row=27, values_only=True)}
    assert summary["mpans_affected"] == 1
    actions = list(
        AuditEntry.objects.filter(action__startswith="report.").order_by("id").values_list("action", "actor")
    )
    assert actions == [
        ("report.export_requested", viewer.username),
        ("report.export_generated", "rule:report-export"),
        ("report.export_downloaded", viewer.username),
    ]


def test_export_run_twice_generates_once(viewer, june_history, reports_dir, django_capture_on_commit_callbacks):
    from reports.periods import period_month
    from reports.services import report_export_request

    with django_capture_on_commit_callbacks(execute=False):
        job = report_export_request(user=viewer, period=period_month(2026, 6), fmt="csv")

    report_export_run(export_id=job["id"])
    again = report_export_run(export_id=job["id"])

    assert again["state"] == "done"
    assert AuditEntry.objects.filter(action="report.export_generated").count() == 1
    with zipfile.ZipFile(reports_dir / f"{job['id']}.zip") as archive:
        assert "events.csv" in archive.namelist()


def test_another_users_export_is_not_found(
    viewer_client, operator, june_history, reports_dir, django_capture_on_commit_callbacks
):
    from reports.periods import period_month
    from reports.services import report_export_request

    with django_capture_on_commit_callbacks(execute=False):
        job = report_export_request(user=operator, period=period_month(2026, 6), fmt="json")
    report_export_run(export_id=job["id"])

    assert viewer_client.get(f"/api/v1/reports/exports/{job['id']}/").status_code == 404
    assert viewer_client.get(f"/api/v1/reports/exports/{job['id']}/download").status_code == 404


def test_download_before_done_is_a_409(viewer_client, viewer, june_history, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        job = viewer_client.post(
            "/api/v1/reports/exports/", {"format": "json", "regulatory_year": 2026}, content_type="application/json"
        ).json()

    response = viewer_client.get(f"/api/v1/reports/exports/{job['id']}/download")

    assert response.status_code == 409
    assert "queued" in response.json()["error"]


def test_page_download_button_queues_an_export_and_shows_its_progress(
    viewer_client, june_history, reports_dir, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = viewer_client.post("/reports/exports/", {"kind": "month", "month": "2026-06", "format": "json"})

    assert response.status_code == 302
    assert len(callbacks) == 1
    page = viewer_client.get(response["Location"])
    assert page.status_code == 200
    export_id = page.context["export_id"]
    assert f"/api/v1/reports/exports/{export_id}/" in page.content.decode()
    report_export_run(export_id=export_id)
    report = json.loads(b"".join(viewer_client.get(f"/api/v1/reports/exports/{export_id}/download").streaming_content))
    assert report["summary"]["events"] == 2


def test_reports_page_lists_breaches_in_london_time(viewer_client, db):
    charger = eligible_charger()
    feeder = charger.meter.premise.feeder
    # 29 March 2026: 00:30 GMT, then (after 01:00 GMT -> 02:00 BST) 10:00 and 20:00 UTC.
    for hour in (0, 10, 20):
        curtail(event_with(feeder=feeder, start=utc(2026, 3, 29, hour, 30), minutes=50), charger, minutes=50)

    response = viewer_client.get("/reports/", {"kind": "month", "month": "2026-03"})

    (breach,) = response.context["breaches"]
    assert breach["limit"] == "24h"
    assert breach["minutes"] == 150
    # The worst 24 h ends with the last curtailment (21:20 UTC = 22:20 BST on the 29th), so it
    # starts at 21:20 UTC on the 28th: still winter time, shown as GMT, not shifted by an hour.
    assert breach["window_start"] == "2026-03-28 21:20:00 GMT"
    assert breach["window_start"] in response.content.decode()
