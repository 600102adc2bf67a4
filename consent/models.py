"""Consent belongs to the occupant, not the house: a ``Consent`` hangs off a ``Tenancy``, so a
new occupant has no consent until they give it (NF3)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from consent.choices import (
    CommsHubType,
    ConsentStatus,
    ControllerType,
    ElementType,
    LoadLabel,
    MpanRole,
    NotificationChannel,
    NotificationFrequency,
    NotificationKind,
    NotificationStatus,
)
from consent.validators import EUI64_PATTERN, MPAN_PATTERN, validate_eui64, validate_mpan_core
from core.models import AppendOnlyModel


class Premise(models.Model):
    """A metered premise on an LV feeder. Only domestic premises may be curtailed (NF1)."""

    reference = models.CharField(max_length=32, unique=True, help_text="The DNO's premise reference (e.g. UPRN)")
    address = models.CharField(max_length=300)
    postcode = models.CharField(max_length=8)
    domestic = models.BooleanField(default=True)
    feeder = models.ForeignKey(
        "feeders.Feeder", null=True, blank=True, on_delete=models.SET_NULL, related_name="premises"
    )

    class Meta:
        ordering = ["reference"]
        permissions = [
            ("import_premises", "Can import the premises register"),
            ("view_personal_data", "Can see customers' names and contact details"),
            ("manage_consent", "Can record consent and changes of tenancy"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.postcode}"


class Meter(models.Model):
    """A SMETS2 electricity smart meter (ESME) and the comms hub it talks through."""

    esme_eui64 = models.CharField(max_length=23, unique=True, validators=[validate_eui64])
    premise = models.ForeignKey(Premise, on_delete=models.CASCADE, related_name="meters")
    element_type = models.CharField(max_length=8, choices=ElementType.choices, default=ElementType.SINGLE)
    comms_hub_type = models.CharField(max_length=24, choices=CommsHubType.choices, default=CommsHubType.SINGLE_BAND)
    firmware_version = models.CharField(max_length=32)
    supports_eno_use_cases = models.BooleanField(
        default=False, help_text="Firmware carries the SECMP0046 use cases (ECS47/ECS62) for the ENO"
    )

    class Meta:
        ordering = ["esme_eui64"]
        constraints = [models.CheckConstraint(condition=Q(esme_eui64__regex=EUI64_PATTERN), name="meter_eui64_format")]

    def __str__(self) -> str:
        return self.esme_eui64


class MPAN(models.Model):
    """A Meter Point Administration Number core on one register of a meter (seed 003)."""

    core = models.CharField(max_length=13, unique=True, validators=[validate_mpan_core])
    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="mpans")
    role = models.CharField(max_length=20, choices=MpanRole.choices, default=MpanRole.IMPORT_PRIMARY)

    class Meta:
        verbose_name = "MPAN"
        ordering = ["core"]
        constraints = [
            models.CheckConstraint(condition=Q(core__regex=MPAN_PATTERN), name="mpan_core_13_digits"),
            models.UniqueConstraint(fields=["meter", "role"], name="mpan_one_per_meter_role"),
        ]

    def __str__(self) -> str:
        return self.core

    def clean(self) -> None:
        secondary = self.role in (MpanRole.IMPORT_SECONDARY, MpanRole.EXPORT_SECONDARY)
        if secondary and self.meter_id and self.meter.element_type != ElementType.TWIN:
            raise ValidationError({"role": "a secondary-element MPAN needs a twin-element meter"})


class HCALCS(models.Model):
    """A HAN-connected auxiliary controller of the meter: an HCALCS switch or an APC, as
    ``controller_type`` says. One table, since both share the meter's index space, the consent
    and eligibility rules, the boost button and the usage ledger."""

    eui64 = models.CharField("EUI-64", max_length=23, unique=True, validators=[validate_eui64])
    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="hcalcs")
    switch_index = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    controller_type = models.CharField(
        max_length=8,
        choices=ControllerType.choices,
        default=ControllerType.HCALCS,
        db_default=ControllerType.HCALCS,  # bulk SQL loaders (reports' synthetic year) name no type
        help_text="HCALCS: switched off (7.6); APC: limited to a % of rated_kw (7.16)",
    )
    label = models.CharField(max_length=16, choices=LoadLabel.choices, default=LoadLabel.UNLABELLED)
    rated_kw = models.FloatField(
        default=7.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(50)],
        help_text="Rated power of the load; for an APC its maximum flow (100 %)",
    )
    on_boost_button = models.BooleanField(default=False)

    class Meta:
        verbose_name = "HCALCS"
        verbose_name_plural = "HCALCS"
        ordering = ["eui64"]
        constraints = [
            models.CheckConstraint(condition=Q(eui64__regex=EUI64_PATTERN), name="hcalcs_eui64_format"),
            models.CheckConstraint(condition=Q(switch_index__gte=1, switch_index__lte=5), name="hcalcs_index_1_to_5"),
            models.UniqueConstraint(fields=["meter", "switch_index"], name="hcalcs_one_per_meter_index"),
            models.CheckConstraint(condition=Q(rated_kw__gt=0), name="hcalcs_rated_kw_positive"),
            models.CheckConstraint(
                condition=Q(controller_type__in=ControllerType.values), name="hcalcs_controller_type_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.eui64}#{self.switch_index}"

    @property
    def is_apc(self) -> bool:
        return self.controller_type == ControllerType.APC


class Customer(models.Model):
    """An occupant; names and contact details are personal data (``consent.view_personal_data``)."""

    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    postal_address = models.CharField(max_length=300, blank=True)
    external_ref = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Customer {self.pk}"


class Tenancy(models.Model):
    """Who occupies a premise, from ``start`` to ``end`` (open when null); tenancies never overlap."""

    premise = models.ForeignKey(Premise, on_delete=models.CASCADE, related_name="tenancies")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="tenancies")
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "tenancies"
        ordering = ["premise_id", "-start"]
        constraints = [
            models.UniqueConstraint(
                fields=["premise"], condition=Q(end__isnull=True), name="tenancy_one_open_per_premise"
            ),
            models.CheckConstraint(
                condition=Q(end__isnull=True) | Q(end__gt=models.F("start")), name="tenancy_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"Tenancy {self.pk} of {self.premise_id}"

    def clean(self) -> None:
        if self.end is not None and self.start is not None and self.end <= self.start:
            raise ValidationError({"end": "a tenancy must end after it starts"})
        if not self.premise_id or self.start is None:
            return
        others = Tenancy.objects.filter(premise_id=self.premise_id).exclude(pk=self.pk)
        if self.end is None and others.filter(end__isnull=True).exists():
            raise ValidationError({"end": "the premise already has an open tenancy; end it first"})
        overlapping = others.filter(Q(end__isnull=True) | Q(end__gt=self.start))
        if self.end is not None:
            overlapping = overlapping.filter(start__lt=self.end)
        if overlapping.exists():
            raise ValidationError({"start": "tenancy overlaps another tenancy of the same premise"})

    @property
    def is_current(self) -> bool:
        return self.end is None


class Consent(models.Model):
    """The occupant's consent to load limiting of their EV charger (R4, NF2); one per tenancy."""

    tenancy = models.OneToOneField(Tenancy, on_delete=models.CASCADE, related_name="consent")
    status = models.CharField(max_length=12, choices=ConsentStatus.choices, default=ConsentStatus.PENDING)
    override_allowed = models.BooleanField(default=True, help_text="May override each event with the boost button")
    notification_channel = models.CharField(
        max_length=8, choices=NotificationChannel.choices, default=NotificationChannel.EMAIL
    )
    notification_frequency = models.CharField(
        max_length=20, choices=NotificationFrequency.choices, default=NotificationFrequency.EACH_EVENT
    )
    evidence_channel = models.CharField(max_length=32, blank=True)
    evidence_date = models.DateField(null=True, blank=True)
    evidence_reference = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status"], name="consent_status")]

    def __str__(self) -> str:
        return f"Consent {self.pk} ({self.status})"

    def clean(self) -> None:
        if self.status == ConsentStatus.GRANTED and not (self.evidence_channel and self.evidence_date):
            raise ValidationError({"evidence_channel": "granted consent needs evidence (channel and date)"})


