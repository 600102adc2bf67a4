"""Celery tasks of the curtailment engine and its beat schedule. Tasks take ids and call idempotent
services; only ``DccTransientError`` is retried, with backoff, jitter and a cap."""

from __future__ import annotations

import datetime as dt
import logging
import random

from celery import shared_task

from core.backoff import backoff_seconds
from dcc import config as dcc_config
from dcc.duis.errors import DccTransientError
from dnoctl.celery import app
from dnoctl.queueing import task_send

logger = logging.getLogger(__name__)

RECHECK_SECONDS = 60.0
# The time-to-failure clock and the escalation: 5-10 minutes from alert to failure leave no
# room for a minute's granularity.
PROTECTION_SECONDS = 15.0
HANDOVER_SWEEP_SECONDS = 15.0
MAX_RETRIES = 5  # DCC unreachable: then the action fails and is replaced
MAX_WAITS = 60  # waiting for another sender's claim (about two minutes)
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 20.0


def actions_dispatch_queue(action_ids: list[int]) -> None:
    """Queue one dispatch per action; with the broker down the minute re-check resumes them."""
    for action_id in action_ids:
        if not task_send(action_dispatch, (action_id,)):
            return


def actions_release_queue(action_ids: list[int]) -> None:
    """Queue one reset task per releasing action, as :func:`actions_dispatch_queue`."""
    for action_id in action_ids:
        if not task_send(action_release, (action_id,)):
            return


@shared_task(bind=True, name="curtailment.tasks.event_open_for_alert", max_retries=3)
def event_open_for_alert(self, alert_id: int) -> int | None:
    """Open an automatic event for an alert if called for. Idempotent: one open event per feeder."""
    from curtailment.services import event_open_for_alert as open_for_alert

    event = open_for_alert(alert_id=alert_id)
    return event.pk if event is not None else None


@shared_task(bind=True, name="curtailment.tasks.action_dispatch", acks_late=True)
def action_dispatch(self, action_id: int, transient_tries: int = 0) -> str:
    """Curtail one charger. Idempotent: compare-and-set steps, stored requests, the action's lease."""
    from curtailment.services import action_dispatch as dispatch
    from curtailment.services import action_failed

    def failed(exc: Exception) -> str:
        action_failed(action_id=action_id, reason=f"DCC unreachable after {transient_tries + 1} tries: {exc}")
        return "failed"

    return _action_command(self, dispatch, action_id, transient_tries, busy_wait_s=2.0, gave_up=failed)


@shared_task(bind=True, name="curtailment.tasks.action_release", acks_late=True)
def action_release(self, action_id: int, transient_tries: int = 0) -> str:
    """Reset one releasing action. Idempotent as :func:`action_dispatch`."""
    from curtailment.services import action_release as release

    def gave_up(exc: Exception) -> str:
        logger.error("7.8 for action %s gave up: %s; the device reverts by its duration", action_id, exc)
        return "gave up"

    return _action_command(self, release, action_id, transient_tries, gave_up=gave_up)


@shared_task(bind=True, name="curtailment.tasks.action_limit_change", acks_late=True)
def action_limit_change(self, action_id: int, transient_tries: int = 0) -> str:
    """7.16 moving one confirmed limit to its new level. Idempotent as :func:`action_dispatch`."""
    from curtailment.services.action import action_limit_change as change

    def gave_up(exc: Exception) -> str:
        logger.error("7.16 change for action %s gave up: %s; the earlier limit holds", action_id, exc)
        return "gave up"

    return _action_command(self, change, action_id, transient_tries, gave_up=gave_up)


@shared_task(bind=True, name="curtailment.tasks.action_switch_read", acks_late=True)
def action_switch_read(self, action_id: int, transient_tries: int = 0) -> str:
    """7.7 for a late action whose 7.6 the DCC accepted. Idempotent as :func:`action_dispatch`."""
    from curtailment.services.action import action_switch_read as read

    def gave_up(exc: Exception) -> str:
        logger.warning("7.7 for action %s gave up: %s", action_id, exc)
        return "gave up"

    return _action_command(self, read, action_id, transient_tries, gave_up=gave_up)


def _action_command(task, command, action_id: int, transient_tries: int, *, gave_up, busy_wait_s: float = 1.0) -> str:
    """Run one action's DCC command; waiting for a busy action does not use up the DCC-failure retries."""
    from curtailment.services.action import ActionBusy

    try:
        return command(action_id=action_id, client=dcc_config.client_for_this_thread())
    except ActionBusy as exc:
        raise _retry(task, exc, action_id, transient_tries, countdown=busy_wait_s + random.random()) from exc
    except DccTransientError as exc:
        if transient_tries >= MAX_RETRIES:
            return gave_up(exc)
        raise _retry(
            task,
            exc,
            action_id,
            transient_tries + 1,
            countdown=backoff_seconds(transient_tries, base=BACKOFF_BASE_S, cap=BACKOFF_CAP_S),
        ) from exc


def _retry(task, exc: Exception, action_id: int, transient_tries: int, *, countdown: float):
    """Re-queue the task; waits are bounded by ``MAX_WAITS``, DCC failures by ``MAX_RETRIES``."""
    return task.retry(
        exc=exc,
        args=(action_id,),
        kwargs={"transient_tries": transient_tries},
        countdown=countdown,
        max_retries=MAX_WAITS + MAX_RETRIES,
    )


