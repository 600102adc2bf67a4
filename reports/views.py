"""The Reports page and API. The summary needs a login; downloads need
``curtailment.export_reports``, and only the user who asked may fetch the file."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.cache import cache
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from ninja import Query, Router

from core.roles import EXPORT_REPORTS
from core.times import london_label
from dnoctl.api_base import ApiError, SessionAuth, documented_body, error_reply, json_parse
from reports import schemas
from reports.columns import TABLES_BY_NAME
from reports.periods import (
    PeriodError,
    ReportPeriod,
    period_parse,
    period_regulatory_year,
    regulatory_year_of,
)
from reports.selectors import ReportUnavailable
from reports.services import (
    DEFAULT_TOP_N,
    MAX_TOP_N,
    export_path,
    report_export_downloaded,
    report_export_get,
    report_export_request,
    report_overview,
)
from reports.writers import CONTENT_TYPES, FORMATS

PERIOD_KINDS = ("regulatory_year", "quarter", "month", "custom")
OVERVIEW_CACHE_S = 60
PAGE_TOP_N = 10

BAR_COLOUR = "#56b4e9"
LAYOUT_BASE = {
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"color": "#e6edf3"},
    "margin": {"l": 50, "r": 10, "t": 30, "b": 60},
    "height": 280,
}


def _period_from_form(data) -> ReportPeriod:
    kind = data.get("kind", "regulatory_year")
    if kind not in PERIOD_KINDS:
        raise PeriodError(f"kind must be one of {', '.join(PERIOD_KINDS)}, got {kind!r}")
    if kind == "custom":
        return period_parse(start=data.get("start") or "", end=data.get("end") or "")
    return period_parse(**{kind: data.get(kind) or ""})


def _period_from_api(data) -> ReportPeriod:
    return period_parse(
        start=data.get("start"),
        end=data.get("end"),
        regulatory_year=data.get("regulatory_year"),
        quarter=data.get("quarter"),
        month=data.get("month"),
    )


def _top_n(data, default: int) -> int:
    raw = data.get("top_n")
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise PeriodError(f"top_n must be a whole number, got {raw!r}") from None
    if not 1 <= value <= MAX_TOP_N:
        raise PeriodError(f"top_n must be between 1 and {MAX_TOP_N}, got {value}")
    return value


def _overview_cached(period: ReportPeriod, top_n: int) -> dict:
    # The page is reloaded and polled; one generation a minute per period is plenty.
    key = f"reports:overview:{period.first_day}:{period.last_day}:{top_n}"
    overview = cache.get(key)
    if overview is None:
        overview = report_overview(period=period, top_n=top_n)
        cache.set(key, overview, OVERVIEW_CACHE_S)
    return overview


def _bar(x: list, y: list, *, title: str, x_title: str, y_title: str) -> dict:
    return {
        "data": [
            {
                "type": "bar",
                "x": x,
                "y": y,
                "marker": {"color": BAR_COLOUR},
                "hovertemplate": "%{x}: %{y}<extra></extra>",
            }
        ],
        "layout": {
            **LAYOUT_BASE,
            "title": {"text": title, "font": {"size": 14}},
            "xaxis": {"title": {"text": x_title}, "type": "category"},
            "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
        },
    }


def overview_figures(overview: dict) -> dict[str, dict]:
    """No time axes (months are categories), so no wall-clock conversion."""
    buckets = overview["duration_buckets"]
    months = overview["managed_months"]
    worst = overview["worst_by_total"]
    return {
        "durations": _bar(
            [row[0] for row in buckets],
            [row[3] for row in buckets],
            title="Events by minutes in the period",
            x_title="minutes",
            y_title="events",
        ),
        "months": _bar(
            [row[0] for row in months],
            [row[1] for row in months],
            title="Feeders managed per month",
            x_title="month",
            y_title="feeders",
        ),
        "worst": _bar(
            [row[1] for row in worst],
            [row[2] for row in worst],
            title="Worst-served MPANs (curtailed minutes)",
            x_title="MPAN",
            y_title="minutes",
        ),
    }


def _job_json(request: HttpRequest, job: dict) -> dict[str, Any]:
    public = {
        key: job[key]
        for key in (
            "id",
            "period",
            "format",
            "top_n",
            "state",
            "progress",
            "stage",
            "filename",
            "error",
            "requested_at",
            "finished_at",
            "rows",
        )
    }
    public["status_url"] = request.build_absolute_uri(reverse("api:reports_export_status", args=[job["id"]]))
    public["download_url"] = (
        request.build_absolute_uri(reverse("api:reports_export_download", args=[job["id"]]))
        if job["state"] == "done"
        else None
    )
    return public


def _owned_job(request: HttpRequest, export_id: str) -> dict | None:
    job = report_export_get(export_id=export_id)
    if job is None or job["user_id"] != request.user.pk:
        return None  # another user's export is as good as unknown
    return job


# --- page -------------------------------------------------------------------------------


def _breach_on_screen(row: list) -> dict:
    mpan, hcalcs, limit, limit_minutes, window_start, window_end, minutes, windows = row
    return {
        "mpan": mpan,
        "hcalcs": hcalcs,
        "limit": limit,
        "limit_minutes": limit_minutes,
        "window_start": london_label(dt.datetime.fromisoformat(window_start)),
        "window_end": london_label(dt.datetime.fromisoformat(window_end)),
        "minutes": minutes,
        "windows": windows,
    }


def _ongoing_on_screen(row: list) -> dict:
    event_id, feeder, started_at, minutes = row
    return {
        "event_id": event_id,
        "feeder": feeder,
        "started": london_label(dt.datetime.fromisoformat(started_at)),
        "minutes": minutes,
    }


@require_GET
def reports_page(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    form = {
        "kind": request.GET.get("kind", "regulatory_year"),
        "regulatory_year": request.GET.get("regulatory_year", str(regulatory_year_of(today))),
        "quarter": request.GET.get("quarter", ""),
        "month": request.GET.get("month", ""),
        "start": request.GET.get("start", ""),
        "end": request.GET.get("end", ""),
    }
    context: dict[str, Any] = {
        "form": form,
        "formats": FORMATS,
        "can_export": request.user.has_perm(EXPORT_REPORTS),
        "export_id": request.GET.get("export", ""),
    }
    status = 200
    try:
        period = _period_from_form(form) if request.GET else period_regulatory_year(regulatory_year_of(today))
        overview = _overview_cached(period, PAGE_TOP_N)
    except PeriodError as exc:
        context["error"] = str(exc)
        status = 400
    except ReportUnavailable as exc:
        context["error"] = str(exc)
        status = 503
    else:
        context.update(
            period=period,
            overview=overview,
            summary=overview["summary"],
            figures=overview_figures(overview),
            breaches=[_breach_on_screen(row) for row in overview["breaches"]],
            ongoing=[_ongoing_on_screen(row) for row in overview.get("ongoing_events", [])],
            generated_label=london_label(dt.datetime.fromisoformat(overview["summary"]["generated_at"])),
        )
    return render(request, "reports/reports.html", context, status=status)


@require_POST
def export_create_page(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(EXPORT_REPORTS):
        return HttpResponse("You may not download reports (needs curtailment.export_reports).", status=403)
    fmt = request.POST.get("format", "")
    try:
        period = _period_from_form(request.POST)
        if fmt not in FORMATS:
            raise PeriodError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        with transaction.atomic():
            job = report_export_request(user=request.user, period=period, fmt=fmt, top_n=DEFAULT_TOP_N)
    except PeriodError as exc:
        messages.error(request, str(exc))
        return redirect("reports:page")
    query = {key: request.POST.get(key, "") for key in ("kind", *PERIOD_KINDS[:-1], "start", "end")}
    query["export"] = job["id"]
    return redirect(reverse("reports:page") + "?" + urlencode({k: v for k, v in query.items() if v}))


# --- API ----------------------------------------------------------------------------------

router = Router(auth=SessionAuth(), tags=["reports"])
# Not logged in; logged in without curtailment.export_reports, or a POST without its CSRF token.
REFUSALS = {401: ApiError, 403: ApiError}
EXPORT_FILE_TYPES = {content_type: {"schema": {}} for content_type in sorted(set(CONTENT_TYPES.values()))}


@router.get(
    "/summary",
    operation_id="report_summary",
    summary="The Ofgem report's summary and tables for a period",
    response={200: schemas.ReportSummary, 400: ApiError, 503: ApiError, **REFUSALS},
)
def api_summary(
    request: HttpRequest,
    regulatory_year: str | None = Query(None, description="e.g. 2026: 1 April 2026 to 31 March 2027"),
    quarter: str | None = Query(None, description="e.g. 2026-Q3: October-December 2026"),
    month: str | None = Query(None, description="e.g. 2026-10"),
    start: str | None = Query(None, description="First day, e.g. 2026-10-01 (with end)"),
    end: str | None = Query(None, description="Last day, inclusive (with start)"),
    top_n: str | None = Query(None, description=f"Rows of the worst-served tables, 1 to {MAX_TOP_N} (default 10)"),
) -> JsonResponse:
    """The report without the per-event rows and the NF10 feeder list; name the period exactly one way."""
    given = {"regulatory_year": regulatory_year, "quarter": quarter, "month": month, "start": start, "end": end}
    try:
        period = _period_from_api(given)
        overview = _overview_cached(period, _top_n({"top_n": top_n}, PAGE_TOP_N))
    except PeriodError as exc:
        return error_reply(400, str(exc))
    except ReportUnavailable as exc:
        return error_reply(503, str(exc))
    body = {"period": overview["period"], "summary": overview["summary"]}
    for name in ("duration_buckets", "managed_months", "worst_by_total", "worst_by_longest", "breaches"):
        header = TABLES_BY_NAME[name].header
        body[name] = [dict(zip(header, row, strict=True)) for row in overview[name]]
    return JsonResponse(body)


@router.post(
    "/exports/",
    operation_id="report_export_create",
    summary="Queue an export of the report as CSV (zip), XLSX or JSON",
    # 413: a body over Django's DATA_UPLOAD_MAX_MEMORY_SIZE (dnoctl.api answers it).
    response={202: schemas.ExportJob, 400: ApiError, 413: ApiError, **REFUSALS},
    openapi_extra=documented_body(schemas.ExportIn, description="The format and the period."),
)
def api_export_create(request: HttpRequest) -> JsonResponse:
    """Queue an export for any period form: 202 and its status."""
    if not request.user.has_perm(EXPORT_REPORTS):
        return error_reply(403, "permission curtailment.export_reports required")
    try:
        body = json_parse(request.body or b"{}")
    except ValueError:
        return error_reply(400, "the body must be a JSON object")
    if not isinstance(body, dict):
        return error_reply(400, "the body must be a JSON object")
    body = {key: (str(value) if isinstance(value, int) else value) for key, value in body.items()}
    for key in ("regulatory_year", "quarter", "month", "start", "end", "top_n"):
        if body.get(key) is not None and not isinstance(body[key], str):
            return error_reply(400, f"{key} must be a string or a whole number, got {type(body[key]).__name__}")
    fmt = body.get("format")
    if fmt not in FORMATS:
        return error_reply(400, f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    try:
        period = _period_from_api(body)
        top_n = _top_n(body, DEFAULT_TOP_N)
    except PeriodError as exc:
        return error_reply(400, str(exc))
    with transaction.atomic():
        job = report_export_request(user=request.user, period=period, fmt=fmt, top_n=top_n)
    return JsonResponse(_job_json(request, job), status=202)


@router.get(
    "/exports/{export_id}/",
    operation_id="report_export_status",
    url_name="reports_export_status",
    summary="An export's state and progress",
    response={200: schemas.ExportJob, 404: ApiError, **REFUSALS},
)
def api_export_status(request: HttpRequest, export_id: str) -> JsonResponse:
    """The export's state and progress (the page polls this)."""
    if not request.user.has_perm(EXPORT_REPORTS):
        return error_reply(403, "permission curtailment.export_reports required")
    job = _owned_job(request, export_id)
    if job is None:
        return error_reply(404, f"no export {export_id} (unknown, expired or not yours)")
    return JsonResponse(_job_json(request, job))


@router.get(
    "/exports/{export_id}/download",
    operation_id="report_export_download",
    url_name="reports_export_download",
    summary="The finished export's file",
    response={200: None, 404: ApiError, 409: ApiError, 410: ApiError, **REFUSALS},
    openapi_extra={"responses": {200: {"description": "The file, as an attachment", "content": EXPORT_FILE_TYPES}}},
)
def api_export_download(request: HttpRequest, export_id: str) -> HttpResponse:
    """The finished file (audited)."""
    if not request.user.has_perm(EXPORT_REPORTS):
        return error_reply(403, "permission curtailment.export_reports required")
    job = _owned_job(request, export_id)
    if job is None:
        return error_reply(404, f"no export {export_id} (unknown, expired or not yours)")
    if job["state"] != "done":
        return error_reply(409, f"export {export_id} is {job['state']}, not ready")
    path = export_path(job)
    if not path.exists():
        return error_reply(410, f"the file of export {export_id} is gone; request it again")
    report_export_downloaded(user=request.user, job=job)
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=job["filename"], content_type=CONTENT_TYPES[job["format"]]
    )
