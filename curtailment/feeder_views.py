"""The feeder page and its operator controls. It lives with the engine because it shows and controls
curtailment events, which the feeders app below knows nothing of. Controls are POST-only, CSRF-
protected and permission-checked; each calls a service."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.push import feeder_group, push_on_commit
from core.roles import CONFIGURE_FEEDERS, CONTROL_CURTAILMENT
from core.times import london_label
from curtailment import selectors
from curtailment.choices import EventTrigger
from curtailment.models import OPEN_EVENT_STATES
from curtailment.services import curtailment_event_cancel, curtailment_event_start
from dnoctl.charts import feeder_load_figure
from dnoctl.queueing import queueing_failures
from feeders.models import Feeder, FeederAlert
from feeders.selectors import (
    Trend,
    feeder_alert_open,
    feeder_alerts_recent,
    feeder_chart_readings,
    feeder_trend,
    feeder_with_substation,
)
from feeders.services import alert_acknowledge, feeder_automatic_set

RANGES_HOURS = [1, 6, 24, 72, 168]
# The last hour: the live minutes fill the chart, with the trend forecast at its right edge.
DEFAULT_RANGE_HOURS = 1
# Enough points to see the shape at 1920 px; beyond that the browser only slows down.
MAX_CHART_POINTS = 4000
MAX_EVENT_MINUTES = 120  # a charger may be off at most 120 min in any 24 h (NF11)


class ReasonConfirmForm(forms.Form):
    reason = forms.CharField(min_length=5, max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    confirm = forms.BooleanField(required=True, label="I confirm this action")


class CurtailForm(ReasonConfirmForm):
    reduction_kw = forms.FloatField(min_value=0.1, label="Reduction (kW)")
    duration_minutes = forms.IntegerField(min_value=1, max_value=MAX_EVENT_MINUTES, label="Duration (minutes)")
    field_order = ["reduction_kw", "duration_minutes", "reason", "confirm"]

    def __init__(self, *args: Any, feeder: Feeder, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.feeder = feeder
        self.fields["reduction_kw"].widget.attrs.update({"max": f"{feeder.rating_kw:.1f}", "step": "0.1"})
        self.fields["duration_minutes"].initial = 30

    def clean_reduction_kw(self) -> float:
        value = self.cleaned_data["reduction_kw"]
        if value > self.feeder.rating_kw:
            raise ValidationError(f"cannot exceed the feeder's rating of {self.feeder.rating_kw:.1f} kW")
        return value


class AcknowledgeForm(forms.Form):
    note = forms.CharField(max_length=500, required=False, label="Note (optional)")


class AutomaticForm(ReasonConfirmForm):
    enabled = forms.TypedChoiceField(choices=[("1", "On"), ("0", "Off")], coerce=lambda v: v == "1")
    field_order = ["enabled", "reason", "confirm"]


def _range_hours(request: HttpRequest) -> int:
    try:
        hours = int(request.GET.get("hours", DEFAULT_RANGE_HOURS))
    except ValueError:
        return DEFAULT_RANGE_HOURS
    return hours if hours in RANGES_HOURS else DEFAULT_RANGE_HOURS


def trend_forecast_amps(trend: Trend, *, rating_amps: float) -> list[tuple[dt.datetime, float]]:
    """The detection's trend in amps to the horizon; none when untrustworthy or the latest readings turn away."""
    if trend.direction not in ("rising", "falling") or trend.until is None or trend.forecast_percent is None:
        return []
    end = trend.until + dt.timedelta(minutes=trend.horizon_minutes)
    return [
        (trend.until, (trend.current_percent or 0.0) * rating_amps / 100.0),
        (end, max(0.0, trend.forecast_percent) * rating_amps / 100.0),
    ]


