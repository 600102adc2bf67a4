"""Project-level views: the overview (landing page), a health check and the favicon."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.db.models import Case, Count, F, IntegerField, Max, Q, QuerySet, Value, When
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils import timezone

from curtailment.budget import alarm_percent, command_budget
from curtailment.models import LIVE_ACTION_STATES, OPEN_EVENT_STATES, CurtailmentAction, CurtailmentEvent, FailureClock
from dnoctl.charts import STATUS_SEVERITY, london_label, substation_map_figure
from dnoctl.liveness import liveness_read
from feeders.choices import FeederStatus, LicenceArea
from feeders.models import Feeder, FeederAlert, Substation

FEEDERS_PER_PAGE = 50

# Riskiest first: at risk, then curtailing, then the live feeders by load; offline feeders
# (no load to rank by) last, and counted in the header so they are not forgotten.
RISK_ORDER = [FeederStatus.AT_RISK, FeederStatus.CURTAILING, FeederStatus.NORMAL, FeederStatus.OFFLINE]
RISK_RANK = Case(
    *[When(status=status, then=Value(rank)) for rank, status in enumerate(RISK_ORDER)],
    default=Value(len(RISK_ORDER)),
    output_field=IntegerField(),
)


def overview_filters(params) -> dict[str, Any]:
    """The overview's filters from the query string, validated against the known values
    (an unknown value is ignored rather than matching nothing silently)."""
    status = params.get("status", "")
    area = params.get("area", "")
    return {
        "substation": params.get("substation", "").strip(),
        "area": area if area in LicenceArea.values else "",
        "status": status if status in FeederStatus.values else "",
        "high_risk": params.get("high_risk") == "1",
    }


def feeders_filtered(filters: dict[str, Any]) -> QuerySet[Feeder]:
    feeders = Feeder.objects.select_related("substation")
    if filters["substation"]:
        feeders = feeders.filter(substation__code=filters["substation"])
    if filters["area"]:
        feeders = feeders.filter(substation__licence_area=filters["area"])
    if filters["status"]:
        feeders = feeders.filter(status=filters["status"])
    if filters["high_risk"]:
        feeders = feeders.filter(high_risk=True)
    return feeders


def overview_counters() -> dict[str, int]:
    """The header counters: what needs attention right now."""
    return {
        "open_alerts": FeederAlert.objects.filter(cleared_at__isnull=True).count(),
        "active_events": CurtailmentEvent.objects.filter(status__in=OPEN_EVENT_STATES).count(),
        "chargers_curtailed": CurtailmentAction.objects.filter(
            status__in=LIVE_ACTION_STATES, event__status__in=OPEN_EVENT_STATES
        ).count(),
        "feeders_offline": Feeder.objects.filter(status=FeederStatus.OFFLINE).count(),
        "protection_alarms": FailureClock.objects.exclude(alarm="").count(),
    }


def needs_attention() -> dict[str, Any]:
    """At-risk feeders' time-to-failure clocks (alarms first, then the least time left), open
    alerts and open events, newest first, for the panel beside the map."""
    alerts = FeederAlert.objects.filter(cleared_at__isnull=True).select_related("feeder").order_by("-raised_at")[:10]
    events = (
        CurtailmentEvent.objects.filter(status__in=OPEN_EVENT_STATES)
        .select_related("feeder")
        .annotate(live=Count("actions", filter=Q(actions__status__in=LIVE_ACTION_STATES)))
        .order_by("-started_at")[:10]
    )
    clocks = sorted(
        FailureClock.objects.select_related("feeder")[:50],
        key=lambda c: (not c.alarm, c.minutes_left_sort_key, c.feeder.code),
    )
    return {
        "clocks": clocks[:10],
        "alarms": sum(1 for c in clocks if c.alarm),
        "alerts": [{"alert": a, "label": london_label(a.raised_at)} for a in alerts],
        "events": [{"event": e, "label": london_label(e.started_at)} for e in events],
    }


def dcc_budget_rows() -> dict[str, Any]:
    """The DCC command budget (ADT) by SRV: this hour's and today's use against the limits."""
    by_srv: dict[str, dict[str, Any]] = {}
    for line in command_budget(at=timezone.now()).lines:
        by_srv.setdefault(line.srv, {"srv": line.srv})[line.period] = line
    rows = [by_srv[srv] for srv in sorted(by_srv, key=lambda srv: [int(part) for part in srv.split(".")])]
    return {
        "rows": rows,
        "alarm_percent": alarm_percent(),
        "alarming": any(line.alarming for row in rows for key, line in row.items() if key != "srv"),
    }


def substation_summaries(feeders: QuerySet[Feeder]) -> list[dict[str, Any]]:
    """One row per substation for the map: its worst status, feeder count and worst load,
    from one grouped query (5,000 feeders are a few hundred substations)."""
    rows = feeders.order_by().values("substation_id", "status").annotate(n=Count("id"), worst=Max("last_load_percent"))
    by_substation: dict[int, dict[str, Any]] = {}
    for row in rows:
        entry = by_substation.setdefault(row["substation_id"], {"feeders": 0, "statuses": set(), "worst_load": None})
        entry["feeders"] += row["n"]
        entry["statuses"].add(row["status"])
        if row["worst"] is not None and (entry["worst_load"] is None or row["worst"] > entry["worst_load"]):
            entry["worst_load"] = row["worst"]
    substations = Substation.objects.filter(pk__in=by_substation).values("id", "code", "name", "latitude", "longitude")
    summaries = []
    for sub in substations:
        entry = by_substation[sub["id"]]
        worst = next((s for s in STATUS_SEVERITY if s in entry["statuses"]), FeederStatus.NORMAL.value)
        summaries.append({**sub, "status": worst, "feeders": entry["feeders"], "worst_load": entry["worst_load"]})
    return summaries


def overview(request):
    """Every feeder with its live load and status, riskiest first, filtered and paginated,
    with the header counters and a schematic map of substations."""
    filters = overview_filters(request.GET)
    feeders = feeders_filtered(filters)
    ordered = feeders.annotate(risk=RISK_RANK).order_by("risk", F("last_load_percent").desc(nulls_last=True), "code")
    page = Paginator(ordered, FEEDERS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        {"feeder": feeder, "last_reading_label": london_label(feeder.last_reading_at)} for feeder in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "rows": rows,
        "filters": filters,
        "filter_query": query.urlencode(),
        "counters": overview_counters(),
        "attention": needs_attention(),
        "budget": dcc_budget_rows(),
        "map_figure": substation_map_figure(substation_summaries(feeders)),
        "substations": Substation.objects.order_by("code").values_list("code", flat=True),
        "areas": LicenceArea.choices,
        "statuses": FeederStatus.choices,
    }
    return render(request, "overview.html", context)


def overview_counters_json(request):
    """The header counters and the attention panel, fetched by the overview page when a
    status, an alert or an event changes."""
    attention_html = render_to_string("dashboard/_attention.html", {"attention": needs_attention()}, request=request)
    budget_html = render_to_string("dashboard/_dcc_budget.html", {"budget": dcc_budget_rows()}, request=request)
    return JsonResponse({**overview_counters(), "attention_html": attention_html, "budget_html": budget_html})


@login_not_required
def healthz_web(request):
    """For load balancers and launchers: this web process and its database answer. (Not
    the worker's health: a web process must stay in the pool while a worker restarts.)"""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_not_required
def healthz(request):
    """For monitoring: the database answers, and a worker and beat have been seen recently
    (``dnoctl.liveness``). 503 naming each problem otherwise. Unauthenticated and cheap:
    one ``SELECT 1`` and one cache read."""
    problems: list[str] = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        problems.append(f"database unreachable: {exc}".strip())
    body: dict[str, Any] = {}
    try:
        for kind, seen in liveness_read().items():
            body[kind] = seen.as_json()
            if seen.stale:
                problems.append(seen.reason)
    except Exception as exc:  # the cache (Redis) is down: the heartbeats cannot be read
        problems.append(f"cache unreachable, worker and beat heartbeats unknown: {exc}")
    body = {"status": "unhealthy" if problems else "ok", "problems": problems, **body}
    return JsonResponse(body, status=503 if problems else 200)


@login_not_required
def favicon(request):
    """Browsers and tools ask for ``/favicon.ico`` whatever a page links; send them to the
    SVG icon. Not permanent: the icon's hashed name changes when the icon does."""
    return HttpResponseRedirect(static("favicon.svg"))
