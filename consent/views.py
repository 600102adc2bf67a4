"""Consent screens. Changes need ``consent.manage_consent``; names and contact details need
``consent.view_personal_data``."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from consent import boost, notifications, selectors, services, tasks
from consent.choices import MpanRole
from consent.forms import (
    CsvUploadForm,
    GrantForm,
    ImportUploadForm,
    OverrideForm,
    PreferencesForm,
    ReasonForm,
    TenancyChangeForm,
)
from consent.hooks import premise_curtailment
from consent.importer import import_progress_get, import_progress_set, premises_import_audit, premises_import_path
from consent.models import HCALCS, Consent, Premise
from consent.tenancy_feed import tenancy_feed_apply
from core.roles import IMPORT_PREMISES, MANAGE_CONSENT, VIEW_PERSONAL_DATA
from core.times import london_label, london_wallclock
from dnoctl.queueing import task_send

PAGE_SIZE = 50
IMPORT_DIR = settings.BASE_DIR / "var" / "imports"
INLINE_IMPORT_MAX_BYTES = 1_000_000  # larger files run in a Celery task with a progress bar
PROFILE_DAYS = (1, 7, 30, 90)
ROLE_COLOURS = {
    MpanRole.IMPORT_PRIMARY: "#56b4e9",
    MpanRole.IMPORT_SECONDARY: "#009e73",
    MpanRole.EXPORT_PRIMARY: "#e69f00",
    MpanRole.EXPORT_SECONDARY: "#f0e442",
}


def _page(request: HttpRequest, items, param: str = "page", size: int = PAGE_SIZE):
    return Paginator(items, size).get_page(request.GET.get(param))


# --- register and queue ------------------------------------------------------------------


def premise_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    page = _page(request, selectors.premise_list(search=search))
    return render(
        request,
        "consent/premise_list.html",
        {"page": page, "search": search, "filter_query": f"q={search}" if search else ""},
    )


def awaiting_consent(request: HttpRequest) -> HttpResponse:
    page = _page(request, selectors.consent_awaiting_queue())
    return render(request, "consent/awaiting.html", {"page": page})


def notifications_failed(request: HttpRequest) -> HttpResponse:
    page = _page(request, selectors.notifications_failed())
    return render(request, "consent/notifications_failed.html", {"page": page})


@require_POST
@permission_required(MANAGE_CONSENT, raise_exception=True)
def consent_request_resend(request: HttpRequest, consent_id: int) -> HttpResponse:
    try:
        consent = selectors.consent_with_tenancy(consent_id=consent_id)
    except Consent.DoesNotExist:
        raise Http404("no such consent") from None
    try:
        notice = notifications.notification_consent_request_resend(consent=consent, by=request.user)
    except ValueError as exc:
        messages.error(request, f"Not sent: {exc}")
    else:
        messages.success(
            request,
            f"Consent request for {consent.tenancy.premise.reference} sent again ({notice.get_channel_display()}).",
        )
    return redirect("consent:awaiting")


@require_POST
@permission_required(MANAGE_CONSENT, raise_exception=True)
def notification_retry(request: HttpRequest, notification_id: int) -> HttpResponse:
    if notifications.notification_retry(notification_id=notification_id, by=request.user):
        messages.success(request, f"Notice {notification_id} queued for another try.")
    else:
        messages.error(request, f"Notice {notification_id} is not waiting for a retry.")
    return redirect("consent:notifications_failed")


# --- the premise page --------------------------------------------------------------------


def premise_detail(request: HttpRequest, premise_id: int) -> HttpResponse:
    try:
        premise = selectors.premise_detail(premise_id=premise_id)
    except Premise.DoesNotExist:
        raise Http404("no such premise") from None
    days = int(request.GET.get("days", 7)) if request.GET.get("days", "7").isdigit() else 7
    days = days if days in PROFILE_DAYS else 7
    return render(request, "consent/premise_detail.html", _premise_context(request, premise, days))


def _premise_context(request: HttpRequest, premise: Premise, days: int, **forms) -> dict[str, Any]:
    now = timezone.now()
    meters = list(premise.meters.all())
    chargers = [h for meter in meters for h in meter.hcalcs.all()]
    curtailment = premise_curtailment(premise_id=premise.pk, hcalcs_ids=[h.pk for h in chargers], now=now)
    for charger in chargers:
        charger.used_24h, charger.used_30d = curtailment.used_24h[charger.pk], curtailment.used_30d[charger.pk]
        charger.boost_details = boost.boost_details_get(hcalcs_id=charger.pk)
        if charger.boost_details:
            charger.boost_details["at_label"] = london_label(dt.datetime.fromisoformat(charger.boost_details["at"]))
    consent = selectors.premise_current_consent(premise=premise)
    tenancies = selectors.premise_tenancies(premise=premise)
    personal = request.user.has_perm(VIEW_PERSONAL_DATA)
    for tenancy in tenancies:
        tenancy.customer_shown = (
            tenancy.customer.name if personal else selectors.customer_masked_reference(tenancy.customer)
        )
    series = selectors.premise_profile(premise=premise, start=now - dt.timedelta(days=days), end=now)
    context = {
        "premise": premise,
        "meters": meters,
        "consent": consent,
        "customer": consent.tenancy.customer if consent else None,
        "customer_reference": selectors.customer_masked_reference(consent.tenancy.customer) if consent else "",
        "tenancies": tenancies,
        "history": selectors.premise_consent_history(premise=premise),
        "actions_page": _page(request, curtailment.actions, "actions_page", 20),
        "notices_page": _page(request, selectors.notifications_for_premise(premise=premise), "notices_page", 20),
        "profile_figure": _profile_figure(series),
        "profile_days": days,
        "profile_day_choices": PROFILE_DAYS,
        "can_manage_consent": request.user.has_perm(MANAGE_CONSENT),
        "grant_form": forms.get("grant_form")
        or GrantForm(initial={"override_allowed": consent.override_allowed if consent else True}),
        "reason_form": forms.get("reason_form") or ReasonForm(),
        "override_form": forms.get("override_form")
        or OverrideForm(initial={"override_allowed": "false" if consent and consent.override_allowed else "true"}),
        "preferences_form": forms.get("preferences_form")
        or PreferencesForm(
            initial={
                "notification_channel": consent.notification_channel if consent else None,
                "notification_frequency": consent.notification_frequency if consent else None,
            }
        ),
        "now_label": london_label(now),
    }
    return context


def _profile_figure(series: dict[str, list]) -> dict[str, Any]:
    """Export drawn below zero; x values are Europe/London strings, since Plotly ignores offsets."""
    traces = []
    for role in MpanRole:
        points = series.get(role.value)
        if not points:
            continue
        sign = -1 if role.value.startswith("export") else 1
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "line": {"shape": "hv", "color": ROLE_COLOURS[role.value], "width": 1.5},
                "name": f"{role.label} (kW){', shown negative' if sign < 0 else ''}",
                "x": [london_wallclock(start) for start, _ in points],
                "y": [round(sign * kwh * 2, 3) for _, kwh in points],
            }
        )
    layout = {
        "height": 320,
        "paper_bgcolor": "#182028",
        "plot_bgcolor": "#0f1419",
        "font": {"color": "#e6edf3", "family": "DejaVu Sans, sans-serif", "size": 13},
        "margin": {"l": 60, "r": 20, "t": 20, "b": 45},
        "legend": {"orientation": "h", "y": -0.2},
        "xaxis": {"gridcolor": "#2b3640", "title": {"text": "Europe/London"}},
        "yaxis": {"gridcolor": "#2b3640", "zerolinecolor": "#9aa7b3", "title": {"text": "kW (half-hour mean)"}},
        "hovermode": "x unified",
    }
    return {"data": traces, "layout": layout}


def _premise_or_404(premise_id: int) -> Premise:
    return get_object_or_404(Premise, pk=premise_id)


def _consent_or_error(request: HttpRequest, premise: Premise):
    consent = selectors.premise_current_consent(premise=premise)
    if consent is None:
        messages.error(request, "This premise has no current tenancy: record a change of tenancy first.")
    return consent


def _rerender(request: HttpRequest, premise: Premise, **forms) -> HttpResponse:
    premise = selectors.premise_detail(premise_id=premise.pk)
    context = _premise_context(request, premise, 7, **forms)
    return render(request, "consent/premise_detail.html", context, status=400)


def _apply(request: HttpRequest, premise: Premise, action, success: str) -> HttpResponse | None:
    try:
        action()
    except ValidationError as exc:
        messages.error(request, "Not changed: " + "; ".join(exc.messages))
        return None
    except services.ConsentConflict as exc:
        messages.error(request, f"Not changed: {exc}")
        return None
    messages.success(request, success)
    return redirect("consent:premise_detail", premise_id=premise.pk)


@require_POST
@permission_required(MANAGE_CONSENT, raise_exception=True)
def consent_action(request: HttpRequest, premise_id: int, action: str) -> HttpResponse:
    premise = _premise_or_404(premise_id)
    consent = _consent_or_error(request, premise)
    if consent is None:
        return redirect("consent:premise_detail", premise_id=premise.pk)
    forms_by_action = {
        "grant": ("grant_form", GrantForm),
        "decline": ("reason_form", ReasonForm),
        "withdraw": ("reason_form", ReasonForm),
        "override": ("override_form", OverrideForm),
        "preferences": ("preferences_form", PreferencesForm),
    }
    if action not in forms_by_action:
        raise Http404("no such consent action")
    form_name, form_class = forms_by_action[action]
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, "Not changed: please correct the form below.")
        return _rerender(request, premise, **{form_name: form})
    data, user = form.cleaned_data, request.user
    calls = {
        "grant": lambda: services.consent_grant(
            consent=consent,
            evidence_channel=data["evidence_channel"],
            evidence_date=data["evidence_date"],
            evidence_reference=data["evidence_reference"],
            override_allowed=data["override_allowed"],
            granted_by=user,
            reason=data["reason"],
        ),
        "decline": lambda: services.consent_decline(consent=consent, declined_by=user, reason=data["reason"]),
        "withdraw": lambda: services.consent_withdraw(consent=consent, withdrawn_by=user, reason=data["reason"]),
        "override": lambda: services.consent_override_set(
            consent=consent, override_allowed=data["override_allowed"], set_by=user, reason=data["reason"]
        ),
        "preferences": lambda: services.consent_preferences_set(
            consent=consent,
            notification_channel=data["notification_channel"],
            notification_frequency=data["notification_frequency"],
            set_by=user,
            reason=data["reason"],
        ),
    }
    done = _apply(request, premise, calls[action], f"Consent: {action} recorded.")
    return done or redirect("consent:premise_detail", premise_id=premise.pk)


@permission_required(MANAGE_CONSENT, raise_exception=True)
def tenancy_change(request: HttpRequest, premise_id: int) -> HttpResponse:
    premise = _premise_or_404(premise_id)
    form = TenancyChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                customer = services.customer_upsert(
                    external_ref=data["customer_reference"] or None,
                    name=data["name"],
                    email=data["email"],
                    phone=data["phone"],
                    postal_address=data["postal_address"],
                )
                services.tenancy_change_record(
                    premise=premise,
                    new_customer=customer,
                    at=data["at"],
                    recorded_by=request.user,
                    reason=data["reason"],
                    notification_channel=data["notification_channel"],
                    notification_frequency=data["notification_frequency"],
                )
        except ValidationError as exc:
            for field, errors in (exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}).items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Change of tenancy recorded; the consent request is on its way.")
            return redirect("consent:premise_detail", premise_id=premise.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "consent/tenancy_form.html", {"premise": premise, "form": form}, status=status)


@require_POST
@permission_required(MANAGE_CONSENT, raise_exception=True)
def boost_details(request: HttpRequest, hcalcs_id: int) -> HttpResponse:
    """Ask the meter for its boost-button details (SRV 7.11); the answer arrives later."""
    try:
        hcalcs = selectors.hcalcs_with_meter(hcalcs_id=hcalcs_id)
    except HCALCS.DoesNotExist:
        raise Http404("no such HCALCS") from None
    if task_send(tasks.boost_details_read, (hcalcs.pk, request.user.pk)):
        messages.success(request, f"SRV 7.11 requested for {hcalcs.eui64}; reload in a few seconds for the answer.")
    else:
        messages.error(request, f"SRV 7.11 for {hcalcs.eui64} not requested: the task queue is unreachable. Try again.")
    return redirect("consent:premise_detail", premise_id=hcalcs.meter.premise_id)


# --- uploads -----------------------------------------------------------------------------


def _store_upload(upload, job_id: str) -> Path:
    """In chunks, never whole in memory, for the import to stream."""
    IMPORT_DIR.mkdir(parents=True, exist_ok=True)
    path = IMPORT_DIR / f"{job_id}.csv"
    with path.open("wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return path


@permission_required(IMPORT_PREMISES, raise_exception=True)
def import_upload(request: HttpRequest) -> HttpResponse:
    """Small files import while the engineer waits; larger ones run in a task with a progress bar."""
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload, dry_run = form.cleaned_data["file"], form.cleaned_data["dry_run"]
        job_id = uuid.uuid4().hex
        path = _store_upload(upload, job_id)
        if upload.size <= INLINE_IMPORT_MAX_BYTES:
            try:
                report = premises_import_path(path=path, dry_run=dry_run)
            finally:
                path.unlink(missing_ok=True)
            premises_import_audit(report=report, source=upload.name, user=request.user)
            status = 200 if report.ok else 400
            context = {"form": ImportUploadForm(), "report": report.as_dict(), "source": upload.name}
            return render(request, "consent/import_upload.html", context, status=status)
        import_progress_set(job_id, {"phase": "queued", "percent": 0, "report": None, "source": upload.name})
        sent = task_send(
            tasks.premises_import,
            kwargs={"job_id": job_id, "path": str(path), "dry_run": dry_run, "user_id": request.user.pk},
        )
        if not sent:
            path.unlink(missing_ok=True)
            messages.error(request, "The import was not started: the task queue is unreachable. Upload it again.")
            return redirect("consent:import_upload")
        return redirect("consent:import_job", job_id=job_id)
    return render(
        request, "consent/import_upload.html", {"form": form}, status=400 if request.method == "POST" else 200
    )


@permission_required(IMPORT_PREMISES, raise_exception=True)
def import_job(request: HttpRequest, job_id: str) -> HttpResponse:
    state = import_progress_get(job_id)
    if state is None:
        raise Http404("no such import job (or it finished more than a day ago)")
    context = {
        "job_id": job_id,
        "state": state,
        "report": state.get("report"),
        "progress_url": reverse("api:consent_import_progress", args=[job_id]),
    }
    return render(request, "consent/import_job.html", context)


@permission_required(MANAGE_CONSENT, raise_exception=True)
def tenancy_feed_upload(request: HttpRequest) -> HttpResponse:
    form = CsvUploadForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        result = tenancy_feed_apply(raw=form.cleaned_data["file"].open("rb"), recorded_by=request.user)
        if result.ok:
            messages.success(request, f"{result.applied} change(s) of tenancy recorded.")
            return redirect("consent:awaiting")
    status = 400 if request.method == "POST" else 200
    return render(request, "consent/tenancy_feed.html", {"form": form, "result": result}, status=status)
