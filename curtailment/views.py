"""Curtailment pages: an event's timeline, compliance and the audit trail. Live pages re-fetch a
``live.json`` twin on a WebSocket nudge, so rows render in one place."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_POST

from consent.selectors import ev_chargers_with_feeder, notifications_for_event
from core.models import AuditEntry
from core.push import feeder_group, push_on_commit
from core.roles import CONTROL_CURTAILMENT, EXPORT_REPORTS
from core.selectors import audit_actions_recorded, audit_entries_filtered, audit_entries_of
from core.times import LONDON, add_months, london_label
from curtailment import selectors, usage
from curtailment.audit_links import audit_target_links
from curtailment.choices import ActionEndReason, ActionKind, ActionStatus, EventEndReason, EventStatus
from curtailment.decision_summary import event_decision_summary
from curtailment.event_list import event_csv_rows, event_minutes, events_filtered
from curtailment.forms import EventCancelForm, EventFilterForm
from curtailment.models import OPEN_EVENT_STATES, CurtailmentAction, CurtailmentEvent
from curtailment.selectors import LimitStep, action_limit_steps, event_open_for_feeder
from curtailment.services.common import COUNTING_ACTION_STATES
from curtailment.templatetags.event_chargers import event_chargers_panel
from dnoctl.charts import event_timeline_figure, usage_distribution_figure
from dnoctl.csv_safety import csv_row
from dnoctl.queueing import broker_problem, queueing_failures
from feeders.models import Feeder
from feeders.selectors import feeder_codes, feeders_ever_managed

AUDIT_PER_PAGE = 100
NEAREST_LIMIT_ROWS = 25

# --- event ---------------------------------------------------------------------------------


def _event_with_related(event_id: int) -> CurtailmentEvent:
    try:
        return selectors.event_with_related(event_id=event_id)
    except CurtailmentEvent.DoesNotExist:
        raise Http404("no such event") from None


def event_milestones(event: CurtailmentEvent, actions: list[CurtailmentAction]) -> list[dict[str, Any]]:
    """Points on the event's timeline: alert, decision, ASP call-offs, overrides, end."""
    points: list[dict[str, Any]] = []
    # Short labels: each is a row heading of the timeline, beside the chart.
    if event.alert is not None:
        points.append({"at": event.alert.raised_at, "label": f"Alert ({event.alert.kind})"})
    points.append({"at": event.started_at, "label": f"Start ({event.trigger})"})
    for calloff in selectors.event_calloffs(event=event):
        points.append({"at": calloff.called_at, "label": f"ASP {calloff.contract.reference} {calloff.kw:.0f} kW"})
    for action in actions:
        if action.end_reason == ActionEndReason.OVERRIDE and action.ended_at:
            points.append({"at": action.ended_at, "label": f"Override {action.hcalcs.eui64}"})
    if event.ended_at:
        points.append({"at": event.ended_at, "label": f"End ({event.end_reason.replace('_', ' ') or 'ended'})"})
    return points


def _event_tables(event: CurtailmentEvent, actions: list[CurtailmentAction]) -> dict[str, Any]:
    requests = [sr for action in actions for sr in action.service_requests.all()]
    limit_steps = action_limit_steps(actions=actions)
    for action in actions:
        # The table shows a limit's earlier levels beside the one in force.
        action.limit_history = limit_history(limit_steps.get(action.pk, []))
    audit = audit_entries_of(target_type=event._meta.label_lower, target_id=event.pk)
    return {
        "event": event,
        "decision_summary": event_decision_summary(event, actions),
        "shortfall_now_kw": shortfall_now_kw(event, actions),
        # Who ended it, as the audit trail has it (an operator's cancel, or a rule).
        "ended_by": next((e.actor for e in audit if e.action == "event.end"), ""),
        "released_by": next((e.actor for e in audit if e.action == "event.release"), ""),
        "actions": actions,
        "service_requests": requests,
        "notifications": notifications_for_event(event_id=event.pk),
        "audit": audit,
        "calloffs": selectors.event_calloffs(event=event),
        "overrides": [a for a in actions if a.end_reason == ActionEndReason.OVERRIDE],
        "early_release": event.end_reason == EventEndReason.EARLY_RELEASE,
        "confirmed_count": sum(1 for a in actions if a.confirmed_at),
        "mix": event_mix(actions),
        "limit_steps": limit_steps,
        "queued": commands_queued(event, actions),
        # The feeder's time-to-failure clock while it belongs to this event.
        "clock": selectors.feeder_clock(feeder_id=event.feeder_id, event_id=event.pk),
    }


