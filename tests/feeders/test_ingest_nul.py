"""A NUL character in an identifier is bad input (400 naming the row), never a 500: found
by the ingest property test, kept here as a plain regression test."""

import pytest

from feeders.models import FeederReading
from tests.feeders.conftest import minutes_ago, reading

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("key", ["feeder", "monitor"])
def test_nul_in_an_identifier_is_a_400_naming_the_row_and_nothing_is_stored(
    feeder, head_end_token, post_telemetry, key
):
    good = reading("FDR-A", minutes_ago(2), 100.0)
    bad = reading("FDR-A", minutes_ago(1), 100.0)
    del bad["feeder"]
    bad[key] = "FDR\x00A"

    response = post_telemetry(head_end_token, [good, bad])

    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert {"row": 1, "field": key, "reason": "must not contain NUL characters"} in errors
    assert {error["row"] for error in errors} == {1}
    assert FeederReading.objects.count() == 0
