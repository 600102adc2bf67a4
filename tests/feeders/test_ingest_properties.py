"""Invariant 5 for telemetry, property-based: a batch is stored whole or not at all, and
it is refused exactly when one of its rows is bad."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeders.models import FeederReading, MonitorToken
from feeders.services import TelemetryRejected, telemetry_ingest

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # inside the repeated autumn hour in London


class _Rollback(Exception):
    """Undo one example's writes, so examples do not see each other's readings."""


seconds_before_now = st.integers(min_value=0, max_value=6 * 3600)
phase_amps = st.floats(min_value=0, max_value=3999, allow_nan=False)


ZONES = {"Z": UTC, "+00:00": UTC, "+01:00": timezone(timedelta(hours=1)), "-05:00": timezone(timedelta(hours=-5))}


@st.composite
def good_rows(draw) -> dict:
    moment = NOW - timedelta(seconds=draw(seconds_before_now))
    offset = draw(st.sampled_from(sorted(ZONES)))
    stamp = moment.astimezone(ZONES[offset]).isoformat()
    if offset == "Z":
        stamp = stamp.replace("+00:00", "Z")
    return {
        "feeder": "FDR-A",
        "measured_at": stamp,
        "amps": [draw(phase_amps) for _ in range(3)],
        "kw": draw(st.floats(min_value=-100, max_value=400, allow_nan=False)),
    }


@st.composite
def bad_rows(draw) -> dict:
    row = draw(good_rows())
    flaw = draw(
        st.sampled_from(["negative", "naive", "future", "unknown", "phases", "text", "nan", "extra", "missing_kw"])
    )
    if flaw == "negative":
        row["amps"][draw(st.integers(0, 2))] = -draw(st.floats(min_value=0.001, max_value=1e6))
    elif flaw == "naive":
        row["measured_at"] = (NOW - timedelta(minutes=1)).replace(tzinfo=None).isoformat()
    elif flaw == "future":
        row["measured_at"] = (NOW + timedelta(minutes=draw(st.integers(2, 10_000)))).isoformat()
    elif flaw == "unknown":
        row["feeder"] = draw(st.text(min_size=1, max_size=10).filter(lambda code: code != "FDR-A"))
    elif flaw == "phases":
        row["amps"] = row["amps"][: draw(st.sampled_from([1, 2]))]
    elif flaw == "text":
        row["amps"][0] = str(row["amps"][0])
    elif flaw == "nan":
        row["kw"] = float("nan")
    elif flaw == "extra":
        row["note"] = "x"
    else:
        del row["kw"]
    return row


batches = st.lists(st.one_of(good_rows(), bad_rows().map(lambda row: ("bad", row))), min_size=1, max_size=25)


@given(batch=batches)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_batch_is_stored_whole_or_not_at_all(feeder, batch):
    token = MonitorToken.objects.get_or_create(name="prop", defaults={"token_sha256": "1" * 64})[0]
    bad = [i for i, row in enumerate(batch) if isinstance(row, tuple)]
    rows = [row[1] if isinstance(row, tuple) else row for row in batch]
    try:
        with transaction.atomic():
            try:
                result = telemetry_ingest(token=token, readings=rows, now=NOW)
            except TelemetryRejected as rejected:
                assert bad, f"a good batch was refused: {rejected.errors}"
                assert {error["row"] for error in rejected.errors} == set(bad)
                assert FeederReading.objects.count() == 0
            else:
                assert not bad, f"rows {bad} were accepted"
                distinct = {datetime.fromisoformat(row["measured_at"].replace("Z", "+00:00")) for row in rows}
                assert result.accepted == len(distinct) == FeederReading.objects.count()
                assert result.accepted + result.duplicates == len(rows)
            raise _Rollback
    except _Rollback:
        pass