def feeder_chart(feeder: Feeder, *, hours: int, now: dt.datetime, trend: Trend | None = None) -> dict[str, Any]:
    """The load figure for the last ``hours``: thinned readings, trend forecast and events."""
    since = now - dt.timedelta(hours=hours)
    readings = feeder_chart_readings(feeder=feeder, since=since)
    if trend is None:
        trend = feeder_trend(feeder=feeder)
    forecast = trend_forecast_amps(trend, rating_amps=feeder.rating_amps)
    if len(readings) > MAX_CHART_POINTS:
        step = -(-len(readings) // MAX_CHART_POINTS)
        readings = readings[::step] + ([readings[-1]] if (len(readings) - 1) % step else [])
    events = selectors.feeder_events_overlapping(feeder=feeder, since=since, until=now)
    return feeder_load_figure(
        readings=readings,
        phases=feeder.phases,
        rating_amps=feeder.rating_amps,
        at_risk_percent=feeder.at_risk_percent,
        since=since,
        until=now + dt.timedelta(minutes=10),
        forecast=forecast,
        events=events,
    )


def _feeder_context(request: HttpRequest, feeder: Feeder, **forms_by_name: Any) -> dict[str, Any]:
    now = timezone.now()
    trend = feeder_trend(feeder=feeder)  # the chart and the trend panel both show it
    hours = _range_hours(request)
    events = selectors.feeder_events_recent(feeder=feeder)
    open_event = next((e for e in events if e.status in OPEN_EVENT_STATES), None)
    alerts = feeder_alerts_recent(feeder=feeder)
    open_alert = next((a for a in alerts if a.cleared_at is None), None)
    timeline = sorted(
        [{"at": e.started_at, "kind": "event", "item": e, "label": london_label(e.started_at)} for e in events]
        + [{"at": a.raised_at, "kind": "alert", "item": a, "label": london_label(a.raised_at)} for a in alerts],
        key=lambda row: row["at"],
        reverse=True,
    )
    return {
        "feeder": feeder,
        "hours": hours,
        "ranges": RANGES_HOURS,
        "figure": feeder_chart(feeder, hours=hours, now=now, trend=trend),
        "open_event": open_event,
        "open_alert": open_alert,
        "trend": trend,
        "open_alert_label": london_label(open_alert.raised_at) if open_alert else "",
        "open_alert_clearing": _alert_clearing(open_alert),
        "timeline": timeline,
        "last_reading_label": london_label(feeder.last_reading_at),
        "curtail_form": forms_by_name.get("curtail_form") or CurtailForm(feeder=feeder),
        "cancel_form": forms_by_name.get("cancel_form") or ReasonConfirmForm(prefix="cancel"),
        "acknowledge_form": forms_by_name.get("acknowledge_form") or AcknowledgeForm(prefix="ack"),
        "automatic_form": forms_by_name.get("automatic_form")
        or AutomaticForm(prefix="auto", initial={"enabled": "0" if feeder.automatic_curtailment else "1"}),
        "error": forms_by_name.get("error", ""),
    }


def _alert_clearing(alert: FeederAlert | None) -> dict[str, str] | None:
    """When the alert's feeder went below its clear level and when it clears: why "At risk" sits beside a low load."""
    if alert is None or alert.below_clear_since is None:
        return None
    clears_at = alert.below_clear_since + dt.timedelta(minutes=settings.DNOCTL["CLEAR_HOLD_MINUTES"])
    return {"since": london_label(alert.below_clear_since), "at": london_label(clears_at)}


def feeder_detail(request: HttpRequest, feeder_id: int) -> HttpResponse:
    """One feeder: its load chart (range selectable), trend, events and, for operators, the controls."""
    try:
        feeder = feeder_with_substation(feeder_id=feeder_id)
    except Feeder.DoesNotExist:
        raise Http404("no such feeder") from None
    return render(request, "feeders/feeder_detail.html", _feeder_context(request, feeder))


def feeder_chart_json(request: HttpRequest, feeder_id: int) -> JsonResponse:
    """The load figure for another range, for ``Plotly.react`` without a page reload."""
    feeder = get_object_or_404(Feeder, pk=feeder_id)
    return JsonResponse(feeder_chart(feeder, hours=_range_hours(request), now=timezone.now()))


def _rejected(request: HttpRequest, feeder: Feeder, status: int, **forms_by_name: Any) -> HttpResponse:
    return render(
        request, "feeders/feeder_detail.html", _feeder_context(request, feeder, **forms_by_name), status=status
    )


@require_POST
@permission_required(CONTROL_CURTAILMENT, raise_exception=True)
def feeder_curtail(request: HttpRequest, feeder_id: int) -> HttpResponse:
    """Curtail now: open a manual event for the reduction and duration the operator asked for."""
    feeder = get_object_or_404(Feeder, pk=feeder_id)
    form = CurtailForm(request.POST, feeder=feeder)
    if not form.is_valid():
        return _rejected(request, feeder, 400, curtail_form=form)
    data = form.cleaned_data
    try:
        with queueing_failures() as not_queued, transaction.atomic():
            event = curtailment_event_start(
                feeder=feeder,
                reduction_kw=data["reduction_kw"],
                duration_minutes=data["duration_minutes"],
                reason=data["reason"],
                requested_by=request.user,
                trigger=EventTrigger.MANUAL,
            )
            push_on_commit(
                [feeder_group(feeder.pk)],
                "control.event_requested",
                {
                    "feeder_id": feeder.pk,
                    "event_id": event.pk,
                    "actor": request.user.get_username(),
                    "reason": data["reason"],
                },
            )
    except ValidationError as exc:
        status = 409 if type(exc).__name__ == "EventAlreadyOpen" else 400
        return _rejected(request, feeder, status, curtail_form=form, error="; ".join(exc.messages))
    if not_queued:
        # The event and its actions are stored: they wait for the broker, and the minute
        # re-check sends them once it is back. Say so rather than fail.
        messages.warning(
            request,
            f"Curtailment event {event.pk} started on {feeder.code}; its commands are queued, not yet sent: "
            f"{not_queued[0]}. They are sent as soon as the task queue is back.",
        )
    else:
        messages.success(request, f"Curtailment event {event.pk} started on {feeder.code}.")
    return redirect("curtailment:event_detail", event_id=event.pk)


@require_POST
@permission_required(CONTROL_CURTAILMENT, raise_exception=True)
def feeder_cancel_event(request: HttpRequest, feeder_id: int) -> HttpResponse:
    """Cancel the feeder's open event: every live charger gets a reset (7.8)."""
    feeder = get_object_or_404(Feeder, pk=feeder_id)
    form = ReasonConfirmForm(request.POST, prefix="cancel")
    if not form.is_valid():
        return _rejected(request, feeder, 400, cancel_form=form)
    event = selectors.event_open_for_feeder(feeder_id=feeder.pk)
    if event is None:
        return _rejected(request, feeder, 409, cancel_form=form, error=f"{feeder.code} has no open event to cancel")
    with queueing_failures() as not_queued, transaction.atomic():
        curtailment_event_cancel(event=event, reason=form.cleaned_data["reason"], cancelled_by=request.user)
        push_on_commit(
            [feeder_group(feeder.pk)],
            "control.event_cancelled",
            {
                "feeder_id": feeder.pk,
                "event_id": event.pk,
                "actor": request.user.get_username(),
                "reason": form.cleaned_data["reason"],
            },
        )
    if not_queued:
        messages.warning(
            request,
            f"Event {event.pk} on {feeder.code} cancelled; the resets (7.8) are queued, not yet sent: "
            f"{not_queued[0]}. They are sent as soon as the task queue is back.",
        )
    else:
        messages.success(request, f"Event {event.pk} on {feeder.code} cancelled; chargers are being released.")
    return redirect("feeders:feeder_detail", feeder_id=feeder.pk)


@require_POST
@permission_required(CONFIGURE_FEEDERS, raise_exception=True)
def feeder_automatic(request: HttpRequest, feeder_id: int) -> HttpResponse:
    """Turn automatic curtailment on or off (engineers); a repeat changes nothing."""
    feeder = get_object_or_404(Feeder, pk=feeder_id)
    form = AutomaticForm(request.POST, prefix="auto")
    if not form.is_valid():
        return _rejected(request, feeder, 400, automatic_form=form)
    enabled = form.cleaned_data["enabled"]
    changed = feeder_automatic_set(
        feeder=feeder, enabled=enabled, reason=form.cleaned_data["reason"], changed_by=request.user
    )
    state = "on" if enabled else "off"
    if changed:
        messages.success(request, f"Automatic curtailment on {feeder.code} is now {state}.")
    else:
        messages.info(request, f"Automatic curtailment on {feeder.code} was already {state}.")
    return redirect("feeders:feeder_detail", feeder_id=feeder.pk)


@require_POST
@permission_required(CONTROL_CURTAILMENT, raise_exception=True)
def feeder_alert_acknowledge(request: HttpRequest, feeder_id: int) -> HttpResponse:
    """Acknowledge the open alert; two operators at once record one acknowledgement."""
    feeder = get_object_or_404(Feeder, pk=feeder_id)
    form = AcknowledgeForm(request.POST, prefix="ack")
    if not form.is_valid():
        return _rejected(request, feeder, 400, acknowledge_form=form)
    alert = feeder_alert_open(feeder=feeder)
    if alert is None:
        return _rejected(request, feeder, 409, acknowledge_form=form, error=f"{feeder.code} has no open alert")
    changed = alert_acknowledge(alert=alert, reason=form.cleaned_data["note"], acknowledged_by=request.user)
    if changed:
        messages.success(request, f"Alert on {feeder.code} acknowledged.")
    else:
        messages.info(request, f"The alert on {feeder.code} was already acknowledged.")
    return redirect("feeders:feeder_detail", feeder_id=feeder.pk)
