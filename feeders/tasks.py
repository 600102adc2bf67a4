from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from dnoctl.celery import app
from feeders.services import feeders_offline_sweep

logger = logging.getLogger(__name__)

OFFLINE_SWEEP_SECONDS = 30.0
READINGS_MAINTENANCE_SECONDS = 3600.0


@shared_task(name="feeders.tasks.feeders_offline_sweep", expires=OFFLINE_SWEEP_SECONDS)
def feeders_offline_sweep_task() -> int:
    """Mark feeders with no recent reading offline. Idempotent (the service compare-and-sets);
    expires before its next run so sweeps never pile up."""
    marked = feeders_offline_sweep()
    if marked:
        logger.info("marked %d feeder(s) offline: %s", len(marked), marked)
    return len(marked)


@shared_task(name="feeders.tasks.readings_maintain", expires=READINGS_MAINTENANCE_SECONDS)
def readings_maintain_task() -> dict:
    """Make the coming days' reading partitions ready, then apply the readings retention.

    Hourly although both change at most once a day: a run that failed (a lock not granted
    within the timeout) is tried again within the hour. Idempotent: a partition is created
    once and dropped once, and a run with nothing to do changes and audits nothing.
    """
    from feeders.services.retention import readings_partitions_maintain, readings_retention_apply

    now = timezone.now()
    readings_partitions_maintain(now=now)
    result = readings_retention_apply(now=now)
    return {"partitions_dropped": result.partitions_dropped, "rows_deleted": result.rows_deleted}


# Registered here rather than in settings so the schedule lives next to its task.
app.conf.beat_schedule.update(
    {
        "feeders-offline-sweep": {
            "task": "feeders.tasks.feeders_offline_sweep",
            "schedule": OFFLINE_SWEEP_SECONDS,
        },
        "feeders-readings-maintain": {
            "task": "feeders.tasks.readings_maintain",
            "schedule": READINGS_MAINTENANCE_SECONDS,
        },
    }
)
