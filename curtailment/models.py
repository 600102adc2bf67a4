"""Curtailment events, per-charger actions, ASP contracts and the append-only audit trail."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from core.models import AppendOnlyModel
from curtailment.choices import (
    ActionEndReason,
    ActionKind,
    ActionStatus,
    AspCallOffStatus,
    ClockState,
    EscalationStage,
    EventEndReason,
    EventStatus,
    EventTrigger,
)

OPEN_EVENT_STATES = [EventStatus.ACTIVE, EventStatus.RELEASING]
# Actions whose charger is (or may be) switched off right now.
LIVE_ACTION_STATES = [
    ActionStatus.PLANNED,
    ActionStatus.BOOST_SETUP,
    ActionStatus.SENT,
    ActionStatus.ACKNOWLEDGED,
    ActionStatus.CONFIRMED,
    ActionStatus.LATE,
    ActionStatus.RELEASING,
]


class CurtailmentEvent(models.Model):
    """One load-limiting event on a feeder. A partial unique index allows one open event per feeder, so
    two workers reacting to the same alert cannot both open one."""

    feeder = models.ForeignKey("feeders.Feeder", on_delete=models.PROTECT, related_name="events")
    alert = models.ForeignKey("feeders.FeederAlert", null=True, blank=True, on_delete=models.SET_NULL)
    trigger = models.CharField(max_length=12, choices=EventTrigger.choices)
    status = models.CharField(max_length=12, choices=EventStatus.choices, default=EventStatus.ACTIVE)
    started_at = models.DateTimeField()
    planned_end_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=EventEndReason.choices, blank=True)
    required_reduction_kw = models.FloatField()
    asp_calloff_kw = models.FloatField(default=0)
    requested_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.PROTECT)
    reason = models.TextField(blank=True)
    decision = models.JSONField(default=dict, blank=True, help_text="Inputs of the opening decision")
    while_at_risk = models.BooleanField(
        default=False,
        db_default=False,  # rows written by raw SQL (the report's synthetic data) need no change
        help_text="Lasts while its feeder is at risk: extended and rotated until the load stays below the clear "
        "level (automatic events; a manual one taken over as its planned end comes while an alert is open)",
    )

    class Meta:
        ordering = ["-started_at"]
        permissions = [
            ("control_curtailment", "Can curtail, cancel and acknowledge"),
            ("export_reports", "Can download Ofgem reports and audit exports"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["feeder"], condition=Q(status__in=["active", "releasing"]), name="event_one_open_per_feeder"
            ),
            models.CheckConstraint(
                condition=Q(planned_end_at__gt=models.F("started_at")), name="event_end_after_start"
            ),
            models.CheckConstraint(condition=Q(required_reduction_kw__gte=0), name="event_reduction_non_negative"),
        ]
        indexes = [models.Index(fields=["started_at"], name="event_started_at")]

    def __str__(self) -> str:
        return f"Event {self.pk} on {self.feeder_id}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_EVENT_STATES


class CurtailmentAction(models.Model):
    """One charger switched off (HCALCS, 7.6) or limited (APC, 7.16) within an event.

    Both kinds share one ledger (docs/apc.md) counting what the device did: ``confirmed_at`` to
    ``ended_at``, nothing if never confirmed; while live, the planned minutes are reserved. Once
    confirmed, ``expected_end_at`` is the device's own end.
    """

    event = models.ForeignKey(CurtailmentEvent, on_delete=models.PROTECT, related_name="actions")
    hcalcs = models.ForeignKey("consent.HCALCS", on_delete=models.PROTECT, related_name="actions")
    mpan = models.ForeignKey("consent.MPAN", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=14, choices=ActionStatus.choices, default=ActionStatus.PLANNED)
    kind = models.CharField(
        max_length=10, choices=ActionKind.choices, default=ActionKind.SWITCH_OFF, db_default=ActionKind.SWITCH_OFF
    )
    level_percent = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="A limit's level in force (% of the APC's maximum); None when switched off"
    )
    demand_kw = models.FloatField(
        null=True, blank=True, help_text="A limited charger's draw before its limit (what re-allocation starts from)"
    )
    lift_request = models.OneToOneField(
        "dcc.ServiceRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The 7.16 at 100 % that lifts a limit early (a limit's 7.8)",
    )
    planned_minutes = models.PositiveSmallIntegerField()
    expected_kw = models.FloatField()
    use_local_delivery = models.BooleanField(default=False)
    started_at = models.DateTimeField(help_text="Dispatch time: planned minutes are reserved from here")
    expected_end_at = models.DateTimeField(help_text="Planned end; once confirmed, when the device reverts")
    commanded_minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The Duration the 7.6 asked the device for"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=12, choices=ActionEndReason.choices, blank=True)
    selection = models.JSONField(default=dict, blank=True, help_text="Why this charger was picked")
    extends = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The live action of the same charger this one continues (a follow-on 7.6 sent before it ends)",
    )

    class Meta:
        ordering = ["event_id", "started_at", "id"]
        # A charger may have several actions in one long event (rotation brings it back, or a
        # follow-on extends it), never two counting at once: the top-up, serialised by the
        # event's row lock, only re-picks a charger whose live action is about to end.
        constraints = [
            models.CheckConstraint(
                condition=Q(planned_minutes__gte=1, planned_minutes__lte=120), name="action_minutes_1_to_120"
            ),
            models.CheckConstraint(
                condition=Q(expected_end_at__gt=models.F("started_at")), name="action_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(kind="switch_off", level_percent__isnull=True)
                | Q(kind="limit", level_percent__gte=0, level_percent__lt=100),
                name="action_limit_has_level",
            ),
        ]
        indexes = [
            models.Index(fields=["hcalcs", "started_at"], name="action_hcalcs_started"),
            models.Index(fields=["status"], name="action_status"),
        ]

    def __str__(self) -> str:
        return f"Action {self.pk} ({self.hcalcs_id} in event {self.event_id})"


OPENADR_NAME = RegexValidator(r"^[A-Za-z0-9_-]{1,128}$", "letters, digits, '_' and '-' only (an OpenADR 3 name)")


class AspVen(models.Model):
    """An aggregator's OpenADR 3 client (VEN) and its credentials on our VTN; only the secret's SHA-256 is stored."""

    ven_name = models.CharField(max_length=128, unique=True, validators=[OPENADR_NAME])
    provider = models.CharField(max_length=200)
    client_id = models.CharField(max_length=64, unique=True, validators=[OPENADR_NAME])
    secret_sha256 = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "ASP VEN"

    def __str__(self) -> str:
        return f"{self.ven_name} ({self.provider})"


class AspContract(models.Model):
    """A flexibility contract with an ASP covering feeders (NF14), called off before any customer's
    charger; without a VEN it cannot be."""

    provider = models.CharField(max_length=200)
    reference = models.CharField(max_length=64, unique=True)
    feeders = models.ManyToManyField("feeders.Feeder", related_name="asp_contracts")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    available_kw = models.FloatField()
    active = models.BooleanField(default=True)
    ven = models.ForeignKey(
        AspVen,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contracts",
        help_text="The provider's VEN that receives the call-offs (OpenADR 3)",
    )

    class Meta:
        ordering = ["reference"]
        permissions = [("manage_asp_contracts", "Can manage ASP contracts")]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="asp_end_after_start"),
            models.CheckConstraint(condition=Q(available_kw__gt=0), name="asp_kw_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.provider})"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "must be after starts_at"})


class AspCallOff(models.Model):
    """A call-off of an ASP contract for an event; counted as asked until ``confirm_by``, then as reported."""

    contract = models.ForeignKey(AspContract, on_delete=models.PROTECT, related_name="calloffs")
    event = models.ForeignKey(CurtailmentEvent, on_delete=models.PROTECT, related_name="asp_calloffs")
    kw = models.FloatField(help_text="kW asked for")
    called_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=AspCallOffStatus.choices, default=AspCallOffStatus.CALLED)
    ends_at = models.DateTimeField(null=True, blank=True, help_text="End of the event's interval as sent")
    confirm_by = models.DateTimeField(null=True, blank=True, help_text="Delivery must be reported by then")
    seen_at = models.DateTimeField(null=True, blank=True, help_text="First fetched by the provider's VEN")
    confirmed_kw = models.FloatField(default=0, help_text="Delivery in the latest report (at most kw)")
    reported_at = models.DateTimeField(null=True, blank=True, help_text="When the latest report arrived")
    counted_kw = models.FloatField(default=0, help_text="kW the event counts on now")
    settled_at = models.DateTimeField(null=True, blank=True, help_text="When delivery was judged, after confirm_by")
    fallback_at = models.DateTimeField(null=True, blank=True, help_text="First time chargers covered a shortfall")
    modified_at = models.DateTimeField(null=True, blank=True, help_text="Last change the VEN can see")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contract", "event"], name="asp_calloff_once_per_event")]

    def __str__(self) -> str:
        return f"{self.contract_id} for event {self.event_id}: {self.kw} kW"


class FailureClock(models.Model):
    """The time-to-failure clock of one at-risk feeder and its escalation stage; deleted when the risk is over."""

    feeder = models.OneToOneField("feeders.Feeder", on_delete=models.CASCADE, related_name="failure_clock")
    event = models.ForeignKey(CurtailmentEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    alert = models.ForeignKey("feeders.FeederAlert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    computed_at = models.DateTimeField()
    reading_at = models.DateTimeField(null=True, blank=True)
    load_percent = models.FloatField(null=True, blank=True)
    slope_percent_per_minute = models.FloatField(null=True, blank=True, help_text="None: too few recent readings")
    state = models.CharField(max_length=12, choices=ClockState.choices)
    minutes_to_rating = models.FloatField(null=True, blank=True, help_text="None: not heading for its rating")
    minutes_to_failure = models.FloatField(null=True, blank=True, help_text="When its fuse would likely blow")
    over_rating_since = models.DateTimeField(null=True, blank=True)
    relief_needed_kw = models.FloatField(default=0)
    relief_confirmed_kw = models.FloatField(default=0)
    relieved = models.BooleanField(default=False)
    stage = models.CharField(max_length=10, choices=EscalationStage.choices, default=EscalationStage.WAITING)
    stage_started_at = models.DateTimeField()
    relief_due_at = models.DateTimeField(null=True, blank=True, help_text="When the current stage escalates")
    exhausted = models.BooleanField(default=False, help_text="Every eligible charger is at its usage limit")
    alarm = models.TextField(blank=True, help_text="What the operator must know and do; empty when nothing")

    def __str__(self) -> str:
        return f"clock of feeder {self.feeder_id} ({self.state}, {self.stage})"

    @property
    def minutes_left_sort_key(self) -> float:
        """Minutes before relief is too late, infinity when not heading for the rating (dashboard order)."""
        if self.state == ClockState.OVER_RATING and self.minutes_to_failure is not None:
            return self.minutes_to_failure
        if self.state == ClockState.RISING and self.minutes_to_rating is not None:
            return self.minutes_to_rating
        return float("inf")


class AspReport(AppendOnlyModel):
    """One OpenADR 3 report on a call-off, kept as received: the evidence behind each kW credited."""

    calloff = models.ForeignKey(AspCallOff, on_delete=models.PROTECT, related_name="reports")
    ven = models.ForeignKey(AspVen, on_delete=models.PROTECT, related_name="reports")
    received_at = models.DateTimeField(db_index=True)
    delivered_kw = models.FloatField(help_text="Load reduction the report states (kW)")
    report_name = models.CharField(max_length=200, blank=True)
    body = models.JSONField(help_text="The report as received")

    class Meta:
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"report {self.pk} on call-off {self.calloff_id}: {self.delivered_kw} kW"
