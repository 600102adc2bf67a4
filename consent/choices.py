from django.db import models


class ElementType(models.TextChoices):
    """Single-element or twin-element ESME (seed 003: up to four MPANs on a twin)."""

    SINGLE = "single", "Single element"
    TWIN = "twin", "Twin element"


class CommsHubType(models.TextChoices):
    """SMETS2 communications hub (NF6/NF7)."""

    SINGLE_BAND = "smets2_single_band", "SMETS2 single band (2.4 GHz)"
    DUAL_BAND = "smets2_dual_band", "SMETS2 dual band (2.4 GHz + 868 MHz)"


class MpanRole(models.TextChoices):
    """Which register of which element an MPAN belongs to (seed 003)."""

    IMPORT_PRIMARY = "import_primary", "Import, primary element"
    EXPORT_PRIMARY = "export_primary", "Export, primary element"
    IMPORT_SECONDARY = "import_secondary", "Import, secondary element"
    EXPORT_SECONDARY = "export_secondary", "Export, secondary element"


class LoadLabel(models.TextChoices):
    """What the HCALCS switches (SECMP0019 labelling). Only EV chargers may be curtailed."""

    EV_CHARGER = "ev_charger", "EV charger"
    HEAT_PUMP = "heat_pump", "Heat pump"
    STORAGE_HEATER = "storage_heater", "Storage heater"
    OTHER = "other", "Other"
    UNLABELLED = "unlabelled", "Unlabelled"


class ControllerType(models.TextChoices):
    """How the meter controls the load: an HCALCS switches it off (SRV 7.6/7.8); an APC limits
    it to a percentage of its maximum (SRV 7.16/7.13, SECMP0046 option 2)."""

    HCALCS = "hcalcs", "HCALCS (switch)"
    APC = "apc", "APC (proportional)"


class ConsentStatus(models.TextChoices):
    """Consent lifecycle (R4). ``lapsed`` is set when the tenancy ends (NF3)."""

    PENDING = "pending", "Pending"
    GRANTED = "granted", "Granted"
    DECLINED = "declined", "Declined"
    WITHDRAWN = "withdrawn", "Withdrawn"
    LAPSED = "lapsed", "Lapsed (change of tenancy)"


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    LETTER = "letter", "Letter"


class NotificationFrequency(models.TextChoices):
    EACH_EVENT = "each_event", "Each event"
    DAILY_DIGEST = "daily_digest", "Daily digest"
    MONTHLY_STATEMENT = "monthly_statement", "Monthly statement"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (will retry)"
    GAVE_UP = "gave_up", "Failed (retries exhausted)"
    # An event notice for a digest/statement customer: never sent on its own, it is one
    # item of the digest row it points at (``Notification.digest``).
    BATCHED = "batched", "Collected into a digest"


class NotificationKind(models.TextChoices):
    CONSENT_REQUEST = "consent_request", "Consent request"
    EVENT = "event", "Load-limiting event"
    DAILY_DIGEST = "daily_digest", "Daily digest"
    MONTHLY_STATEMENT = "monthly_statement", "Monthly statement"
