"""The three formats carry the same report: CSV zip, XLSX (openpyxl), JSON (schema-valid)."""

import csv
import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import jsonschema
import openpyxl
import pytest

from curtailment.choices import ActionEndReason
from reports.columns import SCHEMA_PATH, SUMMARY_METRICS, TABLES, json_schema
from reports.periods import period_month
from reports.services import report_generate
from tests.consent.factories import eligible_charger
from tests.feeders.factories import FeederFactory
from tests.reports.factories import asp_calloff, curtail, event_with, utc

GENERATED_AT = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def history(db):
    feeder = FeederFactory(managed_since=dt.date(2026, 1, 1))
    chargers = [eligible_charger(feeder=feeder) for _ in range(3)]
    for dom in (2, 9, 16):
        event = event_with(feeder=feeder, start=utc(2026, 10, dom, 17, 30), minutes=75)
        for index, charger in enumerate(chargers):
            curtail(event, charger, minutes=30 + 10 * index)
    override = event_with(feeder=feeder, start=utc(2026, 10, 25, 0, 30), minutes=40)
    curtail(override, chargers[0], minutes=40, ended_after=12, end_reason=ActionEndReason.OVERRIDE)
    asp_calloff(override, kw=8)
    return period_month(2026, 10)


def generate(period, fmt, tmp_path):
    path = tmp_path / f"report.{fmt}"
    report_generate(period=period, fmt=fmt, path=path, generated_at=GENERATED_AT)
    return path


def norm(value):
    """A cell as a comparable value: numbers as floats (XLSX reads 372.0 back as 372), the
    rest as text, empty as "", a flag as the CSV writes it."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def norm_rows(rows) -> list[list]:
    return [[norm(value) for value in row] for row in rows]


def csv_tables(path) -> dict[str, list[list[str]]]:
    with zipfile.ZipFile(path) as archive:
        return {
            name.removesuffix(".csv"): list(csv.reader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))
            for name in archive.namelist()
        }


def test_csv_zip_has_one_file_per_table_with_headers(history, tmp_path):
    tables = csv_tables(generate(history, "csv", tmp_path))

    assert set(tables) == {table.name for table in TABLES}
    for table in TABLES:
        assert tables[table.name][0] == table.header
    assert len(tables["events"]) == 1 + 4
    summary = dict(tables["summary"][1:])
    assert summary["events"] == "4"
    assert summary["mpans_affected"] == "3"
    assert summary["charger_minutes"] == str(3 * (30 + 40 + 50) + 12.0)


def test_xlsx_opens_and_its_summary_equals_the_csv(history, tmp_path):
    csv_report = csv_tables(generate(history, "csv", tmp_path))
    xlsx_path = generate(history, "xlsx", tmp_path)

    book = openpyxl.load_workbook(xlsx_path, read_only=True)
    assert book.sheetnames == [table.title for table in TABLES]
    summary_rows = list(book["Summary"].iter_rows(values_only=True))
    xlsx_summary = norm_rows(row[:2] for row in summary_rows[: 1 + len(SUMMARY_METRICS)])
    assert xlsx_summary == norm_rows(csv_report["summary"])
    assert norm_rows(book["Events"].iter_rows(values_only=True)) == norm_rows(csv_report["events"])
    assert norm_rows(book["Worst served (total)"].iter_rows(values_only=True)) == norm_rows(
        csv_report["worst_by_total"]
    )
    # The duration buckets repeated on the summary sheet feed its chart.
    assert ("Event durations", "events") in [tuple(row[:2]) for row in summary_rows]
    book.close()
    with zipfile.ZipFile(xlsx_path) as archive:
        assert any(name.startswith("xl/charts/chart") for name in archive.namelist())


def test_json_validates_against_the_documented_schema(history, tmp_path):
    report = json.loads(generate(history, "json", tmp_path).read_text())

    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))
    assert report["summary"]["overrides"] == 1
    assert report["summary"]["asp_calloff_kw"] == 8
    assert len(report["tables"]["events"]) == 4


def test_json_schema_rejects_a_report_missing_a_column(history, tmp_path):
    report = json.loads(generate(history, "json", tmp_path).read_text())
    del report["tables"]["events"][0]["mpans_affected"]

    with pytest.raises(jsonschema.ValidationError, match="mpans_affected"):
        jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))


def test_committed_schema_file_matches_the_column_definitions():
    assert json.loads(SCHEMA_PATH.read_text()) == json_schema()


def test_json_summary_equals_csv_summary(history, tmp_path):
    csv_summary = dict(csv_tables(generate(history, "csv", tmp_path))["summary"][1:])
    json_summary = json.loads(generate(history, "json", tmp_path).read_text())["summary"]

    assert {
        key: json.dumps(value) if isinstance(value, bool) else str(value) for key, value in json_summary.items()
    } == csv_summary


def test_unknown_format_is_refused(history, tmp_path):
    with pytest.raises(ValueError, match="format must be one of csv, xlsx, json"):
        report_generate(period=history, fmt="pdf", path=tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


def test_every_column_is_documented():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ofgem-report.md").read_text()

    for table in TABLES:
        assert f"### `{table.name}`" in doc
        for column in SUMMARY_METRICS if table.name == "summary" else table.columns:
            assert f"| `{column.name}` |" in doc, f"{table.name}.{column.name} missing from docs/ofgem-report.md"


def test_formula_like_codes_are_written_as_text(db, tmp_path):
    feeder = FeederFactory(code='=HYPERLINK("http://x")')
    charger = eligible_charger(feeder=feeder)
    curtail(event_with(feeder=feeder, start=utc(2026, 10, 5, 17, 0)), charger)
    period = period_month(2026, 10)

    events_csv = csv_tables(generate(period, "csv", tmp_path))["events"]
    book = openpyxl.load_workbook(generate(period, "xlsx", tmp_path))

    assert events_csv[1][1] == '\'=HYPERLINK("http://x")'
    cell = book["Events"]["B2"]
    assert cell.data_type == "s"
    assert cell.value == '=HYPERLINK("http://x")'
