from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils import timezone

from core.times import london_label
from curtailment.budget import alarm_percent, command_budget
from curtailment.selectors import engine_counters
from dnoctl.alarms import alarm_counts, alarms_read, network_read
from dnoctl.liveness import liveness_read
from feeders.choices import FeederStatus, LicenceArea
from feeders.selectors import feeder_counters, feeders_filtered, substation_codes

FEEDERS_PER_PAGE = 50


def overview_filters(params) -> dict[str, Any]:
    """Unknown values are ignored rather than silently matching nothing."""
    status = params.get("status", "")
    area = params.get("area", "")
    return {
        "substation": params.get("substation", "").strip(),
        "area": area if area in LicenceArea.values else "",
        "status": status if status in FeederStatus.values else "",
        "high_risk": params.get("high_risk") == "1",
    }


def overview_counters() -> dict[str, int]:
    feeders, engine = feeder_counters(), engine_counters()
    return {
        "open_alerts": feeders["open_alerts"],
        "active_events": engine["active_events"],
        "chargers_curtailed": engine["chargers_curtailed"],
        "feeders_offline": feeders["feeders_offline"],
        "protection_alarms": engine["protection_alarms"],
    }


ATTENTION_ROWS = 10

# The overview's sortable columns (the query's ``sort`` names one, ``dir`` flips it) and
# the direction each starts in; the orderings are ``feeders.selectors.FEEDER_ORDERINGS``.
SORTS: dict[str, str] = {"risk": "asc", "feeder": "asc", "substation": "asc", "load": "desc", "reading": "desc"}


def overview_sort(params) -> tuple[str, str]:
    sort = params.get("sort", "risk")
    if sort not in SORTS:
        sort = "risk"
    direction = params.get("dir", SORTS[sort])
    return sort, direction if direction in ("asc", "desc") else SORTS[sort]


def needs_attention() -> dict[str, Any]:
    alarms = alarms_read()
    return {"alarms": alarms[:ATTENTION_ROWS], **alarm_counts(alarms)}


def dcc_budget_rows() -> dict[str, Any]:
    by_srv: dict[str, dict[str, Any]] = {}
    for line in command_budget(at=timezone.now()).lines:
        by_srv.setdefault(line.srv, {"srv": line.srv})[line.period] = line
    rows = [by_srv[srv] for srv in sorted(by_srv, key=lambda srv: [int(part) for part in srv.split(".")])]
    return {
        "rows": rows,
        "alarm_percent": alarm_percent(),
        "alarming": any(line.alarming for row in rows for key, line in row.items() if key != "srv"),
    }


# Column headers: (sort key or None, label, numeric).
OVERVIEW_COLUMNS = [
    ("risk", "Status", False),
    ("feeder", "Feeder", False),
    ("substation", "Substation", False),
    ("load", "Load % of rating", True),
    ("reading", "Last reading (UK time)", False),
    (None, "Auto", False),
]


def overview_table(request) -> dict[str, Any]:
    filters = overview_filters(request.GET)
    sort, direction = overview_sort(request.GET)
    ordered = feeders_filtered(filters=filters, sort=sort, descending=direction == "desc")
    page = Paginator(ordered, FEEDERS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        {"feeder": feeder, "last_reading_label": london_label(feeder.last_reading_at)} for feeder in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    unsorted = query.copy()
    for key in ("sort", "dir"):
        unsorted.pop(key, None)
    columns = []
    for key, label, numeric in OVERVIEW_COLUMNS:
        if key is None:
            columns.append({"label": label, "numeric": numeric})
            continue
        active = key == sort
        flipped = "desc" if direction == "asc" else "asc"
        link = unsorted.copy()
        link["sort"], link["dir"] = key, flipped if active else SORTS[key]
        aria = ("ascending" if direction == "asc" else "descending") if active else None
        columns.append({"label": label, "numeric": numeric, "query": link.urlencode(), "aria_sort": aria})
    return {
        "page": page,
        "rows": rows,
        "filters": filters,
        "filter_query": query.urlencode(),
        "sort": sort,
        "direction": direction,
        "columns": columns,
    }


def overview(request):
    """Every feeder with its live load and status, riskiest first, with counters, alarms and network."""
    context = {
        **overview_table(request),
        "counters": overview_counters(),
        "attention": needs_attention(),
        "budget": dcc_budget_rows(),
        "network": network_read(),
        "substations": substation_codes(),
        "areas": LicenceArea.choices,
        "statuses": FeederStatus.choices,
    }
    return render(request, "overview.html", context)


def overview_rows_json(request):
    """Fetched when a status changes, so rows keep their order and page as the data moves."""
    table = overview_table(request)
    return JsonResponse(
        {
            "rows_html": render_to_string("dashboard/_feeder_rows.html", table, request=request),
            "pager_html": render_to_string("dashboard/_feeder_pager.html", table, request=request),
            "pager_bottom_html": render_to_string(
                "dashboard/_feeder_pager.html", {**table, "pager_label": "Feeder pages (bottom)"}, request=request
            ),
            "count": table["page"].paginator.count,
        }
    )


def overview_network_html(request):
    return render(request, "dashboard/_network.html", {"network": network_read()})


def overview_counters_json(request):
    attention = needs_attention()
    attention_html = render_to_string("dashboard/_attention.html", {"attention": attention}, request=request)
    budget_html = render_to_string("dashboard/_dcc_budget.html", {"budget": dcc_budget_rows()}, request=request)
    counts = {key: attention[key] for key in ("alarms_total", "alarms_unacknowledged", "unacknowledged")}
    return JsonResponse({**overview_counters(), **counts, "attention_html": attention_html, "budget_html": budget_html})


@login_not_required
def healthz(request):
    """Database, worker and beat; 503 naming each problem. Unauthenticated and cheap."""
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
    """Not a permanent redirect: the icon's hashed name changes when the icon does."""
    return HttpResponseRedirect(static("favicon.svg"))