@shared_task(name="curtailment.tasks.event_customers_notify")
def event_customers_notify(event_id: int, hcalcs_ids: list[int]) -> int:
    """NF2/NF4: queue the notices of newly curtailed chargers. Idempotent per (event, customer)."""
    from curtailment.models import CurtailmentEvent
    from curtailment.services.notify import customers_notify

    event = CurtailmentEvent.objects.filter(pk=event_id).first()
    if event is None:
        logger.info("event %s is gone; no notices", event_id)
        return 0
    customers_notify(event=event, hcalcs_ids=hcalcs_ids)
    return len(hcalcs_ids)


@shared_task(name="curtailment.tasks.event_confirmation_check")
def event_confirmation_check(event_id: int) -> int:
    """Mark late and replace actions unconfirmed in time. Idempotent: only unconfirmed ones move."""
    from curtailment.services import event_confirmations_check

    return event_confirmations_check(event_id=event_id)


@shared_task(name="curtailment.tasks.event_recheck", expires=RECHECK_SECONDS)
def event_recheck(event_id: int) -> str:
    """One minute's look at an open event. Idempotent: everything is re-derived from the database."""
    from curtailment.services import event_recheck as recheck

    return recheck(event_id=event_id)


@shared_task(name="curtailment.tasks.events_recheck", expires=RECHECK_SECONDS)
def events_recheck() -> int:
    """Beat, every minute: one re-check per open event (also what ends events whose worker died)."""
    from curtailment.selectors import events_open

    ids = list(events_open().values_list("pk", flat=True))
    for event_id in ids:
        event_recheck.delay(event_id)
    return len(ids)


@shared_task(name="curtailment.tasks.events_notices_sweep", expires=RECHECK_SECONDS)
def events_notices_sweep() -> int:
    """Beat: queue notices lost while the broker was down. Idempotent per (event, customer)."""
    from django.utils import timezone

    from curtailment.models import CurtailmentAction
    from curtailment.selectors import events_open
    from curtailment.services.event import NOTIFY_AFTER_S

    picked_before = timezone.now() - dt.timedelta(seconds=NOTIFY_AFTER_S + RECHECK_SECONDS)
    swept = 0
    for event_id in events_open().values_list("pk", flat=True):
        hcalcs_ids = list(
            CurtailmentAction.objects.filter(event_id=event_id, started_at__lte=picked_before).values_list(
                "hcalcs_id", flat=True
            )
        )
        if hcalcs_ids:
            event_customers_notify(event_id, hcalcs_ids)
            swept += 1
    return swept


@shared_task(name="curtailment.tasks.feeders_protection_check", expires=PROTECTION_SECONDS)
def feeders_protection_check() -> int:
    """Beat, every 15 s: one protection check per feeder at risk, and the DCC command budget check."""
    from curtailment.services.budget import dcc_budget_check
    from curtailment.services.protection import feeders_at_risk_ids

    ids = feeders_at_risk_ids()
    for feeder_id in ids:
        if not task_send(feeder_protection_check, (feeder_id,), expires=PROTECTION_SECONDS):
            break
    dcc_budget_check()
    return len(ids)


@shared_task(name="curtailment.tasks.feeder_protection_check", expires=PROTECTION_SECONDS)
def feeder_protection_check(feeder_id: int) -> str:
    """One feeder's clock and escalation. Idempotent: each stage once, under the clock's row lock."""
    from curtailment.services import feeder_protection_check as check

    return check(feeder_id=feeder_id)


@shared_task(name="curtailment.tasks.actions_without_consent_release", expires=RECHECK_SECONDS)
def actions_without_consent_release() -> int:
    """Beat: release chargers still curtailed after their consent ended (a missed hook). Idempotent."""
    from curtailment.services.consent_ended import actions_without_consent_release as release

    return len(release())


@shared_task(name="curtailment.tasks.alerts_handover_sweep", expires=HANDOVER_SWEEP_SECONDS)
def alerts_handover_sweep_task() -> int:
    """Re-send lost alert hand-overs. Idempotent: the engine finds the event it opened."""
    from curtailment.services import alerts_handover_sweep

    resent = alerts_handover_sweep()
    if resent:
        logger.warning("re-sent the engine hand-over of %d alert(s): %s", len(resent), resent)
    return len(resent)


# Registered here rather than in settings so the schedule lives next to its task.
app.conf.beat_schedule.update(
    {
        "curtailment-events-recheck": {"task": "curtailment.tasks.events_recheck", "schedule": RECHECK_SECONDS},
        "curtailment-feeders-protection-check": {
            "task": "curtailment.tasks.feeders_protection_check",
            "schedule": PROTECTION_SECONDS,
        },
        "curtailment-events-notices-sweep": {
            "task": "curtailment.tasks.events_notices_sweep",
            "schedule": RECHECK_SECONDS,
        },
        "curtailment-alerts-handover-sweep": {
            "task": "curtailment.tasks.alerts_handover_sweep",
            "schedule": HANDOVER_SWEEP_SECONDS,
        },
        "curtailment-actions-without-consent": {
            "task": "curtailment.tasks.actions_without_consent_release",
            "schedule": RECHECK_SECONDS,
        },
    }
)
