from __future__ import annotations

import logging

from celery import shared_task

from dnoctl.celery import app
from feeders.services import feeders_offline_sweep

logger = logging.getLogger(__name__)

OFFLINE_SWEEP_SECONDS = 30.0


@shared_task(name="feeders.tasks.feeders_offline_sweep", expires=OFFLINE_SWEEP_SECONDS)
def feeders_offline_sweep_task() -> int:
    """Mark feeders with no recent reading offline. Idempotent (the service compare-and-sets);
    expires before its next run so sweeps never pile up."""
    marked = feeders_offline_sweep()
    if marked:
        logger.info("marked %d feeder(s) offline: %s", len(marked), marked)
    return len(marked)


# Registered here rather than in settings so the schedule lives next to its task.
app.conf.beat_schedule.update(
    {
        "feeders-offline-sweep": {
            "task": "feeders.tasks.feeders_offline_sweep",
            "schedule": OFFLINE_SWEEP_SECONDS,
        },
    }
)
