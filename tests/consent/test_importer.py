"""Premises register import: all or nothing, idempotent, streaming in bounded memory."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from consent.importer import premises_import_path
from consent.models import HCALCS, MPAN, Meter, Premise
from core.models import AuditEntry
from tests.consent.factories import mpan_from_int
from tests.consent.registers import register_row, register_rows, register_write
from tests.curtailment.factories import action, open_event
from tests.feeders.factories import FeederFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def feeder(db):
    return FeederFactory(code="WAL-0042")


def _bad_check_digit(core: str) -> str:
    return core[:12] + str((int(core[12]) + 1) % 10)


@pytest.mark.django_db
def test_valid_file_imports_everything(tmp_path, feeder):
    rows = list(register_rows(3, hcalcs_per_meter=2, feeder_code=feeder.code))
    rows[0]["element_type"] = rows[1]["element_type"] = "twin"
    rows[0]["mpan_export_secondary"] = rows[1]["mpan_export_secondary"] = mpan_from_int(900)
    path = register_write(tmp_path / "register.csv", rows)

    report = premises_import_path(path=path)

    assert report.ok and report.written, report.errors
    assert report.rows == 6
    assert (report.premises.created, report.meters.created, report.mpans.created, report.hcalcs.created) == (3, 3, 4, 6)
    premise = Premise.objects.get(reference="UPRN000000000")
    assert premise.feeder == feeder
    meter = Meter.objects.get(premise=premise)
    assert meter.element_type == "twin"
    assert set(meter.mpans.values_list("role", flat=True)) == {"import_primary", "export_secondary"}
    assert list(meter.hcalcs.order_by("switch_index").values_list("switch_index", "label", "rated_kw")) == [
        (1, "ev_charger", 7.4),
        (2, "ev_charger", 7.4),
    ]


@pytest.mark.django_db
def test_apc_chargers_are_imported_with_their_maximum_and_a_changed_type_is_an_update(tmp_path):
    rows = list(register_rows(3))
    rows[0].update(hcalcs_controller_type="apc", hcalcs_rated_kw="11")
    rows[1].update(hcalcs_controller_type="HCALCS")
    report = premises_import_path(path=register_write(tmp_path / "register.csv", rows))
    assert report.ok, report.errors
    kinds = dict(HCALCS.objects.values_list("eui64", "controller_type"))
    assert [kinds[row["hcalcs_eui64"]] for row in rows] == ["apc", "hcalcs", "hcalcs"]  # empty: an HCALCS
    assert HCALCS.objects.get(eui64=rows[0]["hcalcs_eui64"]).rated_kw == 11

    rows[2]["hcalcs_controller_type"] = "apc"
    again = premises_import_path(path=register_write(tmp_path / "changed.csv", rows))

    assert (again.hcalcs.updated, again.hcalcs.unchanged) == (1, 2)
    assert HCALCS.objects.get(eui64=rows[2]["hcalcs_eui64"]).is_apc


@pytest.mark.django_db
def test_a_bad_controller_type_writes_nothing_and_names_the_cell(tmp_path):
    rows = list(register_rows(3))
    rows[1]["hcalcs_controller_type"] = "dimmer"
    rows[2].update(hcalcs_eui64="", hcalcs_index="", hcalcs_label="", hcalcs_rated_kw="", hcalcs_controller_type="apc")

    report = premises_import_path(path=register_write(tmp_path / "register.csv", rows))

    assert not report.ok and not report.written
    errors = {(e.row, e.column): e.reason for e in report.errors}
    assert "expected one of hcalcs, apc, got 'dimmer'" in errors[(3, "hcalcs_controller_type")]
    assert errors[(4, "hcalcs_controller_type")] == "given without hcalcs_eui64"
    assert not HCALCS.objects.exists()


@pytest.mark.django_db
def test_one_bad_check_digit_writes_nothing_and_names_the_row(tmp_path, feeder):
    rows = list(register_rows(50))
    rows[36]["mpan_import_primary"] = _bad_check_digit(rows[36]["mpan_import_primary"])
    path = register_write(tmp_path / "register.csv", rows)

    report = premises_import_path(path=path)

    assert not report.ok and not report.written
    assert [(e.row, e.column) for e in report.errors] == [(38, "mpan_import_primary")]  # header is row 1
    assert "check digit" in report.errors[0].reason
    assert not Premise.objects.exists() and not Meter.objects.exists() and not HCALCS.objects.exists()


@pytest.mark.django_db
def test_every_error_is_reported(tmp_path, feeder):
    rows = [
        register_row(1),
        register_row(2, hcalcs_index="9", feeder_code="NOPE"),
        register_row(3, meter_eui64=register_row(1)["meter_eui64"]),  # same meter on another premise
        register_row(4, element_type="single", mpan_import_secondary=mpan_from_int(77)),
        register_row(5, hcalcs_label=""),
        register_row(6, postcode="not a postcode"),
    ]
    report = premises_import_path(path=register_write(tmp_path / "register.csv", rows))
    found = {(e.row, e.column) for e in report.errors}
    assert found == {
        (3, "hcalcs_index"),
        (3, "feeder_code"),
        (4, "meter_eui64"),
        (4, "hcalcs_index"),  # and its switch 1 is taken on that meter
        (5, "mpan_import_secondary"),
        (6, "hcalcs_label"),
        (7, "postcode"),
    }
    assert not Premise.objects.exists()


@pytest.mark.django_db
def test_unknown_and_missing_columns_are_header_errors(tmp_path):
    path = tmp_path / "register.csv"
    path.write_text("premise_reference,address,colour\nA,1 Road,red\n")
    report = premises_import_path(path=path)
    assert {(e.row, e.column) for e in report.errors} >= {(1, "colour"), (1, "postcode"), (1, "meter_eui64")}


@pytest.mark.django_db
def test_reimport_changes_nothing_and_a_changed_row_is_an_update(tmp_path, feeder):
    path = register_write(tmp_path / "register.csv", register_rows(20, hcalcs_per_meter=2))
    first = premises_import_path(path=path)
    assert first.ok and first.hcalcs.created == 40
    ids_before = sorted(HCALCS.objects.values_list("pk", flat=True))

    again = premises_import_path(path=path)
    assert (again.premises.created, again.premises.updated, again.premises.unchanged) == (0, 0, 20)
    assert (again.meters.created, again.meters.updated, again.meters.unchanged) == (0, 0, 20)
    assert (again.mpans.created, again.mpans.updated, again.mpans.unchanged) == (0, 0, 20)
    assert (again.hcalcs.created, again.hcalcs.updated, again.hcalcs.unchanged) == (0, 0, 40)
    assert sorted(HCALCS.objects.values_list("pk", flat=True)) == ids_before

    rows = list(register_rows(20, hcalcs_per_meter=2))
    for row in rows[:2]:  # premise 0's two rows
        row["firmware_version"] = "5.0.1"
    changed = premises_import_path(path=register_write(tmp_path / "changed.csv", rows))
    assert (changed.meters.updated, changed.meters.unchanged) == (1, 19)
    assert Meter.objects.get(esme_eui64=rows[0]["meter_eui64"]).firmware_version == "5.0.1"


@pytest.mark.django_db
def test_dry_run_counts_but_writes_nothing(tmp_path):
    report = premises_import_path(path=register_write(tmp_path / "r.csv", register_rows(5)), dry_run=True)
    assert report.ok and not report.written
    assert report.premises.created == 5
    assert not Premise.objects.exists()


@pytest.mark.django_db
def test_command_reports_errors_and_audits(tmp_path, capsys):
    rows = list(register_rows(3))
    rows[2]["mpan_import_primary"] = _bad_check_digit(rows[2]["mpan_import_primary"])
    path = register_write(tmp_path / "bad.csv", rows)
    with pytest.raises(CommandError, match="1 error"):
        call_command("import_premises", str(path))
    assert "row 4 mpan_import_primary" in capsys.readouterr().err
    assert not Premise.objects.exists()
    assert AuditEntry.objects.filter(action="premises.import_refused").exists()

    call_command("import_premises", str(register_write(tmp_path / "good.csv", register_rows(3))))
    assert "premises: 3 were created" in capsys.readouterr().out
    assert MPAN.objects.count() == 3
    assert AuditEntry.objects.filter(action="premises.import", actor="rule:import-command").exists()


MEMORY_PROBE = r"""
import json, resource, sys
import django
django.setup()
from pathlib import Path
from consent.importer import premises_import_path
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = premises_import_path(path=Path(sys.argv[1]))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kib": before, "after_kib": after, "ok": report.ok, "rows": report.rows,
                  "hcalcs": report.hcalcs.created, "premises": report.premises.created}))
