"""Audit targets as links to their pages, one query per kind of target, never per row; a target with no
page, or gone, stays a plain label."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.urls import reverse

from consent.models import HCALCS, Consent, Notification, Premise, Tenancy
from core.models import AuditEntry
from curtailment.models import AspContract, CurtailmentAction, CurtailmentEvent
from dcc.models import ServiceRequest
from feeders.models import Feeder, FeederAlert, Substation


@dataclass(frozen=True)
class TargetLink:
    """What the audit page shows for a target: words, and the page to open (or none)."""

    label: str
    url: str = ""


def _event_url(event_id: int, anchor: str = "") -> str:
    return reverse("curtailment:event_detail", args=[event_id]) + (f"#{anchor}" if anchor else "")


def _premise_url(premise_id: int) -> str:
    return reverse("consent:premise_detail", args=[premise_id])


def _events(ids: list[int]) -> dict[int, TargetLink]:
    codes = dict(CurtailmentEvent.objects.filter(pk__in=ids).values_list("pk", "feeder__code"))
    return {pk: TargetLink(f"event {pk} on {code}", _event_url(pk)) for pk, code in codes.items()}


def _actions(ids: list[int]) -> dict[int, TargetLink]:
    rows = CurtailmentAction.objects.filter(pk__in=ids).values_list("pk", "event_id", "hcalcs__eui64")
    return {
        pk: TargetLink(f"charger {eui64} in event {event_id}", _event_url(event_id, f"action-{pk}"))
        for pk, event_id, eui64 in rows
    }


def _feeders(ids: list[int]) -> dict[int, TargetLink]:
    rows = Feeder.objects.filter(pk__in=ids).values_list("pk", "code")
    return {pk: TargetLink(f"feeder {code}", reverse("feeders:feeder_detail", args=[pk])) for pk, code in rows}


def _alerts(ids: list[int]) -> dict[int, TargetLink]:
    rows = FeederAlert.objects.filter(pk__in=ids).values_list("pk", "feeder_id", "feeder__code")
    return {
        pk: TargetLink(f"alert on {code}", reverse("feeders:feeder_detail", args=[feeder_id]))
        for pk, feeder_id, code in rows
    }


def _substations(ids: list[int]) -> dict[int, TargetLink]:
    rows = Substation.objects.filter(pk__in=ids).values_list("pk", "code")
    return {pk: TargetLink(f"substation {code}", reverse("overview") + f"?substation={code}") for pk, code in rows}


def _chargers(ids: list[int]) -> dict[int, TargetLink]:
    rows = HCALCS.objects.filter(pk__in=ids).values_list("pk", "eui64", "meter__premise_id")
    return {pk: TargetLink(f"charger {eui64}", _premise_url(premise_id)) for pk, eui64, premise_id in rows}


def _premises(ids: list[int]) -> dict[int, TargetLink]:
    rows = Premise.objects.filter(pk__in=ids).values_list("pk", "reference")
    return {pk: TargetLink(f"premise {reference}", _premise_url(pk)) for pk, reference in rows}


def _consents(ids: list[int]) -> dict[int, TargetLink]:
    rows = Consent.objects.filter(pk__in=ids).values_list("pk", "tenancy__premise_id", "tenancy__premise__reference")
    return {pk: TargetLink(f"consent at {reference}", _premise_url(premise_id)) for pk, premise_id, reference in rows}


def _tenancies(ids: list[int]) -> dict[int, TargetLink]:
    rows = Tenancy.objects.filter(pk__in=ids).values_list("pk", "premise_id", "premise__reference")
    return {pk: TargetLink(f"tenancy at {reference}", _premise_url(premise_id)) for pk, premise_id, reference in rows}


def _notifications(ids: list[int]) -> dict[int, TargetLink]:
    links = {}
    for pk, kind, event_id, premise_id in Notification.objects.filter(pk__in=ids).values_list(
        "pk", "kind", "event_id", "premise_id"
    ):
        label = f"{kind.replace('_', ' ')} notice"
        if event_id:
            links[pk] = TargetLink(f"{label} of event {event_id}", _event_url(event_id))
        elif premise_id:
            links[pk] = TargetLink(label, _premise_url(premise_id))
    return links


def _service_requests(ids: list[int]) -> dict[int, TargetLink]:
    rows = ServiceRequest.objects.filter(pk__in=ids).values_list("pk", "srv", "request_id", "action__event_id")
    return {
        pk: TargetLink(f"SRV {srv} {request_id}", _event_url(event_id) if event_id else "")
        for pk, srv, request_id, event_id in rows
    }


def _logins(ids: list[int]) -> dict[int, TargetLink]:
    rows = get_user_model().objects.filter(pk__in=ids).values_list("pk", "username")
    return {pk: TargetLink(f"login {username}") for pk, username in rows}


def _asp_contracts(ids: list[int]) -> dict[int, TargetLink]:
    rows = AspContract.objects.filter(pk__in=ids).values_list("pk", "reference")
    return {pk: TargetLink(f"ASP contract {reference}") for pk, reference in rows}


RESOLVERS: dict[str, Callable[[list[int]], dict[int, TargetLink]]] = {
    "curtailment.curtailmentevent": _events,
    "curtailment.curtailmentaction": _actions,
    "curtailment.aspcontract": _asp_contracts,
    "feeders.feeder": _feeders,
    "feeders.feederalert": _alerts,
    "feeders.substation": _substations,
    "consent.hcalcs": _chargers,
    "consent.premise": _premises,
    "consent.consent": _consents,
    "consent.tenancy": _tenancies,
    "consent.notification": _notifications,
    "dcc.servicerequest": _service_requests,
    "auth.user": _logins,
}


def _fallback(entry: AuditEntry) -> TargetLink:
    kind = entry.target_type.rsplit(".", 1)[-1] if entry.target_type else ""
    return TargetLink(f"{kind} {entry.target_id}".strip())


def audit_target_links(entries: Iterable[AuditEntry]) -> dict[int, TargetLink]:
    """Entry id -> its target's words and link (entries without a target are left out)."""
    entries = [e for e in entries if e.target_type]
    wanted: dict[str, set[int]] = defaultdict(set)
    for entry in entries:
        if entry.target_type in RESOLVERS and entry.target_id.isdigit():
            wanted[entry.target_type].add(int(entry.target_id))
    resolved = {kind: RESOLVERS[kind](sorted(ids)) for kind, ids in wanted.items()}
    links = {}
    for entry in entries:
        found = resolved.get(entry.target_type, {})
        target_id = int(entry.target_id) if entry.target_id.isdigit() else None
        links[entry.pk] = found.get(target_id) or _fallback(entry)
    return links
