"""Helpers for report tests: generate a report into a temporary file and read it back."""

import json

import pytest

from curtailment.reports.services import report_generate


@pytest.fixture
def json_report(db, tmp_path):
    """``json_report(period)`` -> the parsed JSON report for ``period``."""

    def generate(period, top_n: int = 20) -> dict:
        path = tmp_path / f"report-{period.first_day}-{period.last_day}.json"
        report_generate(period=period, fmt="json", path=path, top_n=top_n)
        return json.loads(path.read_text())

    return generate
