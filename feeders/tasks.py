"""Celery tasks of the feeders app, and their beat schedule."""

from __future__ import annotations

import logging

from celery import shared_task

from dnoctl.celery import app
from feeders.services import alerts_handover_sweep, feeders_offline_sweep

logger = logging.getLogger(__name__)

OFFLINE_SWEEP_SECONDS = 30.0
HANDOVER_SWEEP_SECONDS = 15.0


@shared_task(name="feeders.tasks.feeders_offline_sweep", expires=OFFLINE_SWEEP_SECONDS)
def feeders_offline_sweep_task() -> int:
    """Mark feeders with no recent reading offline.

    One task for all feeders rather than one per feeder: the work is one indexed query
    plus a compare-and-set update for the few feeders that went silent. Idempotent: the service compare-and-sets each feeder, so overlapping runs (or a run
    repeated after a worker crash) mark each feeder once. Expires before its next run so a
    backlog never piles up sweeps.
    """
    marked = feeders_offline_sweep()
    if marked:
        logger.info("marked %d feeder(s) offline: %s", len(marked), marked)
    return len(marked)


@shared_task(name="feeders.tasks.alerts_handover_sweep", expires=HANDOVER_SWEEP_SECONDS)
def alerts_handover_sweep_task() -> int:
    """Re-send the engine hand-over of alerts whose event never came (the broker was down
    when the alert committed), audited per alert. Idempotent: the engine's task finds the
    event it opened, and the service skips alerts re-sent within the last two minutes, so
    overlapping sweeps queue at most a duplicate the engine ignores. Expires before its
    next run."""
    resent = alerts_handover_sweep()
    if resent:
        logger.warning("re-sent the engine hand-over of %d alert(s): %s", len(resent), resent)
    return len(resent)


# Registered here rather than in settings so the schedule lives next to its task.
app.conf.beat_schedule.update(
    {
        "feeders-offline-sweep": {
            "task": "feeders.tasks.feeders_offline_sweep",
            "schedule": OFFLINE_SWEEP_SECONDS,
        },
        "feeders-alerts-handover-sweep": {
            "task": "feeders.tasks.alerts_handover_sweep",
            "schedule": HANDOVER_SWEEP_SECONDS,
        },
    }
)
