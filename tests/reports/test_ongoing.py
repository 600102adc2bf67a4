"""A running event is reported as what it is so far: its elapsed minutes, flagged as ongoing,
never its planned length; curtailments count what the devices did up to now (the ledger)."""

import csv
import datetime as dt
import io
import json
import zipfile

import pytest
from openpyxl import load_workbook

from curtailment.choices import ActionStatus, EventStatus
from reports.columns import EVENTS, SUMMARY_METRICS
from reports.periods import period_month
from reports.services import report_generate, report_overview
from tests.consent.factories import eligible_charger
from tests.feeders.factories import FeederFactory
from tests.reports.factories import EventFactory, curtail, event_with, utc

pytestmark = pytest.mark.django_db

START = utc(2026, 9, 1, 12, 0)
NOW = START + dt.timedelta(minutes=7)
SEPTEMBER = period_month(2026, 9)


@pytest.fixture
def evening():
    """An automatic event running since START (planned 60 min, lasting while at risk), with
    one charger confirmed 30 s in, one whose 5 planned minutes are past (the device reverted,
    the row not yet closed) and one never confirmed; and an ended 5-minute event."""
    feeder = FeederFactory()
    running = EventFactory(feeder=feeder, started_at=START, status=EventStatus.ACTIVE, while_at_risk=True)
    live = dict(ended_at=None, end_reason="")
    curtail(running, eligible_charger(feeder=feeder), minutes=30, status=ActionStatus.CONFIRMED,
            confirmed_at=START + dt.timedelta(seconds=30), **live)  # fmt: skip
    curtail(running, eligible_charger(feeder=feeder), minutes=5, status=ActionStatus.CONFIRMED, **live)
    curtail(running, eligible_charger(feeder=feeder), minutes=30, status=ActionStatus.SENT, confirmed_at=None, **live)
    ended = event_with(feeder=FeederFactory(), start=START - dt.timedelta(hours=2), minutes=5)
    return running, ended


def _generate(fmt: str, tmp_path):
    path = tmp_path / f"report.{fmt}"
    report_generate(period=SEPTEMBER, fmt=fmt, path=path, generated_at=NOW)
    return path


def test_a_running_event_counts_its_minutes_so_far_flagged_ongoing(evening, tmp_path):
    running, ended = evening
    report = json.loads(_generate("json", tmp_path).read_text())
    rows = {row["event_id"]: row for row in report["tables"]["events"]}
    now_row, ended_row = rows[running.pk], rows[ended.pk]

    assert now_row["ongoing"] is True and ended_row["ongoing"] is False
    assert now_row["ended_at"] is None
    assert (now_row["duration_minutes"], now_row["minutes_in_period"]) == (7.0, 7.0)  # not the planned 60
    # Confirmed 30 s in: 6.5 min; the 5-minute one reverted at its planned end: 5; never
    # confirmed: nothing (and not an MPAN affected).
    assert now_row["charger_minutes"] == 11.5
    assert (now_row["mpans_affected"], now_row["charger_actions"]) == (2, 3)

    summary = report["summary"]
    assert summary["events_ongoing"] == 1
    assert (summary["event_minutes_max"], summary["event_minutes_max_ongoing"]) == (7.0, True)
    assert summary["event_minutes_total"] == 12.0
    assert report["version"] == 2


def test_once_the_running_event_is_not_the_longest_the_summary_says_so(evening, tmp_path):
    _, ended = evening
    ended.ended_at = ended.started_at + dt.timedelta(minutes=45)
    ended.save()
    summary = json.loads(_generate("json", tmp_path).read_text())["summary"]
    assert (summary["event_minutes_max"], summary["event_minutes_max_ongoing"]) == (45.0, False)
    assert summary["events_ongoing"] == 1


def test_the_csv_and_the_workbook_flag_the_running_event(evening, tmp_path):
    running, _ = evening
    with zipfile.ZipFile(_generate("csv", tmp_path)) as archive:
        events = list(csv.DictReader(io.TextIOWrapper(archive.open("events.csv"), encoding="utf-8")))
        summary = dict(csv.reader(io.TextIOWrapper(archive.open("summary.csv"), encoding="utf-8")))
    flags = {int(row["event_id"]): row["ongoing"] for row in events}
    assert flags[running.pk] == "true" and set(flags.values()) == {"true", "false"}
    assert [row["duration_minutes"] for row in events if row["ongoing"] == "true"] == ["7.0"]
    assert (summary["events_ongoing"], summary["event_minutes_max_ongoing"]) == ("1", "true")

    book = load_workbook(_generate("xlsx", tmp_path), read_only=True)
    sheet = list(book[EVENTS.title[:31]].values)
    column = sheet[0].index("ongoing")
    by_id = {row[0]: row[column] for row in sheet[1:]}
    assert by_id[running.pk] is True
    metrics = {row[0]: row[1] for row in list(book["Summary"].values)[1 : len(SUMMARY_METRICS) + 1]}
    assert metrics["event_minutes_max_ongoing"] is True


def test_the_reports_page_marks_the_running_event(viewer_client, evening, monkeypatch):
    running, _ = evening
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: NOW)
    overview = report_overview(period=SEPTEMBER)
    assert overview["ongoing_events"] == [[running.pk, running.feeder.code, "2026-09-01T12:00:00Z", 7.0]]
    page = viewer_client.get("/reports/?kind=month&month=2026-09").content.decode()
    assert 'id="summary-longest-ongoing"' in page
    table = page[page.index('id="ongoing-events"') :]
    assert f'href="/curtailment/events/{running.pk}/"' in table[: table.index("</table>")]
    assert "7 min so far" in table[: table.index("</table>")]