def limit_history(steps: list[LimitStep]) -> str:
    """A limit's levels so far, ``62 % → 48 % → lifted``; empty while it has had one level."""
    if len(steps) < 2:
        return ""
    return " → ".join("lifted" if step.change == "lift" else f"{step.level_percent} %" for step in steps)


def shortfall_now_kw(event: CurtailmentEvent, actions: list[CurtailmentAction]) -> float:
    """kW the active event still lacks, as the engine counts it; 0 once releasing or ended."""
    if event.status != EventStatus.ACTIVE:
        return 0.0
    counting = sum(a.expected_kw for a in actions if a.status in COUNTING_ACTION_STATES)
    short = event.required_reduction_kw - event.asp_calloff_kw - counting
    return round(short, 1) if short > 0.05 else 0.0


def event_mix(actions: list[CurtailmentAction]) -> dict[str, Any]:
    """The event's throttled and switched-off chargers, and the kW their confirmed live actions withhold."""
    throttled = {a.hcalcs_id for a in actions if a.kind == ActionKind.LIMIT}
    switched_off = {a.hcalcs_id for a in actions if a.kind == ActionKind.SWITCH_OFF}
    withholding = [a for a in actions if a.status == ActionStatus.CONFIRMED]
    throttled_kw = sum(a.expected_kw for a in withholding if a.kind == ActionKind.LIMIT)
    switched_off_kw = sum(a.expected_kw for a in withholding if a.kind == ActionKind.SWITCH_OFF)
    return {
        "throttled": len(throttled),
        "switched_off": len(switched_off),
        "throttled_kw": throttled_kw,
        "switched_off_kw": switched_off_kw,
        "withheld_kw": throttled_kw + switched_off_kw,
    }


def commands_queued(event: CurtailmentEvent, actions: list[CurtailmentAction]) -> dict[str, Any] | None:
    """Chargers whose command waits for a down broker; the broker is asked only when commands are unsent."""
    if event.status not in OPEN_EVENT_STATES:
        return None
    waiting = [
        a
        for a in actions
        if a.status == ActionStatus.PLANNED
        or (
            a.status == ActionStatus.RELEASING
            and a.lift_request_id is None  # a limit's reset is its lift (7.16 at 100 %)
            and not any(sr.srv == "7.8" for sr in a.service_requests.all())
        )
    ]
    if not waiting:
        return None
    reason = broker_problem()
    return {"count": len(waiting), "reason": reason} if reason else None


