"""The Celery application shared by the web, worker and beat processes.

In embedded mode the broker is kombu's in-memory transport and ``run_embedded`` starts a
worker thread in the same process, so countdowns, ETAs and retries behave as in production.
"""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

from dnoctl.liveness import WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dnoctl.settings")

app = Celery("dnoctl")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task modules outside an app's own ``tasks.py`` must be named, or a worker never loads them
# and their messages arrive as "unregistered task".
app.autodiscover_tasks(["curtailment.openadr"])
# The worker's heartbeat, beating from the consumer's loop while it consumes (/healthz).
app.steps["consumer"].add(WorkerHeartbeat)


@task_prerun.connect
@task_postrun.connect
def _database_connections_tidy(**kwargs) -> None:
    """Around each task, as Django does around each request: drop the thread's database
    connection only when it is broken or older than ``CONN_MAX_AGE`` (and health-check it
    before reuse, with ``CONN_HEALTH_CHECKS``). Celery's own close-every-time is off
    (``CELERY_DB_REUSE_MAX`` in settings)."""
    from django.db import close_old_connections

    if kwargs.get("task") is not None and getattr(kwargs["task"].request, "is_eager", False):
        return  # an eager task runs inside its caller's request or transaction
    close_old_connections()
