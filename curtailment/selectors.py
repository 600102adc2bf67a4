"""Curtailment reads: eligible chargers, reachability, events, limit levels, feeder load, NF10 dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Case, Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When

from consent.choices import LoadLabel, MpanRole
from consent.hooks import PremiseCurtailment
from consent.models import HCALCS, MPAN, Consent, HalfHourlyConsumption
from consent.selectors import consent_current_for_hcalcs, hcalcs_passing_invariant_1
from core.models import AuditEntry
from core.times import add_months
from curtailment.choices import ActionKind
from curtailment.models import (
    LIVE_ACTION_STATES,
    OPEN_EVENT_STATES,
    AspCallOff,
    CurtailmentAction,
    CurtailmentEvent,
    FailureClock,
)
from curtailment.usage import hcalcs_minutes_used
from dcc.choices import ServiceRequestState
from dcc.models import ServiceRequest
from feeders.models import Feeder, FeederReading

# How far back the DCC log is read to judge a device's reachability.
REACHABILITY_LOOKBACK = dt.timedelta(days=7)
# A half-hour of consumption this recent says what the home draws now.
CONSUMPTION_FRESHNESS = dt.timedelta(hours=1)


def hcalcs_eligible_for_curtailment(*, feeder, at: dt.datetime) -> QuerySet[HCALCS]:
    """Every HCALCS on ``feeder`` passing invariant 1 at ``at``, in one query."""
    consent = consent_current_for_hcalcs(at)
    # The import primary MPAN names the premise in reports; any MPAN of the meter otherwise.
    import_mpan = (
        MPAN.objects.filter(meter_id=OuterRef("meter_id"))
        .annotate(primary=Case(When(role=MpanRole.IMPORT_PRIMARY, then=Value(0)), default=Value(1)))
        .order_by("primary", "core")
    )
    return (
        hcalcs_passing_invariant_1(at=at)
        .filter(meter__premise__feeder=feeder)
        .annotate(
            consent_id=Subquery(consent.values("pk")[:1]),
            override_allowed=Subquery(consent.values("override_allowed")[:1]),
            customer_id=Subquery(consent.values("tenancy__customer_id")[:1]),
            premise_id=F("meter__premise_id"),
            mpan_id=Subquery(import_mpan.values("pk")[:1]),
            meter_eui64=F("meter__esme_eui64"),
            comms_hub_type=F("meter__comms_hub_type"),
        )
        .order_by("pk")
    )


def hcalcs_ineligibility(*, feeder, at: dt.datetime, exclude_ids) -> dict[int, str]:
    """Why each other HCALCS on ``feeder`` fails invariant 1 (for the audit trail)."""
    consent = consent_current_for_hcalcs(at)
    rows = (
        HCALCS.objects.filter(meter__premise__feeder=feeder)
        .exclude(pk__in=list(exclude_ids))
        .annotate(
            has_consent=Exists(consent),
            has_tenancy=Exists(
                Consent.objects.filter(tenancy__premise_id=OuterRef("meter__premise_id"), tenancy__end__isnull=True)
            ),
            domestic=F("meter__premise__domestic"),
            eno_firmware=F("meter__supports_eno_use_cases"),
        )
        .values("pk", "label", "has_consent", "has_tenancy", "domestic", "eno_firmware")
    )
    reasons = {}
    for row in rows:
        problems = []
        if not row["domestic"]:
            problems.append("premise not domestic (NF1)")
        if row["label"] != LoadLabel.EV_CHARGER:
            problems.append(f"labelled {row['label']}, not ev_charger (D1)")
        if not row["eno_firmware"]:
            problems.append("firmware lacks the ENO use cases (D1)")
        if not row["has_consent"]:
            problems.append(
                "current tenancy has not granted consent" if row["has_tenancy"] else "no current tenancy (NF3)"
            )
        reasons[row["pk"]] = "; ".join(problems) or "not eligible"
    return reasons


@dataclass(frozen=True)
class Reachability:
    """What the DCC log says about reaching a device over the WAN."""

    score: int  # 2 = answered recently, 1 = unknown, 0 = poor WAN
    acknowledged: int
    responded: int
    failed: int

    @property
    def poor_wan(self) -> bool:
        return self.score == 0


def hcalcs_reachability(*, hcalcs_ids, at: dt.datetime) -> dict[int, Reachability]:
    """Reachability per HCALCS from recent requests; poor WAN adds local delivery (seed 004, CV 7)."""
    ids = list(hcalcs_ids)
    since = at - REACHABILITY_LOOKBACK
    rows = (
        ServiceRequest.objects.filter(hcalcs_id__in=ids, created_at__gte=since)
        .values("hcalcs_id")
        .annotate(
            acknowledged=Count("pk", filter=Q(acknowledged_at__isnull=False)),
            responded=Count("pk", filter=Q(state=ServiceRequestState.RESPONDED)),
            failed=Count("pk", filter=Q(state__in=[ServiceRequestState.TIMED_OUT, ServiceRequestState.FAILED])),
        )
    )
    result = {hcalcs_id: Reachability(1, 0, 0, 0) for hcalcs_id in ids}
    for row in rows:
        if row["failed"] > row["responded"]:
            score = 0
        elif row["responded"]:
            score = 2
        else:
            score = 1
        result[row["hcalcs_id"]] = Reachability(score, row["acknowledged"], row["responded"], row["failed"])
    return result


def mpan_recent_kw(*, mpan_ids, at: dt.datetime) -> dict[int, float]:
    """The home's recent half-hourly import: a charger cannot free more than the home draws."""
    rows = (
        HalfHourlyConsumption.objects.filter(
            mpan_id__in=[m for m in mpan_ids if m], period_start__gte=at - CONSUMPTION_FRESHNESS, period_start__lte=at
        )
        .order_by("mpan_id", "-period_start")
        .values_list("mpan_id", "kwh")
    )
    latest: dict[int, float] = {}
    for mpan_id, kwh in rows:  # at most two half hours per MPAN: the newest comes first
        latest.setdefault(mpan_id, kwh * 2.0)
    return latest


