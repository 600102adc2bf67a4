"""Adapter to the consent app's customer notifications (NF2/NF4).

Kept tiny so the engine does not depend on how notifications are sent: the consent app
chooses the channel and frequency per customer; the engine only says who was curtailed.
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger("curtailment")


def customers_notify(*, event, hcalcs_ids: list[int]) -> None:
    """Queue the load-limiting notice for the customers whose chargers were curtailed.

    Idempotent per (event, customer) in the consent app. A failure to queue a notice never
    stops curtailment: the feeder comes first, and the missing notice is logged.
    """
    if not hcalcs_ids:
        return
    from consent.notifications import notification_event_queue

    try:
        with transaction.atomic():
            notification_event_queue(event=event, hcalcs_ids=list(hcalcs_ids))
    except Exception:
        logger.exception("could not queue notifications for event %s", event.pk)
