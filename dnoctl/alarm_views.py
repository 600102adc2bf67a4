"""The alarm list (``/alarms/``): every open alarm, most urgent first, acknowledged from the
list.

Acknowledging needs ``curtailment.control_curtailment``; a batch is one transaction, refused
whole (naming the alarms) when any of them is no longer open."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.roles import CONTROL_CURTAILMENT
from core.times import london_label
from dnoctl.alarms import alarm_counts, alarms_read, clocks_by_feeder, escalated_at
from feeders.selectors import alerts_with_feeder
from feeders.services import alert_acknowledge

ALARMS_PER_PAGE = 100
# Offered beside the reason box (a datalist: the operator may type anything else).
COMMON_REASONS = [
    "Seen: watching the feeder",
    "Seen: automatic curtailment in hand",
    "Field crew informed",
    "Expected: evening peak",
]


class AlertIdsField(forms.Field):
    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        try:
            return sorted({int(v) for v in value or []})
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError("Alarm ids must be whole numbers.") from exc


class AlarmAcknowledgeForm(forms.Form):
    """Whether each alert is open is checked in clean(), so the error names which alarm is wrong."""

    reason = forms.CharField(min_length=3, max_length=500, strip=True)
    alert = AlertIdsField(required=False)
    only = forms.IntegerField(required=False, min_value=1)
    page = forms.IntegerField(required=False, min_value=1)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        chosen = [data["only"]] if data.get("only") else data.get("alert") or []
        if not chosen:
            raise forms.ValidationError("Select at least one alarm to acknowledge.")
        alerts = {a.pk: a for a in alerts_with_feeder(alert_ids=chosen)}
        missing = [str(pk) for pk in chosen if pk not in alerts]
        if missing:
            raise forms.ValidationError(f"No such alert: {', '.join(missing)}. Nothing was acknowledged.")
        cleared = [alerts[pk].feeder.code for pk in chosen if alerts[pk].cleared_at is not None]
        if cleared:
            raise forms.ValidationError(
                f"The alert on {', '.join(cleared)} has cleared since the list was drawn. Nothing was acknowledged."
            )
        data["alerts"] = [alerts[pk] for pk in chosen]
        return data


def _list_context(request: HttpRequest, page_number: Any = None) -> dict[str, Any]:
    alarms = alarms_read()
    page = Paginator(alarms, ALARMS_PER_PAGE).get_page(page_number or request.GET.get("page"))
    return {
        "page": page,
        "alarms": page.object_list,
        "counts": alarm_counts(alarms),
        "as_of_label": london_label(timezone.now()),
        "filter_query": "",
    }


def alarm_list(request: HttpRequest) -> HttpResponse:
    context = {**_list_context(request), "form": AlarmAcknowledgeForm(), "common_reasons": COMMON_REASONS}
    return render(request, "dashboard/alarms.html", context)


def alarm_list_json(request: HttpRequest) -> JsonResponse:
    """Fetched by the page on each push that can change the rows; the server orders them."""
    context = _list_context(request)
    return JsonResponse(
        {
            "list_html": render_to_string("dashboard/_alarm_list.html", context, request=request),
            **context["counts"],
        }
    )


@require_POST
@permission_required(CONTROL_CURTAILMENT, raise_exception=True)
def alarm_acknowledge(request: HttpRequest) -> HttpResponse:
    """All or none. An alert acknowledged a moment ago (someone else, a second click) is done, not an error."""
    form = AlarmAcknowledgeForm(request.POST)
    if not form.is_valid():
        context = {**_list_context(request, request.POST.get("page")), "form": form, "common_reasons": COMMON_REASONS}
        return render(request, "dashboard/alarms.html", context, status=400)
    alerts = form.cleaned_data["alerts"]
    clocks = clocks_by_feeder([alert.feeder_id for alert in alerts])
    with transaction.atomic():
        done = [
            alert
            for alert in alerts
            if alert_acknowledge(
                alert=alert,
                reason=form.cleaned_data["reason"],
                acknowledged_by=request.user,
                via=f"alarm list ({len(alerts)} at once)",
                escalated_at=escalated_at(clocks.get(alert.feeder_id)),
            )
        ]
    if done:
        codes = ", ".join(alert.feeder.code for alert in done)
        messages.success(request, f"Acknowledged {len(done)} alarm{'s' if len(done) != 1 else ''}: {codes}.")
    others = alerts_with_feeder(alert_ids=[a.pk for a in alerts if a not in done])
    if others:
        named = ", ".join(
            f"{a.feeder.code} ({a.acknowledged_by.get_username() if a.acknowledged_by else 'someone'})" for a in others
        )
        messages.info(request, f"Already acknowledged: {named}.")
    page = form.cleaned_data.get("page")
    return redirect(f"{reverse('alarms')}?page={page}" if page and page > 1 else reverse("alarms"))
