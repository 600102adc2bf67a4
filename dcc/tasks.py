"""Celery tasks of the DCC integration (beat): finish what a crash left, and time requests out."""

from __future__ import annotations

from celery import shared_task

from dnoctl.celery import app

SWEEP_SECONDS = 60.0


@shared_task(name="dcc.tasks.inbound_handlers_retry", expires=SWEEP_SECONDS)
def inbound_handlers_retry() -> int:
    """Hand applied DCC documents whose handler never finished to it again (idempotent)."""
    from dcc.services import inbound_handlers_retry as retry

    return retry()


@shared_task(name="dcc.tasks.service_requests_expire", expires=SWEEP_SECONDS)
def service_requests_expire() -> int:
    """Move requests past their deadlines to ``timed_out`` with the reason (idempotent)."""
    from dcc.services import service_requests_expire as expire

    return expire()


# Registered here rather than in settings so the schedule lives next to its task.
app.conf.beat_schedule.update(
    {
        "dcc-inbound-handlers-retry": {"task": "dcc.tasks.inbound_handlers_retry", "schedule": SWEEP_SECONDS},
        "dcc-service-requests-expire": {"task": "dcc.tasks.service_requests_expire", "schedule": SWEEP_SECONDS},
    }
)