def _event_page(
    request: HttpRequest,
    event: CurtailmentEvent,
    *,
    cancel_form: EventCancelForm | None = None,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    actions = list(event.actions.all())
    context = _event_tables(event, actions)
    context["figure"] = event_timeline_figure(
        event=event,
        actions=actions,
        milestones=event_milestones(event, actions),
        limit_steps=context["limit_steps"],
    )
    context["cancel_form"] = cancel_form or EventCancelForm(prefix="cancel")
    context["error"] = error
    return render(request, "curtailment/event_detail.html", context, status=status)


def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    """An event's whole story: the decision, a Plotly timeline and its tables; operators can cancel it here."""
    return _event_page(request, _event_with_related(event_id))


def event_live(request: HttpRequest, event_id: int) -> JsonResponse:
    event = _event_with_related(event_id)
    actions = list(event.actions.all())
    context = _event_tables(event, actions)
    return JsonResponse(
        {
            "status": event.status,
            "figure": event_timeline_figure(
                event=event,
                actions=actions,
                milestones=event_milestones(event, actions),
                limit_steps=context["limit_steps"],
            ),
            "tables_html": render_to_string("curtailment/_event_tables.html", context, request=request),
            "summary_html": render_to_string("curtailment/_event_summary.html", context, request=request),
        }
    )


@require_POST
@permission_required(CONTROL_CURTAILMENT, raise_exception=True)
def event_cancel(request: HttpRequest, event_id: int) -> HttpResponse:
    """Cancel the event, audited with the reason; one released meanwhile is a 409 and nothing is written."""
    from curtailment.services import event_release

    event = _event_with_related(event_id)
    form = EventCancelForm(request.POST, prefix="cancel")
    if not form.is_valid():
        return _event_page(request, event, cancel_form=form, status=400)
    reason = form.cleaned_data["reason"]
    with queueing_failures() as not_queued, transaction.atomic():
        cancelled = event.status == EventStatus.ACTIVE and event_release(
            event_id=event.pk,
            end_reason=EventEndReason.CANCELLED,
            action_reason=ActionEndReason.CANCELLED,
            reason=reason,
            actor_user=request.user,
        )
        if cancelled:
            push_on_commit(
                [feeder_group(event.feeder_id)],
                "control.event_cancelled",
                {
                    "feeder_id": event.feeder_id,
                    "event_id": event.pk,
                    "actor": request.user.get_username(),
                    "reason": reason,
                },
            )
    if not cancelled:
        event = _event_with_related(event_id)
        state = "already being released" if event.status == EventStatus.RELEASING else "already over"
        return _event_page(request, event, cancel_form=form, status=409, error=f"Event {event.pk} is {state}.")
    if not_queued:
        messages.warning(
            request,
            f"Event {event.pk} cancelled; the resets (7.8) are queued, not yet sent: {not_queued[0]}. "
            "They are sent as soon as the task queue is back.",
        )
    else:
        messages.success(request, f"Event {event.pk} on {event.feeder.code} cancelled; chargers are being released.")
    return redirect("curtailment:event_detail", event_id=event.pk)


def feeder_protection(request: HttpRequest, feeder_id: int) -> HttpResponse:
    """The feeder page's time-to-failure panel, re-rendered when its clock is pushed."""
    feeder = get_object_or_404(Feeder, pk=feeder_id)
    clock = selectors.feeder_clock(feeder_id=feeder.pk)
    return render(request, "curtailment/_protection_panel.html", {"feeder": feeder, "clock": clock})


def feeder_event_chargers(request: HttpRequest, feeder_id: int) -> HttpResponse:
    """The feeder page's list of the open event's chargers, re-rendered when pushed."""
    feeder = get_object_or_404(Feeder, pk=feeder_id)
    event = event_open_for_feeder(feeder_id=feeder.pk)
    return render(request, "curtailment/_event_chargers.html", event_chargers_panel(feeder, event))


def _event_filter_form(request: HttpRequest) -> EventFilterForm:
    # Only the filters given: an empty form is "no filter", not a form full of errors.
    return EventFilterForm({key: value for key, value in request.GET.items() if value != ""})


def event_list(request: HttpRequest) -> HttpResponse:
    """Events, newest first, filtered, paged and as CSV; a bad filter is a 400 naming it."""
    form = _event_filter_form(request)
    valid = form.is_valid()
    events = events_filtered(form.cleaned_data) if valid else []
    per_page = (form.cleaned_data.get("per_page") if valid else None) or 50
    page = Paginator(events, per_page).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    now = timezone.now()
    rows = [{"event": e, "minutes": event_minutes(e, now)[0]} for e in page.object_list]
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "filter_query": query.urlencode(),
        "filtered": valid and any(form.cleaned_data.get(k) for k in form.fields if k != "per_page"),
        "feeder_codes": feeder_codes(),
    }
    return render(request, "curtailment/event_list.html", context, status=200 if valid else 400)


@permission_required(EXPORT_REPORTS, raise_exception=True)
def event_csv(request: HttpRequest) -> HttpResponse:
    """The filtered events as CSV (every cell guarded against formula injection), streamed."""
    form = _event_filter_form(request)
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        return HttpResponse(f"Bad filter: {problems}", status=400, content_type="text/plain; charset=utf-8")
    now = timezone.now()
    stamp = now.astimezone(LONDON).strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        event_csv_rows(events_filtered(form.cleaned_data), now=now), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="dnoctl-events-{stamp}.csv"'
    return response


# --- compliance ------------------------------------------------------------------------------


