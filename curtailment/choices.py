"""Choices of the curtailment app."""

from django.db import models


class EventTrigger(models.TextChoices):
    AUTOMATIC = "automatic", "Automatic (feeder alert)"
    MANUAL = "manual", "Manual (operator)"
    EXTERNAL = "external", "External alert (SCADA)"


class EventStatus(models.TextChoices):
    """``active`` and ``releasing`` are the open states: at most one open event per feeder."""

    ACTIVE = "active", "Active"
    RELEASING = "releasing", "Releasing"
    ENDED = "ended", "Ended"


class EventEndReason(models.TextChoices):
    DURATION = "duration", "Planned duration elapsed"
    EARLY_RELEASE = "early_release", "Released early (load below clear level)"
    CANCELLED = "cancelled", "Cancelled by an operator"
    NOTHING_TO_CURTAIL = "nothing_to_curtail", "No eligible chargers"


class ActionKind(models.TextChoices):
    """An HCALCS is switched off (7.6), an APC held to a level (7.16), by its ``controller_type``."""

    SWITCH_OFF = "switch_off", "Switched off (7.6)"
    LIMIT = "limit", "Limited (7.16)"


class ActionStatus(models.TextChoices):
    """Lifecycle of one charger's curtailment within an event."""

    PLANNED = "planned", "Planned"
    BOOST_SETUP = "boost_setup", "Adding to boost button (7.9)"
    SENT = "sent", "Command sent (7.6 / 7.16)"
    ACKNOWLEDGED = "acknowledged", "Acknowledged by the DCC"
    CONFIRMED = "confirmed", "Confirmed by the device"
    LATE = "late", "No device confirmation in time"
    FAILED = "failed", "Failed"
    RELEASING = "releasing", "Reset sent (7.8 / 7.16 at 100 %)"
    ENDED = "ended", "Ended"


class ActionEndReason(models.TextChoices):
    DURATION = "duration", "Duration elapsed on the device"
    OVERRIDE = "override", "Customer pressed the boost button"
    RELEASED = "released", "Released early (7.8)"
    CANCELLED = "cancelled", "Event cancelled (7.8)"
    ROTATED = "rotated", "Rotated out (fairness)"
    FAILED = "failed", "Command failed"
    LATE = "late", "Replaced after no confirmation"
    UNCONFIRMED = "unconfirmed", "Never confirmed by the device"
    EXTENDED = "extended", "Continued by a follow-on 7.6"


class AspCallOffStatus(models.TextChoices):
    CALLED = "called", "Called off"
    RELEASED = "released", "Released"


class ClockState(models.TextChoices):
    """Where an at-risk feeder's load is heading (``curtailment.clock``)."""

    RISING = "rising", "Rising towards its rating"
    OVER_RATING = "over_rating", "Over its rating"
    STEADY = "steady", "Steady"
    FALLING = "falling", "Falling"
    UNKNOWN = "unknown", "No fresh reading"


class EscalationStage(models.TextChoices):
    """How far the engine has gone to get relief confirmed in time (in this order)."""

    WAITING = "waiting", "Waiting for confirmed relief"
    CHARGERS = "chargers", "More chargers called"
    ASP = "asp", "ASP asked for more"
    OPERATOR = "operator", "Operator alarm"
