from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Sum

from consent.choices import ConsentStatus, LoadLabel, MpanRole, NotificationStatus
from consent.models import (
    HCALCS,
    MPAN,
    ApiToken,
    Consent,
    ConsentChange,
    Customer,
    HalfHourlyConsumption,
    Notification,
    Premise,
    Tenancy,
)
from core.times import LONDON

IMPORT_ROLES = (MpanRole.IMPORT_PRIMARY, MpanRole.IMPORT_SECONDARY)
EXPORT_ROLES = (MpanRole.EXPORT_PRIMARY, MpanRole.EXPORT_SECONDARY)

# --- premises, tenancy and consent --------------------------------------------------------


def premise_list(*, search: str = "", feeder_id: int | None = None) -> QuerySet[Premise]:
    premises = Premise.objects.select_related("feeder").order_by("reference")
    if search:
        premises = premises.filter(
            Q(reference__icontains=search)
            | Q(postcode__icontains=search)
            | Q(meters__mpans__core=search)
            | Q(meters__esme_eui64__iexact=search)
        ).distinct()
    if feeder_id is not None:
        premises = premises.filter(feeder_id=feeder_id)
    current = Tenancy.objects.filter(end__isnull=True).select_related("consent", "customer")
    return premises.prefetch_related(Prefetch("tenancies", queryset=current, to_attr="current_tenancies"))


def premise_detail(*, premise_id: int) -> Premise:
    return (
        Premise.objects.select_related("feeder").prefetch_related("meters__mpans", "meters__hcalcs").get(pk=premise_id)
    )


def premise_tenancies(*, premise: Premise) -> list[Tenancy]:
    return list(premise.tenancies.select_related("customer", "consent").order_by("-start"))


def premise_current_consent(*, premise: Premise) -> Consent | None:
    return (
        Consent.objects.select_related("tenancy__customer")
        .filter(tenancy__premise=premise, tenancy__end__isnull=True)
        .first()
    )


def premise_consent_history(*, premise: Premise) -> QuerySet[ConsentChange]:
    return (
        ConsentChange.objects.filter(consent__tenancy__premise=premise)
        .select_related("consent__tenancy")
        .order_by("at", "id")
    )


def consent_awaiting_queue() -> QuerySet[Consent]:
    return (
        Consent.objects.filter(status=ConsentStatus.PENDING, tenancy__end__isnull=True)
        .select_related("tenancy__premise", "tenancy__customer")
        .order_by("tenancy__start", "pk")
    )


def hcalcs_consented(*, feeder_id: int | None = None) -> QuerySet[HCALCS]:
    """The consent half of invariant 1; the engine adds its other rules."""
    chargers = HCALCS.objects.filter(
        meter__premise__tenancies__end__isnull=True,
        meter__premise__tenancies__consent__status=ConsentStatus.GRANTED,
    )
    if feeder_id is not None:
        chargers = chargers.filter(meter__premise__feeder_id=feeder_id)
    return chargers


def customer_masked_reference(customer: Customer) -> str:
    """Safe to show anyone: no name, no contact details, the external id masked."""
    if customer.external_ref:
        tail = customer.external_ref[-3:]
        return f"•••{tail} (#{customer.pk})"
    return f"#{customer.pk}"


# --- notifications -----------------------------------------------------------------------


def notifications_failed() -> QuerySet[Notification]:
    return (
        Notification.objects.filter(status__in=[NotificationStatus.FAILED, NotificationStatus.GAVE_UP])
        .select_related("premise")
        .order_by("-created_at")
    )


def notifications_for_premise(*, premise: Premise) -> QuerySet[Notification]:
    return Notification.objects.filter(premise=premise).order_by("-created_at")


# --- invariant 1 ---------------------------------------------------------------------


def consent_current_for_hcalcs(at: dt.datetime) -> QuerySet[Consent]:
    """For an ``Exists``/``Subquery`` on HCALCS (``OuterRef("meter__premise_id")``)."""
    return Consent.objects.filter(
        tenancy__premise_id=OuterRef("meter__premise_id"),
        tenancy__end__isnull=True,
        tenancy__start__lte=at,
        status=ConsentStatus.GRANTED,
    )


def hcalcs_passing_invariant_1(*, at: dt.datetime, override_allowed: bool | None = None) -> QuerySet[HCALCS]:
    """Domestic premise, current consent granted, labelled EV charger, firmware with the ENO use cases."""
    consent = consent_current_for_hcalcs(at)
    if override_allowed is not None:
        consent = consent.filter(override_allowed=override_allowed)
    return HCALCS.objects.filter(
        meter__premise__domestic=True,
        meter__supports_eno_use_cases=True,
        label=LoadLabel.EV_CHARGER,
    ).filter(Exists(consent))


# --- half-hourly profile data ------------------------------------------------------------


def premise_profile(*, premise: Premise, start: dt.datetime, end: dt.datetime) -> dict[str, list]:
    series: dict[str, list] = defaultdict(list)
    rows = (
        HalfHourlyConsumption.objects.filter(
            mpan__meter__premise=premise, period_start__gte=start, period_start__lt=end
        )
        .order_by("period_start")
        .values_list("mpan__role", "period_start", "kwh")
    )
    for role, period_start, kwh in rows:
        series[role].append((period_start, kwh))
    return dict(series)


