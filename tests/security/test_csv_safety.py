"""CSV formula injection: one guard (``dnoctl.csv_safety``) for every CSV the application
writes, the audit export and the Ofgem report alike."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from core.audit import audit_record
from dnoctl.csv_safety import FORMULA_PREFIXES, csv_cell, csv_row

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_a_cell_starting_like_a_formula_is_written_as_text(prefix):
    assert csv_cell(f"{prefix}HYPERLINK(1)") == f"'{prefix}HYPERLINK(1)"


@pytest.mark.parametrize("text", ["\t=cmd|' /C calc'!A0", "\r=1+1", "\uff1dSUM(A1)", "@SUM(A1)", "-2+3", "+44 20"])
def test_tab_carriage_return_and_full_width_prefixes_are_guarded(text):
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["FDR-001", "a=b", " plain", "", "'already quoted"])
def test_ordinary_text_is_unchanged(value):
    assert csv_cell(value) == value


def test_numbers_and_none_are_data_not_text():
    assert csv_row([-5, -2.5, 0, None, True]) == [-5, -2.5, 0, "", True]


def test_every_csv_writer_in_the_application_goes_through_the_guard():
    """A new CSV export that forgets the guard fails here: every module that makes a
    ``csv.writer`` imports ``dnoctl.csv_safety``."""
    writers = [
        path
        for app in ("dnoctl", "feeders", "consent", "curtailment", "dcc")
        for path in (REPO / app).rglob("*.py")
        if "csv.writer(" in path.read_text() or "csv.DictWriter(" in path.read_text()
    ]
    assert writers, "no CSV writer found: the search is wrong"
    for path in writers:
        assert "dnoctl.csv_safety import" in path.read_text(), f"{path.relative_to(REPO)} writes CSV unguarded"


@pytest.mark.django_db
def test_the_audit_csv_guards_every_column_including_the_actor(viewer_client):
    hostile = User.objects.create_user(username="@evil", password="x-irrelevant-1")
    audit_record(action="event.start", actor_user=hostile, reason="\t=HYPERLINK(1)", inputs={"k": "v"})

    response = viewer_client.get(reverse("curtailment:audit_csv"))

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    entry = rows[1]
    assert entry[2] == "'@evil"
    assert entry[6] == "'\t=HYPERLINK(1)"
    assert entry[7] == '{"k": "v"}'
