"""The audit trail: the id of the request or task that wrote each entry, what a change
changed (before and after), one style of action names (older names still found), and
append-only on PostgreSQL and on SQLite alike."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

import pytest
from celery.signals import task_postrun, task_prerun
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from core.audit import audit_record, changes_between
from core.models import AuditEntry
from core.request_id import request_id_bound, request_id_get, task_request_id_bind, task_request_id_unbind
from core.selectors import audit_actions_recorded, audit_entries_filtered
from curtailment.tasks import alerts_handover_sweep_task
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
AUTO_OFF = {"auto-enabled": "0", "auto-reason": "works on the feeder", "auto-confirm": "on"}
AUTO_ON = {"auto-enabled": "1", "auto-reason": "works done", "auto-confirm": "on"}
NO_FILTERS = {"actor": "", "action": "", "target": "", "q": "", "since": None, "until": None}


def test_an_entry_carries_the_id_of_the_request_that_wrote_it_and_the_next_request_another(engineer_client):
    feeder = FeederFactory(automatic_curtailment=True)
    url = reverse("feeders:feeder_automatic", args=[feeder.pk])

    first = engineer_client.post(url, AUTO_OFF)
    second = engineer_client.post(url, AUTO_ON)

    off, on = AuditEntry.objects.order_by("id")
    assert off.request_id == first["X-Request-ID"]
    assert on.request_id == second["X-Request-ID"]
    assert off.request_id != on.request_id


def test_entries_within_one_request_share_its_id(operator):
    with request_id_bound("req-1234567890"):
        one = audit_record(action="test.one", actor_user=operator)
        two = audit_record(action="test.two", actor_user=operator)
    outside = audit_record(action="test.three", actor_user=operator)

    assert one.request_id == two.request_id == "req-1234567890"
    assert outside.request_id is None


def test_a_task_binds_its_id_for_its_run_and_unbinds_it_after(operator):
    # The handlers Celery calls around a task (sending the signals themselves would also
    # run the worker's connection tidying, which closes the test's transaction).
    task_request_id_bind(task_id="task-abc", task=alerts_handover_sweep_task)
    try:
        inside = audit_record(action="test.inside", actor_user=operator)
    finally:
        task_request_id_unbind(task_id="task-abc", task=alerts_handover_sweep_task)
    after = audit_record(action="test.after", actor_user=operator)

    assert inside.request_id == "task-abc"
    assert after.request_id is None


def test_the_task_handlers_are_connected_to_celery():
    def receivers(signal) -> list:
        return [ref() if isinstance(ref, weakref.ReferenceType) else ref for _, ref in signal.receivers]

    assert task_request_id_bind in receivers(task_prerun)
    assert task_request_id_unbind in receivers(task_postrun)


def test_an_eager_task_keeps_its_callers_request_id(operator):
    with request_id_bound("req-caller-0001"):
        alerts_handover_sweep_task.apply()
        assert request_id_get() == "req-caller-0001"


def test_a_feeder_mode_change_records_its_value_before_and_after(engineer_client):
    feeder = FeederFactory(automatic_curtailment=True)

    engineer_client.post(reverse("feeders:feeder_automatic", args=[feeder.pk]), AUTO_OFF)

    entry = AuditEntry.objects.get(action="feeder.automatic_off")
    assert entry.changes == {"automatic_curtailment": {"before": True, "after": False}}


def test_changes_between_keeps_only_what_changed_as_json():
    import datetime as dt

    changes = changes_between(
        {"status": "pending", "evidence_date": None, "channel": "email"},
        {"status": "granted", "evidence_date": dt.date(2026, 3, 29), "channel": "email"},
    )

    assert changes == {
        "evidence_date": {"before": None, "after": "2026-03-29"},
        "status": {"before": "pending", "after": "granted"},
    }


def test_an_action_name_in_another_style_is_refused_and_nothing_is_stored(operator):
    for name in ("alert_raised", "Event.Start", "event", "event.", "event start"):
        with pytest.raises(ValueError, match=r"<noun>\.<verb>"):
            audit_record(action=name, actor_user=operator)

    assert not AuditEntry.objects.exists()


def test_an_entry_stored_under_a_former_name_is_found_and_shown_by_its_current_name(operator):
    from django.utils import timezone

    # As written before the names were one style (the writer refuses the old name now).
    old = AuditEntry.objects.create(at=timezone.now(), actor="rule:detection", action="alert_raised")
    new = audit_record(action="alert.raised", rule="detection")
    audit_record(action="alert.acknowledge", actor_user=operator)

    found = audit_entries_filtered(filters={**NO_FILTERS, "action": "alert.raised"})

    assert set(found) == {old, new}
    assert old.action == "alert_raised"  # the row is not rewritten
    assert old.action_name == "alert.raised"
    assert audit_actions_recorded() == ["alert.acknowledge", "alert.raised"]


def test_postgresql_refuses_updating_or_deleting_an_entry(operator):
    entry = audit_record(action="test.kept", actor_user=operator)

    for statement in (
        "UPDATE curtailment_auditentry SET reason = 'x' WHERE id = %s",
        "DELETE FROM curtailment_auditentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [entry.pk])

    assert AuditEntry.objects.get(pk=entry.pk).reason == ""


SQLITE_CHILD = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.db import DatabaseError, connection, transaction
from core.audit import audit_record
from core.models import AuditEntry
entry = audit_record(action="test.kept", rule="sqlite-check", reason="as written")
refused = {}
for name, change in [("update", lambda: AuditEntry.objects.filter(pk=entry.pk).update(reason="rewritten")),
                     ("delete", lambda: AuditEntry.objects.filter(pk=entry.pk).delete())]:
    try:
        with transaction.atomic():
            change()
        refused[name] = None
    except DatabaseError as exc:
        refused[name] = str(exc)
with connection.cursor() as cursor:
    cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
    triggers = cursor.fetchall()
print(json.dumps({"refused": refused, "reason": AuditEntry.objects.get(pk=entry.pk).reason, "triggers": triggers}))
"""


def test_sqlite_refuses_updating_or_deleting_history_as_postgresql_does(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DNOCTL_SQLITE_PATH=str(tmp_path / "embedded.sqlite3"), PYTHONPATH=str(ROOT))
    child = subprocess.run([sys.executable, "-c", SQLITE_CHILD], cwd=ROOT, env=env, capture_output=True, text=True)
    assert child.returncode == 0, child.stderr[-3000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])

    assert "append-only" in result["refused"]["update"]
    assert "append-only" in result["refused"]["delete"]
    assert result["reason"] == "as written"
    guarded = {table for table, _ in result["triggers"]}
    assert guarded == {
        "curtailment_auditentry",
        "curtailment_aspreport",
        "consent_consentchange",
        "dcc_servicerequesttransition",
        "dcc_inbounddocument",
        "dcc_inboundhandled",
    }
