"""Curtailment writes (the engine). Import the services from here."""

from curtailment.services.action import (
    action_confirmed,
    action_dispatch,
    action_failed,
    action_late,
    action_release,
    action_released,
    hcalcs_boost_pressed,
    service_request_outcome,
)
from curtailment.services.event import (
    EventAlreadyOpen,
    curtailment_event_cancel,
    curtailment_event_start,
    event_close_if_done,
    event_release,
    event_top_up,
    feeder_managed_mark,
    required_reduction_kw,
)
from curtailment.services.handover import HANDOVER_RULE, alerts_handover_sweep
from curtailment.services.lifetime import event_open_for_alert
from curtailment.services.protection import feeder_protection_check
from curtailment.services.recheck import event_confirmations_check, event_recheck

__all__ = [
    "HANDOVER_RULE",
    "EventAlreadyOpen",
    "action_confirmed",
    "action_dispatch",
    "action_failed",
    "action_late",
    "action_release",
    "action_released",
    "alerts_handover_sweep",
    "curtailment_event_cancel",
    "curtailment_event_start",
    "event_close_if_done",
    "event_confirmations_check",
    "event_open_for_alert",
    "event_recheck",
    "event_release",
    "event_top_up",
    "feeder_managed_mark",
    "feeder_protection_check",
    "hcalcs_boost_pressed",
    "required_reduction_kw",
    "service_request_outcome",
]
