"""The time-to-failure clock panel on the feeder page, without the feeders app knowing the engine's models."""

from __future__ import annotations

from django import template

from curtailment.models import FailureClock

register = template.Library()


@register.inclusion_tag("curtailment/_protection_panel.html")
def protection_panel(feeder) -> dict:
    """The feeder's clock panel (``#protection``), refreshed by the page on ``protection.clock``."""
    return {"feeder": feeder, "clock": FailureClock.objects.filter(feeder_id=feeder.pk).first()}


@register.filter
def minutes(value: float | None) -> str:
    """Minutes left as the control room reads them: "under 1 min", "4 min"."""
    if value is None:
        return ""
    return "under 1 min" if value < 1 else f"{value:.0f} min"
