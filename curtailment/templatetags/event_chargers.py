"""The open event's chargers on the feeder page: limited ones with their level, switched-off ones as off."""

from __future__ import annotations

from django import template

from curtailment.choices import ActionKind, ActionStatus
from curtailment.selectors import event_chargers_now

register = template.Library()

EVENT_CHARGERS_SHOWN = 25  # a big event's full list is on its own page


@register.inclusion_tag("curtailment/_event_chargers.html")
def event_chargers_panel(feeder, event) -> dict:
    """The ``#event-chargers`` list, refreshed on pushes since levels move with the load."""
    actions = event_chargers_now(event_id=event.pk) if event is not None else []
    limited = [a for a in actions if a.kind == ActionKind.LIMIT]
    off = [a for a in actions if a.kind == ActionKind.SWITCH_OFF]
    limited_kw = sum(a.expected_kw for a in limited if a.status == ActionStatus.CONFIRMED)
    off_kw = sum(a.expected_kw for a in off if a.status == ActionStatus.CONFIRMED)
    return {
        "feeder": feeder,
        "open_event": event,
        "chargers": actions[:EVENT_CHARGERS_SHOWN],
        "chargers_more": max(0, len(actions) - EVENT_CHARGERS_SHOWN),
        "chargers_limited": len(limited),
        "chargers_off": len(off),
        # What the devices have confirmed, as the event page's "withheld now".
        "limited_kw": limited_kw,
        "off_kw": off_kw,
        "withheld_kw": limited_kw + off_kw,
    }
