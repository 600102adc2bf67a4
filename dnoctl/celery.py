"""The Celery application. In embedded mode a worker thread runs on kombu's in-memory broker, so
countdowns and retries behave as in production."""

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
    """As Django does around each request: drop the connection only when broken or older than
    ``CONN_MAX_AGE``."""
    from django.db import close_old_connections

    if kwargs.get("task") is not None and getattr(kwargs["task"].request, "is_eager", False):
        return  # an eager task runs inside its caller's request or transaction
    close_old_connections()
