"""A monitor's token knows only its own feeder. Naming another feeder, by code or by
monitor id, gets exactly the answer a feeder that does not exist gets, on telemetry and on
alerts, whatever else the row says: a token cannot be used to find out which feeders
exist, nor anything about them (phases, rating)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from feeders.models import Feeder, FeederAlert, FeederReading
from tests.feeders.conftest import ALERTS_URL, TELEMETRY_URL, minutes_ago, reading

pytestmark = pytest.mark.django_db


def _post(url: str, token: str, body: dict):
    return Client().post(
        url, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def _answer(response) -> tuple[int, dict, str]:
    return response.status_code, response.json(), response["Content-Type"]


def _answers_before_and_after_feeder_b_is_gone(url: str, token: str, body: dict) -> tuple[tuple, tuple]:
    """The answer while FDR-B exists (another monitor's), and the same request's answer
    once FDR-B does not exist at all."""
    while_it_exists = _answer(_post(url, token, body))
    Feeder.objects.filter(code="FDR-B").delete()
    once_it_does_not = _answer(_post(url, token, body))
    return while_it_exists, once_it_does_not


@pytest.mark.parametrize(
    "row",
    [
        pytest.param({"feeder": "FDR-B"}, id="by code"),
        pytest.param({"monitor": "MON-B"}, id="by monitor id"),
        # FDR-B has 3 phases and a 200 A rating: neither may show through the answer.
        pytest.param({"feeder": "FDR-B", "amps": [1.0]}, id="wrong phase count"),
        pytest.param({"feeder": "FDR-B", "amps": [5000.0, 1, 1]}, id="above the rating"),
    ],
)
def test_telemetry_for_another_feeder_is_answered_as_for_no_feeder(feeder, other_feeder, monitor_a_token, row):
    body = reading("FDR-B", minutes_ago(1), 10.0)
    body.pop("feeder")
    body.update(row)

    while_it_exists, once_it_does_not = _answers_before_and_after_feeder_b_is_gone(
        TELEMETRY_URL, monitor_a_token, {"readings": [body]}
    )

    assert while_it_exists == once_it_does_not
    assert while_it_exists[0] == 400
    assert FeederReading.objects.count() == 0


def test_a_batch_mixing_its_own_feeder_and_another_stores_nothing(feeder, other_feeder, monitor_a_token):
    rows = [reading("FDR-A", minutes_ago(1), 100.0), reading("FDR-B", minutes_ago(1), 10.0)]

    while_it_exists, once_it_does_not = _answers_before_and_after_feeder_b_is_gone(
        TELEMETRY_URL, monitor_a_token, {"readings": rows}
    )

    assert while_it_exists == once_it_does_not
    assert [(e["row"], e["field"]) for e in while_it_exists[1]["errors"]] == [(1, "feeder")]
    assert FeederReading.objects.count() == 0


@pytest.mark.parametrize("load_percent", [None, 50.0])
def test_an_alert_for_another_feeder_is_answered_as_for_no_feeder(feeder, other_feeder, monitor_a_token, load_percent):
    body = {"feeder": "FDR-B", "raised_at": minutes_ago(1).isoformat(), "reason": "fuse temperature"}
    if load_percent is not None:
        body["load_percent"] = load_percent

    while_it_exists, once_it_does_not = _answers_before_and_after_feeder_b_is_gone(ALERTS_URL, monitor_a_token, body)

    assert while_it_exists == once_it_does_not
    assert while_it_exists[0] == 400
    assert FeederAlert.objects.count() == 0


def test_the_token_still_posts_for_its_own_feeder(feeder, other_feeder, monitor_a_token):
    telemetry = _post(TELEMETRY_URL, monitor_a_token, {"readings": [reading("FDR-A", minutes_ago(1), 100.0)]})
    alert = _post(
        ALERTS_URL, monitor_a_token, {"feeder": "FDR-A", "raised_at": minutes_ago(1).isoformat(), "reason": "hot"}
    )

    assert telemetry.status_code == 202
    assert alert.status_code == 201
    assert FeederReading.objects.get().feeder == feeder


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/consent/awaiting-consent/"),
        ("get", "/api/v1/consent/premises/PR-1/"),
        ("get", "/api/v1/reports/summary"),
        ("get", "/api/v1/openapi.json"),
        ("get", "/feeders/{feeder}/"),
        ("get", "/"),
    ],
)
def test_a_monitor_token_opens_nothing_else(feeder, monitor_a_token, method, path):
    """Telemetry and alerts are the only doors a monitor token opens: elsewhere it is no
    credential at all (401 or the login page), never data."""
    url = path.format(feeder=feeder.pk)

    response = getattr(Client(), method)(url, HTTP_AUTHORIZATION=f"Bearer {monitor_a_token}")

    assert response.status_code in (401, 302), (path, response.status_code)
    if response.status_code == 302:
        assert response.url.startswith("/accounts/login/")