# --- events -----------------------------------------------------------------------------


def event_open_for_feeder(*, feeder_id: int) -> CurtailmentEvent | None:
    return CurtailmentEvent.objects.filter(feeder_id=feeder_id, status__in=OPEN_EVENT_STATES).first()


def events_open() -> QuerySet[CurtailmentEvent]:
    return CurtailmentEvent.objects.filter(status__in=OPEN_EVENT_STATES).order_by("pk")


def event_live_actions(*, event_id: int) -> QuerySet[CurtailmentAction]:
    return CurtailmentAction.objects.filter(event_id=event_id, status__in=LIVE_ACTION_STATES)


def event_with_related(*, event_id: int) -> CurtailmentEvent:
    requests = ServiceRequest.objects.order_by("created_at", "id")
    actions = CurtailmentAction.objects.select_related("hcalcs", "mpan").prefetch_related(
        Prefetch("service_requests", queryset=requests)
    )
    return (
        CurtailmentEvent.objects.select_related("feeder", "alert", "requested_by")
        .prefetch_related(Prefetch("actions", queryset=actions))
        .get(pk=event_id)
    )


def event_calloffs(*, event: CurtailmentEvent) -> QuerySet[AspCallOff]:
    return AspCallOff.objects.filter(event=event).select_related("contract")


def feeder_clock(*, feeder_id: int, event_id: int | None = None) -> FailureClock | None:
    """The feeder's time-to-failure clock (while it belongs to ``event_id``, when given)."""
    clocks = FailureClock.objects.filter(feeder_id=feeder_id)
    if event_id is not None:
        clocks = clocks.filter(event_id=event_id)
    return clocks.first()


def feeder_events_recent(*, feeder, limit: int = 20) -> list[CurtailmentEvent]:
    return list(CurtailmentEvent.objects.filter(feeder=feeder).select_related("requested_by")[:limit])


def feeder_events_overlapping(*, feeder, since: dt.datetime, until: dt.datetime) -> QuerySet[CurtailmentEvent]:
    return CurtailmentEvent.objects.filter(feeder=feeder, started_at__lt=until).exclude(ended_at__lt=since)


def hcalcs_curtailed_now(*, hcalcs_ids, now: dt.datetime) -> set[int]:
    """The chargers among ``hcalcs_ids`` with an action not yet ended nor expired."""
    return set(
        CurtailmentAction.objects.filter(
            hcalcs_id__in=hcalcs_ids, ended_at__isnull=True, expected_end_at__gt=now
        ).values_list("hcalcs_id", flat=True)
    )


def engine_counters() -> dict[str, int]:
    return {
        "active_events": CurtailmentEvent.objects.filter(status__in=OPEN_EVENT_STATES).count(),
        "chargers_curtailed": CurtailmentAction.objects.filter(
            status__in=LIVE_ACTION_STATES, event__status__in=OPEN_EVENT_STATES
        ).count(),
        "protection_alarms": FailureClock.objects.exclude(alarm="").count(),
    }


def event_chargers_now(*, event_id: int) -> list[CurtailmentAction]:
    """The event's chargers held now, limited ones first."""
    return sorted(
        event_live_actions(event_id=event_id).select_related("hcalcs"),
        key=lambda a: (a.kind != ActionKind.LIMIT, a.hcalcs.eui64),
    )


# --- limited chargers' levels over time ---------------------------------------------------

# The closed loop's level changes, audited by the engine (``_limits_change``) as it queues
# each change's 7.16.
LIMIT_CHANGE_ACTIONS = ("action.limit_set", "action.limit_lower", "action.limit_raise", "action.limit_lift")


@dataclass(frozen=True)
class LimitStep:
    """A level a limited charger was commanded to from ``at``, with the kW it withholds."""

    at: dt.datetime
    level_percent: int
    withheld_kw: float
    change: str  # set (the first limit), lower, raise, lift


