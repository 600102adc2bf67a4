"""A worker loads every task module, as a fresh process would."""

import json
import subprocess
import sys

import pytest

from tests.processes import ROOT

PROBE = (
    "import django, json; django.setup(); from dnoctl.celery import app; "
    "app.loader.import_default_modules(); print(json.dumps(sorted(app.tasks)))"
)


def test_a_fresh_worker_process_registers_the_tasks_of_every_area():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    names = set(json.loads(done.stdout.strip().splitlines()[-1]))
    # one task per area, each defined in a different module the worker must import
    for expected in (
        "curtailment.reports.export",
        "curtailment.tasks.event_open_for_alert",
        "feeders.tasks.feeders_offline_sweep",
    ):
        assert expected in names, (
            f"{expected} not registered: {sorted(n for n in names if not n.startswith('celery.'))}"
        )
    assert any(name.startswith("consent.tasks.") for name in names)


def _around_task(fixup, task, moment: str) -> None:
    """What a worker does around each task: Celery's Django fix-up, then our handlers."""
    from celery.signals import task_postrun, task_prerun

    if moment == "prerun":
        fixup.on_task_prerun(sender=task)
        task_prerun.send(sender=task, task=task, task_id="t-1", args=(), kwargs={})
    else:
        fixup.on_task_postrun(sender=task)
        task_postrun.send(sender=task, task=task, task_id="t-1", args=(), kwargs={}, retval=None, state="SUCCESS")


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_connection_from_one_task_to_the_next():
    from celery.fixups.django import DjangoWorkerFixup
    from django.db import connection

    from dnoctl.celery import app

    fixup = DjangoWorkerFixup(app)
    from curtailment.tasks import event_recheck as task

    for _ in range(3):
        _around_task(fixup, task, "prerun")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        _around_task(fixup, task, "postrun")
        assert connection.connection is not None, "the connection was closed after the task"
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone()[0] == pid  # the same PostgreSQL backend, not a new one


@pytest.mark.django_db(transaction=True)
def test_a_worker_drops_a_database_connection_older_than_conn_max_age_after_a_task():
    import time

    from celery.fixups.django import DjangoWorkerFixup
    from django.db import connection

    from dnoctl.celery import app

    fixup = DjangoWorkerFixup(app)
    from curtailment.tasks import event_recheck as task

    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1  # CONN_MAX_AGE has passed
    _around_task(fixup, task, "postrun")
    assert connection.connection is None