class ConsentChange(AppendOnlyModel):
    """Append-only history of a consent: every status or permission change, who and why."""

    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="history")
    at = models.DateTimeField()
    from_status = models.CharField(max_length=12, choices=ConsentStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=ConsentStatus.choices)
    override_allowed = models.BooleanField()
    changed_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.PROTECT)
    actor = models.CharField(max_length=100, help_text="User name, API client or automatic rule")
    reason = models.TextField()
    evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["consent_id", "at", "id"]

    def __str__(self) -> str:
        return f"{self.consent_id}: {self.from_status or '-'} -> {self.to_status}"


class Notification(models.Model):
    """A notice to a customer (NF2/NF4), with its delivery state. Failed sends are retried."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="notifications")
    premise = models.ForeignKey(Premise, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications")
    event = models.ForeignKey(
        "curtailment.CurtailmentEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    channel = models.CharField(max_length=8, choices=NotificationChannel.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=8, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    due_at = models.DateTimeField(help_text="When to send (digests and statements are batched)")
    sent_at = models.DateTimeField(null=True, blank=True)
    # An event notice names the customer's own pause (their chargers' actions), not the
    # event's window: digests and statements render these when they are sent.
    window_start = models.DateTimeField(null=True, blank=True, help_text="Event notice: when the pause starts")
    window_end = models.DateTimeField(null=True, blank=True, help_text="Event notice: when it ends at the latest")
    controls = models.JSONField(
        default=dict,
        blank=True,
        help_text='Event notice: what it told of, {"paused": chargers switched off, "limits": '
        '[{"level_percent", "limit_kw"}]} (a limited charger is slowed, not paused)',
    )
    digest = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="digest_items",
        help_text="For a batched event notice: the daily digest or monthly statement that carries it",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "due_at"], name="notification_due")]

    def __str__(self) -> str:
        return f"{self.kind} to customer {self.customer_id} ({self.status})"


class ApiToken(models.Model):
    """A bearer token of a customer system, acting as a service-account ``user`` so the API
    checks the screens' permissions. Only its SHA-256 is stored."""

    name = models.CharField(max_length=100, unique=True)
    user = models.ForeignKey("auth.User", on_delete=models.PROTECT, related_name="consent_api_tokens")
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return self.name


class HalfHourlyConsumption(models.Model):
    """Half-hourly energy per MPAN, kept three months like the meter's own log (seed 003)."""

    mpan = models.ForeignKey(MPAN, on_delete=models.CASCADE, related_name="half_hours")
    period_start = models.DateTimeField(help_text="UTC start of the half hour")
    kwh = models.FloatField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mpan", "period_start"], name="halfhour_unique_mpan_period"),
            models.CheckConstraint(condition=Q(kwh__gte=0), name="halfhour_kwh_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.mpan_id}@{self.period_start.isoformat()}"
