"""Every failure under /api/ is JSON, whatever answers it: an address with no operation
(404), a wrong method (405, with ``Allow``), a body too large (413), a bug (500). Pages
keep their HTML error pages. The consent API takes bodies up to its own 20 MiB, past
Django's 2.5 MiB form limit, and refuses more with a 413 it documents."""

from __future__ import annotations

import json
import logging

import pytest
import requests
from django.test import Client

from consent.api import MAX_BODY_BYTES as CONSENT_MAX_BODY
from tests.api.test_hostile_input import consent_token, head_end_token  # noqa: F401  (fixtures)
from tests.feeders.conftest import ALERTS_URL

pytestmark = pytest.mark.django_db

DJANGO_FORM_LIMIT = 2_621_440  # settings.DATA_UPLOAD_MAX_MEMORY_SIZE, Django's default


def _error_text(response) -> str:
    assert response["Content-Type"] == "application/json", response.content[:200]
    body = response.json()
    assert list(body) == ["error"], body
    return body["error"]


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing/", "/api/v1/consent/nothing/", "/api/v2/telemetry/", "/api/", "/api/v1/reports/x/y/z"]
)
def test_an_api_address_with_no_operation_is_a_json_404(viewer_client, path):
    for client in (viewer_client, Client()):
        for method in ("get", "post"):
            response = getattr(client, method)(path)

            assert response.status_code == 404
            assert _error_text(response) == f"no such API address: {path}"


def test_a_page_address_with_nothing_there_keeps_the_html_404(viewer_client):
    response = viewer_client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/api/v1/telemetry/", "POST"),
        ("put", "/api/v1/consent/premises/X/", "GET"),
        ("delete", "/api/v1/reports/exports/", "POST"),
    ],
)
def test_a_wrong_method_is_a_json_405_with_allow(viewer_client, method, path, allowed):
    response = getattr(viewer_client, method)(path)

    assert response.status_code == 405
    assert response["Allow"] == allowed
    assert _error_text(response) == f"method {method.upper()} not allowed here; allowed: {allowed}"


def test_an_export_request_over_the_form_limit_is_a_json_413(viewer_client):
    body = json.dumps({"format": "csv", "month": "2026-10", "padding": "x" * DJANGO_FORM_LIMIT})

    response = viewer_client.post("/api/v1/reports/exports/", body, content_type="application/json")

    assert response.status_code == 413
    assert _error_text(response) == f"request body too large: at most {DJANGO_FORM_LIMIT} bytes"


def test_a_consent_body_over_its_limit_is_a_json_413(consent_token):  # noqa: F811
    body = b'{"reason": "' + b"x" * CONSENT_MAX_BODY + b'"}'

    response = Client().post(
        "/api/v1/consent/half-hours/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {consent_token}",
    )

    assert response.status_code == 413
    assert "request body larger than" in _error_text(response)


def test_a_consent_body_over_djangos_form_limit_but_within_its_own_is_read(consent_token):  # noqa: F811
    feed = "premise_reference,name,reason\n" + "NO-SUCH-PREMISE,Ada,moved in\n" * 100_000  # 3 MiB

    response = Client().post(
        "/api/v1/consent/tenancy-feed/",
        feed.encode(),
        content_type="text/csv",
        HTTP_AUTHORIZATION=f"Bearer {consent_token}",
    )

    assert response.status_code == 400
    assert response.json()["error"] == "the feed has errors; nothing was changed"


def test_an_alert_nested_too_deeply_for_the_parser_is_a_json_400(head_end_token):  # noqa: F811
    raw = b'{"reason": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    response = Client().post(
        ALERTS_URL, raw, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {head_end_token}"
    )

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["errors"][0]["reason"]


@pytest.mark.urls("tests.api.failing_urls")
def test_a_bug_behind_an_api_address_is_a_json_500_and_logged_once(caplog):
    client = Client(raise_request_exception=False)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/api/v1/failing/")

    assert response.status_code == 500
    assert _error_text(response) == "internal error: the request was logged"
    logged = [record for record in caplog.records if record.name == "django.request"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None  # the traceback is in the log, not in the reply


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_the_live_server_answers_api_failures_in_json(live_processes, consent_token, head_end_token):  # noqa: F811
    """The same through uvicorn (ASGI), where telemetry runs on the event loop and its
    parsing in a pool of threads."""
    web = live_processes.web_url
    consent = {"Authorization": f"Bearer {consent_token}", "Content-Type": "application/json"}
    monitor = {"Authorization": f"Bearer {head_end_token}", "Content-Type": "application/json"}
    deep = b'{"reason": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    missing = requests.get(f"{web}/api/v1/nothing/", timeout=10)
    wrong_method = requests.get(f"{web}/api/v1/telemetry/", timeout=10)
    too_large = requests.post(
        f"{web}/api/v1/consent/half-hours/", data=b"x" * (CONSENT_MAX_BODY + 1), headers=consent, timeout=60
    )
    replies = {
        "missing": (missing, 404, "error"),
        "wrong method": (wrong_method, 405, "error"),
        "too large": (too_large, 413, "error"),
        "deep telemetry": (
            requests.post(f"{web}/api/v1/telemetry/", data=deep, headers=monitor, timeout=30),
            400,
            "errors",
        ),
        "deep alert": (requests.post(f"{web}/api/v1/alerts/", data=deep, headers=monitor, timeout=30), 400, "errors"),
        "deep consent": (
            requests.post(f"{web}/api/v1/consent/premises/X/consent/withdraw/", data=deep, headers=consent, timeout=30),
            400,
            "error",
        ),
    }

    for name, (response, status, key) in replies.items():
        assert response.status_code == status, (name, response.status_code, response.text[:200])
        assert response.headers["Content-Type"] == "application/json", name
        assert key in response.json(), name