"""


def _database_url(settings_dict: dict) -> str:
    password = settings_dict.get("PASSWORD") or ""
    auth = (
        f"{quote(settings_dict.get('USER') or '')}:{quote(password)}@"
        if password
        else f"{settings_dict.get('USER') or ''}@"
    )
    return f"postgres://{auth}{settings_dict.get('HOST') or '127.0.0.1'}:{settings_dict.get('PORT') or 5432}/{settings_dict['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_100k_row_file_imports_in_bounded_memory(tmp_path):
    """GIVEN a 100,000-row register (50,000 premises, two HCALCS each; ~20 MB of CSV)
    WHEN a separate process imports it THEN its peak RSS grows by less than 64 MiB over
    the process with Django loaded: the rows are streamed in chunks, never held whole
    (holding them as model instances alone takes several times that)."""
    path = register_write(tmp_path / "big.csv", register_rows(50_000, hcalcs_per_meter=2))
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "DJANGO_SETTINGS_MODULE": "dnoctl.settings",
    }
    probe = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["rows"] == 100_000
    assert (result["premises"], result["hcalcs"]) == (50_000, 100_000)
    growth_mib = (result["after_kib"] - result["before_kib"]) / 1024
    assert growth_mib < 64, f"peak RSS grew by {growth_mib:.0f} MiB"
    assert HCALCS.objects.count() == 100_000


@pytest.mark.django_db
def test_replacing_a_device_with_curtailment_history_is_refused_whole(tmp_path, feeder):

    from django.utils import timezone

    path = register_write(tmp_path / "register.csv", register_rows(3))
    assert premises_import_path(path=path).ok
    charger = HCALCS.objects.get(eui64=register_row(0)["hcalcs_eui64"])
    now = timezone.now()
    event = open_event(feeder=feeder, started_at=now, minutes=60, reduction_kw=5)
    action(event=event, hcalcs=charger, minutes=30, expected_kw=7, started_at=now, status="planned", confirmed_at=None)
    rows = list(register_rows(3))
    rows[0]["hcalcs_eui64"] = "00-DB-FF-FF-FF-FF-FF-01"  # a new switch at the same index of meter 0
    rows[2]["firmware_version"] = "9.9.9"
    report = premises_import_path(path=register_write(tmp_path / "replace.csv", rows))
    assert not report.ok and not report.written
    assert "curtailment history" in report.errors[0].reason
    assert HCALCS.objects.filter(pk=charger.pk).exists()
    assert not HCALCS.objects.filter(eui64="00-DB-FF-FF-FF-FF-FF-01").exists()
    assert not Meter.objects.filter(firmware_version="9.9.9").exists()  # nothing of the file was kept
