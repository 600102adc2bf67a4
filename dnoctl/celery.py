"""The Celery application shared by the web, worker and beat processes.

In embedded mode the broker is kombu's in-memory transport and ``run_embedded`` starts a
worker thread in the same process, so countdowns, ETAs and retries behave as in production.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dnoctl.settings")

app = Celery("dnoctl")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task modules outside an app's own ``tasks.py`` must be named, or a worker never loads them
# and their messages arrive as "unregistered task".
app.autodiscover_tasks(["curtailment.reports"])
