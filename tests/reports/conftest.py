"""Helpers for report tests: generate a report into a temporary file and read it back."""

import json

import pytest

from reports.services import report_generate


@pytest.fixture
def json_report(db, tmp_path):
    """``json_report(period)`` -> the parsed JSON report for ``period``."""

    def generate(period, top_n: int = 20) -> dict:
        path = tmp_path / f"report-{period.first_day}-{period.last_day}.json"
        report_generate(period=period, fmt="json", path=path, top_n=top_n)
        return json.loads(path.read_text())

    return generate


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The overview and export jobs live in the cache, which outlives each test's rollback."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def reports_dir(settings, tmp_path):
    """Exports written under a temporary directory instead of var/reports/."""
    settings.DNOCTL_REPORTS_DIR = tmp_path / "reports"
    return settings.DNOCTL_REPORTS_DIR
