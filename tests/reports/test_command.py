"""``manage.py ofgem_report``."""

import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command

from core.models import AuditEntry
from tests.consent.factories import eligible_charger
from tests.reports.factories import curtail, event_with, utc


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("ofgem_report", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def history(db):
    charger = eligible_charger()
    curtail(event_with(feeder=charger.meter.premise.feeder, start=utc(2026, 10, 25, 0, 30)), charger, minutes=50)


def test_command_writes_a_csv_zip_prints_progress_and_audits(history, tmp_path):
    output = tmp_path / "october.zip"

    out, err = run("--start", "2026-10-01", "--end", "2026-10-31", "--format", "csv", "--output", str(output))

    assert out.strip() == str(output)
    assert "100.0%  done" in err
    assert "writing events" in err
    assert "1 events, 1 MPANs, 50.0 charger-minutes, 0 limit breaches" in err
    with zipfile.ZipFile(output) as archive:
        assert sorted(archive.namelist())[0] == "breaches.csv"
    assert not (tmp_path / "october.zip.part").exists()
    entry = AuditEntry.objects.get(action="report.export_generated")
    assert entry.actor == "rule:command:ofgem_report"
    assert entry.inputs["rows"]["events"] == 1


def test_command_regulatory_year_as_json(history, tmp_path, engineer):
    output = tmp_path / "ry.json"

    run("--regulatory-year", "2026", "--format", "json", "--output", str(output), "--user", engineer.username)

    report = json.loads(output.read_text())
    assert report["period"]["first_day"] == "2026-04-01"
    assert report["summary"]["events"] == 1
    assert AuditEntry.objects.get(action="report.export_generated").actor == engineer.username


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2026-10-31", "--end", "2026-10-01"], "before start date"),
        (["--month", "2026-10", "--quarter", "2026-Q1"], "give exactly one"),
        (["--month", "2026-10", "--top", "0"], "--top must be between"),
        (["--month", "2026-10", "--user", "ghost"], "no user 'ghost'"),
        (["--month", "2026-10", "--queue"], "--queue needs --user"),
    ],
)
def test_command_bad_arguments_name_the_problem_and_write_nothing(db, tmp_path, args, message):
    output = tmp_path / "out.json"

    with pytest.raises(CommandError, match=message):
        run(*args, "--format", "json", "--output", str(output))

    assert not output.exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_command_queue_follows_the_export_job_to_its_file(tmp_path, engineer, reports_dir):
    from dnoctl.celery import app as celery_app

    charger = eligible_charger()
    curtail(event_with(feeder=charger.meter.premise.feeder, start=utc(2026, 10, 5, 17, 0)), charger, minutes=40)
    output = tmp_path / "queued.json"
    # The worker is a process boundary: run the queued task in this process instead.
    celery_app.conf.task_always_eager = True
    try:
        _, err = run(
            "--month",
            "2026-10",
            "--format",
            "json",
            "--output",
            str(output),
            "--queue",
            "--user",
            engineer.username,
            "--timeout",
            "30",
        )
    finally:
        celery_app.conf.task_always_eager = False

    assert "queued export" in err
    assert "100.0%  done" in err
    assert json.loads(output.read_text())["summary"]["charger_minutes"] == 40
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "report.export_requested",
        "report.export_generated",
    ]
