"""The DCC conversation as stored: requests with their documents and history, and anti-replay counters."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.models import AppendOnlyModel
from dcc.choices import ServiceRequestState


class ServiceRequest(models.Model):
    """The DCC log, one row per RequestID, written before anything is sent so a crash is visible and a
    retry reuses the RequestID."""

    request_id = models.CharField(max_length=80, unique=True)
    srv = models.CharField("SRV", max_length=8)
    command_variant = models.PositiveSmallIntegerField()
    originator_eui64 = models.CharField(max_length=23)
    target_eui64 = models.CharField(max_length=23)
    counter = models.BigIntegerField()
    action = models.ForeignKey(
        "curtailment.CurtailmentAction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="service_requests",
    )
    hcalcs = models.ForeignKey(
        "consent.HCALCS", null=True, blank=True, on_delete=models.PROTECT, related_name="service_requests"
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text="The request this one completes (an 8.13 returning a locally delivered command's response)",
    )
    state = models.CharField(max_length=14, choices=ServiceRequestState.choices, default=ServiceRequestState.BUILT)
    ack_code = models.CharField(max_length=8, blank=True)
    response_code = models.CharField(max_length=8, blank=True)
    request_document = models.TextField()
    ack_document = models.TextField(blank=True)
    response_document = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    device_outcome = models.CharField(
        max_length=200, blank=True, help_text="What the device's GBCS answer said, decoded and authenticated"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["originator_eui64", "counter"], name="servicerequest_unique_counter"),
            models.CheckConstraint(
                condition=Q(command_variant__gte=1, command_variant__lte=8), name="servicerequest_cv_1_to_8"
            ),
        ]
        indexes = [
            models.Index(fields=["target_eui64", "created_at"], name="servicerequest_target"),
            # The DCC command budget (ADT) counts requests per SRV over the last hour and day.
            models.Index(fields=["created_at", "srv"], name="servicerequest_created_srv"),
        ]

    def __str__(self) -> str:
        return f"{self.srv} {self.request_id} ({self.state})"


class ServiceRequestTransition(AppendOnlyModel):
    """State history of a service request (append-only)."""

    service_request = models.ForeignKey(ServiceRequest, on_delete=models.PROTECT, related_name="transitions")
    at = models.DateTimeField()
    from_state = models.CharField(max_length=14, choices=ServiceRequestState.choices, blank=True)
    to_state = models.CharField(max_length=14, choices=ServiceRequestState.choices)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["service_request_id", "at", "id"]


class DccRequestCounter(models.Model):
    """The anti-replay counter per originator, persisted so it survives restarts and is shared by every worker."""

    originator_eui64 = models.CharField(max_length=23, unique=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.originator_eui64}: {self.value}"


class InboundDocument(AppendOnlyModel):
    """Every verified document the DCC posted, as received, with what was done with it; nothing
    verified is thrown away."""

    class Kind(models.TextChoices):
        RESPONSE = "response", "Device response"
        DEVICE_ALERT = "device_alert", "Device alert"
        DCC_ALERT = "dcc_alert", "DCC alert"

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied to its service request"
        DUPLICATE = "duplicate", "Duplicate of one already applied"
        IGNORED = "ignored", "Its request no longer awaited a response"
        UNKNOWN_REQUEST = "unknown_request", "Names a RequestID we never sent: logged"
        ALERT = "alert", "Alert passed to its handler"
        LOGGED = "logged", "Logged; nothing to act on"

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    code = models.CharField(max_length=8, help_text="ResponseCode, device AlertCode or DCCAlertCode")
    request_id = models.CharField(max_length=80, blank=True, db_index=True)
    response_id = models.CharField(max_length=80, blank=True)
    detail = models.CharField(max_length=200, blank=True, help_text="What the alert is about, in a few words")
    service_request = models.ForeignKey(
        ServiceRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="inbound_documents"
    )
    document = models.TextField()

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.code} {self.request_id or self.response_id} ({self.outcome})"


class DeviceCertificate(models.Model):
    """A device's GBCS certificate by key usage: DS checks its signed answers, KA the MACs on the rest
    and its alerts."""

    class Usage(models.TextChoices):
        DS = "DS", "Digital signing"
        KA = "KA", "Key agreement"

    eui64 = models.CharField("EUI-64", max_length=23)
    usage = models.CharField(max_length=2, choices=Usage.choices)
    certificate = models.TextField(help_text="PEM")
    source = models.CharField(max_length=100, help_text="Where it came from (file, SMKI, simulator)")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["eui64", "usage"], name="device_certificate_one_per_usage")]

    def __str__(self) -> str:
        return f"{self.eui64} {self.usage}"


class InboundHandled(AppendOnlyModel):
    """The handler finished for an inbound document; one never marked is handed over again (handlers are idempotent)."""

    document = models.OneToOneField(InboundDocument, on_delete=models.PROTECT, related_name="handled")
    handled_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"document {self.document_id} handled at {self.handled_at:%H:%M:%S}"