def _months_between(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + (end.month - start.month)


def compliance_context(now: dt.datetime) -> dict[str, Any]:
    """Minutes used and planned per charger (NF11/NF12), and NF10 dates per managed feeder."""
    chargers = ev_chargers_with_feeder()
    ids = [c.pk for c in chargers]
    # Minutes used so far plus minutes already planned by live actions: what selection
    # counts (invariant 2), so the page and the engine agree on who is near a limit.
    allowances = usage.hcalcs_allowance(hcalcs_ids=ids, at=now)
    limit_24h, limit_30d = usage.limit_24h_minutes(), usage.limit_30d_minutes()
    live = selectors.hcalcs_curtailed_now(hcalcs_ids=ids, now=now)
    rows = []
    for charger in chargers:
        u24, u30 = allowances[charger.pk].used_24h, allowances[charger.pk].used_30d
        feeder = charger.meter.premise.feeder
        rows.append(
            {
                "eui64": charger.eui64,
                "feeder": feeder,
                "used_24h": u24,
                "used_30d": u30,
                "pct_24h": 100.0 * u24 / limit_24h,
                "pct_30d": 100.0 * u30 / limit_30d,
                "nearest": max(u24 / limit_24h, u30 / limit_30d),
                "curtailed_now": charger.pk in live,
            }
        )
    rows.sort(key=lambda r: (-r["nearest"], r["eui64"]))
    today = now.astimezone(LONDON).date()
    feeders = []
    for feeder in feeders_ever_managed():
        feeders.append(
            {
                "feeder": feeder,
                "months": _months_between(feeder.managed_since, today) + 1,
                "market_solution_by": add_months(feeder.managed_since, 6),
                "implemented_by": add_months(feeder.managed_since, 18),
            }
        )
    return {
        "now_label": london_label(now),
        "limit_24h": limit_24h,
        "limit_30d": limit_30d,
        "chargers": len(rows),
        "curtailed_now": len(live),
        "total_24h": sum(r["used_24h"] for r in rows),
        "total_30d": sum(r["used_30d"] for r in rows),
        "at_limit": sum(1 for r in rows if r["nearest"] >= 1),
        "nearest": rows[:NEAREST_LIMIT_ROWS],
        "feeders": feeders,
        "today": today,
        "figure": usage_distribution_figure(
            minutes_24h=[r["used_24h"] for r in rows],
            minutes_30d=[r["used_30d"] for r in rows],
            limit_24h=limit_24h,
            limit_30d=limit_30d,
        ),
    }


def compliance(request: HttpRequest) -> HttpResponse:
    """Usage-limit compliance (NF11, NF12) and feeder management dates (NF10)."""
    return render(request, "curtailment/compliance.html", compliance_context(timezone.now()))


def compliance_live(request: HttpRequest) -> JsonResponse:
    context = compliance_context(timezone.now())
    return JsonResponse(
        {
            "figure": context.pop("figure"),
            "tables_html": render_to_string("curtailment/_compliance_tables.html", context, request=request),
        }
    )


# --- audit ---------------------------------------------------------------------------------


def _london_day(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def audit_filters(params) -> dict[str, Any]:
    return {
        "actor": params.get("actor", "").strip(),
        "action": params.get("action", "").strip(),
        "target": params.get("target", "").strip(),
        "q": params.get("q", "").strip(),
        "since": _london_day(params.get("since", "")),
        "until": _london_day(params.get("until", "")),
    }


def audit_list(request: HttpRequest) -> HttpResponse:
    filters = audit_filters(request.GET)
    page = Paginator(audit_entries_filtered(filters=filters), AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    links = audit_target_links(page.object_list)
    rows = [{"entry": e, "at_label": london_label(e.at), "target": links.get(e.pk)} for e in page.object_list]
    actions = audit_actions_recorded()
    return render(
        request,
        "curtailment/audit.html",
        {"page": page, "rows": rows, "filters": filters, "filter_query": query.urlencode(), "actions": actions},
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _audit_csv_rows(entries: QuerySet[AuditEntry]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(
        ["at_utc", "at_europe_london", "actor", "action", "target_type", "target_id", "reason", "inputs"]
    )
    # Every cell is guarded: usernames, reasons and inputs are free text (a username may
    # start with "@", "+" or "-").
    for entry in entries.iterator(chunk_size=2000):
        yield writer.writerow(
            csv_row(
                [
                    entry.at.isoformat(),
                    london_label(entry.at),
                    entry.actor,
                    entry.action,
                    entry.target_type,
                    entry.target_id,
                    entry.reason,
                    _json(entry.inputs),
                ]
            )
        )


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@permission_required(EXPORT_REPORTS, raise_exception=True)
def audit_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered audit trail as CSV, streamed so a year of entries never sits in memory."""
    entries = audit_entries_filtered(filters=audit_filters(request.GET))
    stamp = timezone.now().astimezone(LONDON).strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(_audit_csv_rows(entries), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="dnoctl-audit-{stamp}.csv"'
    return response