def feeder_half_hourly_demand(*, feeder_id: int, start: dt.datetime, end: dt.datetime) -> list[dict]:
    """Import, export, behind-the-meter export and net demand in kW per half hour on the feeder."""
    rows = (
        HalfHourlyConsumption.objects.filter(
            mpan__meter__premise__feeder_id=feeder_id, period_start__gte=start, period_start__lt=end
        )
        .values("period_start", "mpan__role")
        .annotate(kwh=Sum("kwh"))
        .order_by("period_start")
    )
    by_period: dict[dt.datetime, dict] = {}
    for row in rows:
        slot = by_period.setdefault(
            row["period_start"],
            {"period_start": row["period_start"], "import_kw": 0.0, "export_kw": 0.0, "btm_export_kw": 0.0},
        )
        kw = row["kwh"] * 2  # kWh in half an hour -> mean kW
        if row["mpan__role"] in IMPORT_ROLES:
            slot["import_kw"] += kw
        else:
            slot["export_kw"] += kw
            if row["mpan__role"] == MpanRole.EXPORT_SECONDARY:
                slot["btm_export_kw"] += kw
    result = list(by_period.values())
    for slot in result:
        slot["net_kw"] = slot["import_kw"] - slot["export_kw"]
    return result


LIKELY_LOOKBACK_DAYS = 28
# A charger counts as drawing in a half hour when its premise imported at least this
# fraction of the charger's rating on average over the half hour.
LIKELY_DRAW_FRACTION = 0.5
LIKELY_NO_DATA = 0.5  # no profile yet: as likely as not


def half_hour_floor(at: dt.datetime) -> dt.datetime:
    return at.replace(minute=(at.minute // 30) * 30, second=0, microsecond=0)


def same_half_hour_on_previous_days(*, at: dt.datetime, days: int) -> list[dt.datetime]:
    """Charging habits follow local time, so the UTC offset moves at a clock change; a wall-
    clock time that does not exist that day is skipped."""
    local = half_hour_floor(at.astimezone(LONDON))
    starts = []
    for back in range(1, days + 1):
        day = local.date() - dt.timedelta(days=back)
        wall = dt.datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=LONDON)
        utc = wall.astimezone(dt.UTC)
        if utc.astimezone(LONDON).replace(tzinfo=None) == wall.replace(tzinfo=None):  # skips the missing hour
            starts.append(utc)
    return starts


def hcalcs_likely_drawing(*, hcalcs_ids: list[int], at: dt.datetime) -> dict[int, float]:
    """Probability each charger draws at ``at``: the share of the last four weeks' same half
    hours on which its premise imported at least half its rating (0.5 without data)."""
    chargers = list(HCALCS.objects.filter(pk__in=hcalcs_ids).values_list("pk", "meter__premise_id", "rated_kw"))
    starts = same_half_hour_on_previous_days(at=at, days=LIKELY_LOOKBACK_DAYS)
    premise_ids = {premise_id for _, premise_id, _ in chargers}
    per_premise_day: dict[int, dict[dt.datetime, float]] = defaultdict(lambda: defaultdict(float))
    rows = MPAN.objects.none()
    if premise_ids and starts:
        rows = HalfHourlyConsumption.objects.filter(
            mpan__meter__premise_id__in=premise_ids, mpan__role__in=IMPORT_ROLES, period_start__in=starts
        ).values_list("mpan__meter__premise_id", "period_start", "kwh")
    for premise_id, period_start, kwh in rows:
        per_premise_day[premise_id][period_start] += kwh
    result: dict[int, float] = {}
    for hcalcs_id, premise_id, rated_kw in chargers:
        days = per_premise_day.get(premise_id)
        if not days:
            result[hcalcs_id] = LIKELY_NO_DATA
            continue
        threshold_kwh = rated_kw * LIKELY_DRAW_FRACTION / 2  # kW over half an hour
        drawing = sum(1 for kwh in days.values() if kwh >= threshold_kwh)
        result[hcalcs_id] = drawing / len(days)
    return result


def notifications_for_event(*, event_id: int, limit: int = 500) -> QuerySet[Notification]:
    return Notification.objects.filter(event_id=event_id).order_by("created_at")[:limit]


def ev_chargers_with_feeder() -> list[HCALCS]:
    return list(
        HCALCS.objects.filter(label=LoadLabel.EV_CHARGER)
        .select_related("meter__premise__feeder")
        .only("id", "eui64", "meter__premise__feeder__code", "meter__premise__feeder__id")
    )


def consent_with_tenancy(*, consent_id: int) -> Consent:
    return Consent.objects.select_related("tenancy__premise", "tenancy__customer").get(pk=consent_id)


def api_token_live(*, token_sha256: str) -> ApiToken | None:
    return ApiToken.objects.select_related("user").filter(token_sha256=token_sha256, revoked_at__isnull=True).first()


def premise_with_devices(*, reference: str) -> Premise | None:
    return Premise.objects.prefetch_related("meters__mpans", "meters__hcalcs").filter(reference=reference).first()


def hcalcs_with_meter(*, hcalcs_id: int) -> HCALCS:
    return HCALCS.objects.select_related("meter").get(pk=hcalcs_id)
