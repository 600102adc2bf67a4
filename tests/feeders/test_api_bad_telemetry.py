"""Bad telemetry gets a 4xx naming each problem, and nothing of the batch is stored."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from feeders.models import Feeder, FeederAlert, FeederReading, MonitorToken
from feeders.services import MAX_BATCH_ROWS
from tests.feeders.conftest import ALERTS_URL, TELEMETRY_URL, minutes_ago, reading

pytestmark = pytest.mark.django_db


@pytest.fixture
def nothing_stored(feeder, other_feeder):
    """Asserts, after the test, that no reading was stored and no feeder summary moved."""
    before = list(Feeder.objects.order_by("id").values_list("last_reading_at", "status"))
    yield
    assert FeederReading.objects.count() == 0
    assert list(Feeder.objects.order_by("id").values_list("last_reading_at", "status")) == before


def errors_of(response) -> list[tuple]:
    return [(error["row"], error["field"]) for error in response.json()["errors"]]


def good_rows(count: int = 2) -> list[dict]:
    now = timezone.now()
    return [reading("FDR-A", minutes_ago(m + 1, now), 100.0) for m in range(count)]


@pytest.mark.usefixtures("nothing_stored")
@pytest.mark.parametrize(
    ("bad_row", "field", "reason_part"),
    [
        ({"amps": ["12", 1, 1]}, "amps", "not a number"),
        ({"amps": [True, 1, 1]}, "amps", "not a number"),
        ({"amps": 12.0}, "amps", "list"),
        ({"amps": [-1.0, 1, 1]}, "amps", "negative"),
        ({"amps": [1e9, 1, 1]}, "amps", "plausible"),
        ({"amps": [10.0]}, "amps", "1 phase(s) given, feeder FDR-A has 3"),
        ({"kw": 1e9}, "kw", "plausible"),
        ({"kw": -1e9}, "kw", "plausible"),
        ({"amps": []}, "amps", "list"),
        ({"kw": "7"}, "kw", "number"),
        ({"kw": None}, "kw", "number"),
        ({"measured_at": 1764000000}, "measured_at", "ISO 8601"),
        ({"measured_at": "yesterday"}, "measured_at", "not an ISO 8601"),
        ({"measured_at": "2026-03-29T01:30:00"}, "measured_at", "no UTC offset"),
        ({"measured_at": "1970-01-01T00:00:00+00:00"}, "measured_at", "clock"),
        ({"feeder": "NO-SUCH-FEEDER"}, "feeder", "unknown feeder code"),
        ({"feeder": 17}, "feeder", "string"),
        ({"voltage": 230}, "voltage", "unknown field"),
    ],
)
def test_a_bad_row_rejects_the_whole_batch_naming_row_and_field(
    head_end_token, post_telemetry, bad_row, field, reason_part
):
    rows = good_rows(3)
    rows[1] = {**rows[1], **bad_row}

    response = post_telemetry(head_end_token, rows)

    assert response.status_code == 400
    assert (1, field) in errors_of(response)
    assert any(reason_part in error["reason"] for error in response.json()["errors"])


@pytest.mark.usefixtures("nothing_stored")
def test_nan_and_infinity_are_rejected(head_end_token, post_telemetry):
    at = minutes_ago(1).isoformat()
    first = f'{{"feeder": "FDR-A", "measured_at": "{at}", "amps": [1, 1, 1], "kw": NaN}}'
    second = f'{{"feeder": "FDR-A", "measured_at": "{at}", "amps": [Infinity, 1, 1], "kw": 1}}'
    raw = f'{{"readings": [{first}, {second}]}}'

    response = post_telemetry(head_end_token, None, raw=raw.encode())

    assert response.status_code == 400
    assert {(0, "kw"), (1, "amps")} <= set(errors_of(response))


@pytest.mark.usefixtures("nothing_stored")
def test_every_bad_row_is_listed(head_end_token, post_telemetry):
    rows = good_rows(4)
    rows[0]["amps"] = [-5, 1, 1]
    rows[2]["measured_at"] = "2026-01-01T00:00:00"
    rows[3]["feeder"] = "NOPE"

    response = post_telemetry(head_end_token, rows)

    assert response.status_code == 400
    assert errors_of(response) == [(0, "amps"), (2, "measured_at"), (3, "feeder")]


@pytest.mark.usefixtures("nothing_stored")
def test_future_timestamps_beyond_the_skew_are_rejected(head_end_token, post_telemetry):
    rows = [*good_rows(1), reading("FDR-A", timezone.now() + timedelta(minutes=10), 100.0)]

    response = post_telemetry(head_end_token, rows)

    assert response.status_code == 400
    assert errors_of(response) == [(1, "measured_at")]
    assert "future" in response.json()["errors"][0]["reason"]


def test_a_timestamp_slightly_ahead_is_within_the_skew(feeder, head_end_token, post_telemetry):
    response = post_telemetry(head_end_token, [reading("FDR-A", timezone.now() + timedelta(seconds=20), 100.0)])

    assert response.status_code == 202


@pytest.mark.usefixtures("nothing_stored")
def test_phase_count_must_match_the_feeder(other_feeder, head_end_token, post_telemetry):
    Feeder.objects.filter(pk=other_feeder.pk).update(phases=1)
    rows = [reading("FDR-B", minutes_ago(1), [10.0, 10.0, 10.0])]

    response = post_telemetry(head_end_token, rows)

    assert response.status_code == 400
    assert "3 phase(s) given, feeder FDR-B has 1" in response.json()["errors"][0]["reason"]


@pytest.mark.usefixtures("nothing_stored")
@pytest.mark.parametrize("token", [None, "", "not-a-real-token"])
def test_missing_or_unknown_token_is_401(post_telemetry, token):
    response = post_telemetry(token, good_rows(1))

    assert response.status_code == 401
    assert response.json()["errors"][0]["reason"]
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.usefixtures("nothing_stored")
def test_revoked_token_is_401(head_end_token, post_telemetry):
    MonitorToken.objects.update(active=False)

    assert post_telemetry(head_end_token, good_rows(1)).status_code == 401


@pytest.mark.usefixtures("nothing_stored")
def test_a_bound_token_posting_for_another_feeder_is_refused_whole_as_an_unknown_feeder(
    monitor_a_token, post_telemetry
):
    rows = [*good_rows(1), reading("FDR-B", minutes_ago(1), 10.0)]

    response = post_telemetry(monitor_a_token, rows)

    assert response.status_code == 400
    assert response.json()["errors"] == [{"row": 1, "field": "feeder", "reason": "unknown feeder code 'FDR-B'"}]


@pytest.mark.usefixtures("nothing_stored")
def test_a_batch_over_the_row_limit_is_refused(head_end_token, post_telemetry):
    start = timezone.now() - timedelta(days=2)
    rows = [
        {"feeder": "FDR-A", "measured_at": (start + timedelta(seconds=i)).isoformat(), "amps": [1, 1, 1], "kw": 1}
        for i in range(MAX_BATCH_ROWS + 1)
    ]

    response = post_telemetry(head_end_token, rows)

    assert response.status_code == 413
    assert "at most 5000" in response.json()["errors"][0]["reason"]


@pytest.mark.usefixtures("nothing_stored")
def test_a_body_over_the_size_limit_is_refused(head_end_token, post_telemetry):
    raw = b'{"readings": [' + b" " * (3 * 1024 * 1024) + b"]}"

    response = post_telemetry(head_end_token, None, raw=raw)

    assert response.status_code == 413


@pytest.mark.usefixtures("nothing_stored")
@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [
        (b'{"readings": [', "malformed JSON"),
        (b"\xff\xfe", "malformed JSON"),
        (b"[]", "expected an object"),
        (b'{"rows": []}', "expected an object"),
        (b'{"readings": []}', "empty batch"),
        (b'{"readings": {"feeder": "FDR-A"}}', "must be a list"),
        (b'{"readings": [1, "two"]}', "must be an object"),
        (b'{"readings": [1,]}', "malformed JSON: Expecting value: line 1 column 17"),
        (b'{"readings": "\xff"}', "malformed JSON"),
    ],
)
def test_malformed_bodies_are_400_with_a_reason(head_end_token, post_telemetry, raw, reason_part):
    response = post_telemetry(head_end_token, None, raw=raw)

    assert response.status_code == 400
    assert reason_part in response.json()["errors"][0]["reason"]


def test_get_is_not_allowed(client, head_end_token):
    response = client.get(TELEMETRY_URL, HTTP_AUTHORIZATION=f"Bearer {head_end_token}")

    assert response.status_code == 405


# --- external alerts ---------------------------------------------------------------------


def post_alert(client, token, body):
    return client.post(
        ALERTS_URL, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"feeder": "FDR-A", "raised_at": "2026-01-01T10:00:00", "reason": "scada"}, "raised_at"),
        ({"feeder": "FDR-A", "raised_at": "2026-01-01T10:00:00Z", "reason": ""}, "reason"),
        ({"feeder": "NOPE", "raised_at": "2026-01-01T10:00:00Z", "reason": "scada"}, "feeder"),
        (
            {"feeder": "FDR-A", "raised_at": "2026-01-01T10:00:00Z", "reason": "x", "load_percent": "high"},
            "load_percent",
        ),
        ({"feeder": "FDR-A", "raised_at": "2026-01-01T10:00:00Z", "reason": "x", "priority": 1}, "priority"),
    ],
)
def test_bad_external_alerts_are_400_and_open_nothing(client, feeder, head_end_token, body, field):
    response = post_alert(client, head_end_token, body)

    assert response.status_code == 400
    assert field in [error["field"] for error in response.json()["errors"]]
    assert FeederAlert.objects.count() == 0


def test_external_alert_needs_a_valid_token(client, feeder):
    body = {"feeder": "FDR-A", "raised_at": "2026-01-01T10:00:00Z", "reason": "scada"}

    assert post_alert(client, "wrong", body).status_code == 401
    assert FeederAlert.objects.count() == 0


@pytest.mark.usefixtures("nothing_stored")
def test_an_integer_too_big_for_a_double_is_a_bad_row_not_a_crash(head_end_token, post_telemetry):
    at = minutes_ago(1).isoformat()
    raw = f'{{"readings": [{{"feeder": "FDR-A", "measured_at": "{at}", "amps": [{10**30}, 1, 1], "kw": 1}}]}}'

    response = post_telemetry(head_end_token, None, raw=raw.encode())

    assert response.status_code == 400
    assert errors_of(response) == [(0, "amps")]