def action_limit_steps(*, actions) -> dict[int, list[LimitStep]]:
    """Each limit action's levels in time order, first limit included (one query)."""
    limits = {a.pk: a for a in actions if a.kind == ActionKind.LIMIT and a.level_percent is not None}
    if not limits:
        return {}
    changes: dict[int, list[AuditEntry]] = {pk: [] for pk in limits}
    for entry in AuditEntry.objects.filter(
        target_type=CurtailmentAction._meta.label_lower,
        target_id__in=[str(pk) for pk in limits],
        action__in=LIMIT_CHANGE_ACTIONS,
    ).order_by("at", "id"):
        changes[int(entry.target_id)].append(entry)
    steps: dict[int, list[LimitStep]] = {}
    for pk, action in limits.items():
        mine = changes[pk]
        first = mine[0].inputs.get("previous_level") if mine else None
        first = action.level_percent if first is None else int(first)
        run = [
            LimitStep(
                at=action.confirmed_at or action.started_at,
                level_percent=first,
                withheld_kw=_withheld_kw(action, first) if mine else action.expected_kw,
                change="set",
            )
        ]
        for entry in mine:
            change = entry.action.removeprefix("action.limit_")
            lifted = change == "lift"
            run.append(
                LimitStep(
                    at=entry.at,
                    level_percent=100 if lifted else int(entry.inputs.get("level", action.level_percent)),
                    withheld_kw=0.0 if lifted else float(entry.inputs.get("reduction_kw", 0.0)),
                    change=change,
                )
            )
        steps[pk] = run
    return steps


def _withheld_kw(action: CurtailmentAction, level: int) -> float:
    if action.demand_kw is None:
        return action.expected_kw
    return max(0.0, action.demand_kw - action.hcalcs.rated_kw * level / 100)


# --- feeder load (read from the readings the telemetry side stores) --------------------


def reading_load_percent(reading: FeederReading, feeder) -> float:
    """The worst phase's current as a percentage of the per-phase rating."""
    return max(reading.phase_amps) / feeder.rating_amps * 100.0


def feeder_below_clear_for(*, feeder, minutes: int, at: dt.datetime) -> bool:
    """Readings span ``minutes`` and all are below the clear level (no readings is never healthy)."""
    since = at - dt.timedelta(minutes=minutes)
    inside = list(FeederReading.objects.filter(feeder=feeder, measured_at__gte=since, measured_at__lte=at))
    # The reading just before the window says where the load stood when the window opened.
    before = FeederReading.objects.filter(feeder=feeder, measured_at__lt=since).order_by("-measured_at").first()
    if not inside or before is None:
        return False
    return all(reading_load_percent(r, feeder) < feeder.clear_percent for r in [before, *inside])


# --- NF10 -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManagedFeeder:
    """NF10: a market solution is due 6 months into a managed run, implemented by 18."""

    managed_since: dt.date
    months_managed: int
    market_solution_due: dt.date
    implementation_due: dt.date


def feeder_managed_dates(*, feeder, today: dt.date | None = None) -> ManagedFeeder | None:
    """NF10 flag of one feeder: None unless it had an event this month or last."""
    if feeder.managed_since is None:
        return None
    today = today or dt.date.today()
    last = (
        CurtailmentEvent.objects.filter(feeder_id=feeder.pk)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    this_month = today.replace(day=1)
    last_month = add_months(this_month, -1)
    if last is None or last.date().replace(day=1) < last_month:
        return None
    months = (today.year - feeder.managed_since.year) * 12 + today.month - feeder.managed_since.month + 1
    return ManagedFeeder(
        managed_since=feeder.managed_since,
        months_managed=max(1, months),
        market_solution_due=add_months(feeder.managed_since, 6),
        implementation_due=add_months(feeder.managed_since, 18),
    )


def feeders_managed(*, today: dt.date | None = None) -> list[tuple[object, ManagedFeeder]]:
    """Every feeder managed now (NF10), oldest run first, with its 6- and 18-month dates."""
    flagged = []
    for feeder in Feeder.objects.filter(managed_since__isnull=False).order_by("managed_since", "code"):
        dates = feeder_managed_dates(feeder=feeder, today=today)
        if dates is not None:
            flagged.append((feeder, dates))
    return flagged


# --- the premise page (installed into consent.hooks) ---------------------------------------


def premise_curtailment_read(*, premise_id: int, hcalcs_ids: list[int], now: dt.datetime) -> PremiseCurtailment:
    return PremiseCurtailment(
        used_24h=hcalcs_minutes_used(hcalcs_ids=hcalcs_ids, window_end=now, window=dt.timedelta(hours=24)),
        used_30d=hcalcs_minutes_used(hcalcs_ids=hcalcs_ids, window_end=now, window=dt.timedelta(days=30)),
        actions=CurtailmentAction.objects.filter(hcalcs__meter__premise_id=premise_id)
        .select_related("event", "hcalcs")
        .order_by("-started_at"),
    )
