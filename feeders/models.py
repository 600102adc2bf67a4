from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from feeders.choices import AlertKind, FeederStatus, LicenceArea


class Substation(models.Model):
    """A secondary (distribution) substation: the source end of its LV feeders."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    latitude = models.DecimalField(
        max_digits=9, decimal_places=6, validators=[MinValueValidator(49), MaxValueValidator(61)]
    )
    longitude = models.DecimalField(
        max_digits=9, decimal_places=6, validators=[MinValueValidator(-9), MaxValueValidator(2)]
    )
    licence_area = models.CharField(max_length=32, choices=LicenceArea.choices)

    class Meta:
        ordering = ["code"]
        constraints = [
            # GB only: a coordinate outside the island is a typo, not a substation.
            models.CheckConstraint(condition=Q(latitude__gte=49, latitude__lte=61), name="substation_latitude_gb"),
            models.CheckConstraint(condition=Q(longitude__gte=-9, longitude__lte=2), name="substation_longitude_gb"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Feeder(models.Model):
    """An LV feeder out of a substation, with its rating and alert thresholds. ``status`` and
    the ``last_*`` fields are a summary kept by ingest so the overview is one indexed query."""

    code = models.CharField(max_length=32, unique=True)
    substation = models.ForeignKey(Substation, on_delete=models.PROTECT, related_name="feeders")
    phases = models.PositiveSmallIntegerField(default=3, choices=[(1, "Single phase"), (3, "Three phase")])
    rating_amps = models.FloatField(help_text="Rating per phase, in amps", validators=[MinValueValidator(1)])
    nominal_voltage = models.FloatField(default=230.0, help_text="Phase-to-neutral volts")
    at_risk_percent = models.FloatField(default=90.0, validators=[MinValueValidator(1), MaxValueValidator(150)])
    clear_percent = models.FloatField(default=80.0, validators=[MinValueValidator(1), MaxValueValidator(150)])
    high_risk = models.BooleanField(default=False, help_text="Designated high-risk (R1)")
    automatic_curtailment = models.BooleanField(default=False)
    monitor_device_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    status = models.CharField(max_length=16, choices=FeederStatus.choices, default=FeederStatus.OFFLINE)
    last_reading_at = models.DateTimeField(null=True, blank=True)
    last_load_percent = models.FloatField(null=True, blank=True)
    # NF10: the first month of the current run of consecutive managed months.
    managed_since = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["code"]
        permissions = [("configure_feeders", "Can change feeders, thresholds and automatic mode")]
        constraints = [
            models.CheckConstraint(condition=Q(phases__in=[1, 3]), name="feeder_phases_1_or_3"),
            models.CheckConstraint(condition=Q(rating_amps__gt=0), name="feeder_rating_positive"),
            models.CheckConstraint(
                condition=Q(clear_percent__lt=models.F("at_risk_percent")), name="feeder_clear_below_at_risk"
            ),
        ]
        # Deliberately no index on status / last_load_percent / last_reading_at: ingest
        # rewrites them for every batch, and with none of them indexed PostgreSQL updates the
        # row in place (HOT), without touching any index. Sorting a few thousand feeders for
        # the overview needs no index.

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        both_set = self.clear_percent is not None and self.at_risk_percent is not None
        if both_set and self.clear_percent >= self.at_risk_percent:
            raise ValidationError({"clear_percent": "must be below at_risk_percent (hysteresis)"})

    @property
    def rating_kw(self) -> float:
        """At nominal voltage and unity power factor."""
        return self.rating_amps * self.nominal_voltage * self.phases / 1000.0


class MonitorToken(models.Model):
    """A credential for an LV monitor or head-end to post telemetry; only its SHA-256 is stored."""

    name = models.CharField(max_length=100, unique=True)
    token_sha256 = models.CharField(max_length=64, unique=True)
    monitor_device_id = models.CharField(max_length=64, null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class FeederReading(models.Model):
    """One measurement of a feeder's load; tens of millions of rows.

    ``(feeder, measured_at)`` is unique: the idempotency key of ingest and the index of every
    read. No foreign key points here, so monthly PostgreSQL partitions can be detached for
    retention."""

    id = models.BigAutoField(primary_key=True)
    feeder = models.ForeignKey(Feeder, on_delete=models.CASCADE, related_name="readings")
    measured_at = models.DateTimeField()
    received_at = models.DateTimeField()
    amps_l1 = models.FloatField()
    amps_l2 = models.FloatField(null=True, blank=True)
    amps_l3 = models.FloatField(null=True, blank=True)
    kw = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feeder", "measured_at"], name="reading_unique_feeder_time"),
            models.CheckConstraint(condition=Q(amps_l1__gte=0), name="reading_amps_l1_non_negative"),
        ]
        get_latest_by = "measured_at"

    def __str__(self) -> str:
        return f"{self.feeder_id}@{self.measured_at.isoformat()}"

    @property
    def phase_amps(self) -> list[float]:
        return [a for a in (self.amps_l1, self.amps_l2, self.amps_l3) if a is not None]


class FeederAlert(models.Model):
    """An at-risk period of a feeder; at most one open per feeder, so concurrent readings cannot raise two."""

    feeder = models.ForeignKey(Feeder, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=16, choices=AlertKind.choices)
    source = models.CharField(max_length=100, default="detection", help_text="detection, or the external system")
    raised_at = models.DateTimeField()
    measured_at = models.DateTimeField(null=True, blank=True, help_text="Time of the reading that raised it")
    load_percent = models.FloatField(null=True, blank=True)
    forecast = models.JSONField(default=dict, blank=True)
    below_clear_since = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["feeder"], condition=Q(cleared_at__isnull=True), name="alert_one_open_per_feeder"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.feeder_id} {self.kind} {self.raised_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None
