"""Choices of the dcc app."""

from django.db import models


class ServiceRequestState(models.TextChoices):
    """The DCC conversation of one RequestID."""

    BUILT = "built", "Built and stored, not yet sent"
    SENT = "sent", "Sent, awaiting acknowledgement"
    ACKNOWLEDGED = "acknowledged", "Acknowledged (I0)"
    REJECTED = "rejected", "Rejected by the DCC"
    RESPONDED = "responded", "Device responded"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "No device response in time"
