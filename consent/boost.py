"""Boost-button setup (R4) through the DCC: SRV 7.9 adds a charger, 7.10 removes it, 7.11 reads
the details.

7.9 is sent ahead of any event to every charger whose customer may override, so an alert needs
one command per charger (7.6), not two in a row. ``HCALCS.on_boost_button`` changes only when
the device confirms."""

from __future__ import annotations

import datetime as dt
import logging

from django.core.cache import cache
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from consent.models import HCALCS, Consent
from consent.selectors import hcalcs_passing_invariant_1
from core.audit import audit_record
from dcc.choices import ServiceRequestState
from dcc.duis import DccTransientError
from dcc.models import ServiceRequest
from dcc.services import service_request_dispatch, service_request_send

logger = logging.getLogger(__name__)

BOOST_DETAILS_TTL_S = 24 * 3600
IN_FLIGHT = (ServiceRequestState.BUILT, ServiceRequestState.SENT)
# An accepted 7.9/7.10 whose device has not answered in this long is sent again (a new request).
AWAIT_DEVICE = dt.timedelta(hours=1)
# 7.9s the hourly reconcile queues at most: a newly imported register of thousands of
# chargers is prepared over a few hours instead of flooding the DCC in one go.
SETUP_BATCH = 2000


class BoostTransientError(Exception):
    """The DCC could not be reached; the task retries with the same stored request."""


def _override_allowed_now(hcalcs: HCALCS) -> bool:
    consent = Consent.objects.filter(tenancy__premise_id=hcalcs.meter.premise_id, tenancy__end__isnull=True).first()
    return bool(consent and consent.override_allowed)


def boost_button_removal_send(*, hcalcs_id: int) -> str:
    """Send SRV 7.10 for one HCALCS. Idempotent: skips one already off, allowed to override
    again, or with a 7.10 accepted and awaiting the device; a failed or long-unanswered 7.10 is
    sent anew."""
    hcalcs = HCALCS.objects.select_related("meter").filter(pk=hcalcs_id).first()
    if hcalcs is None:
        return "gone"
    if not hcalcs.on_boost_button:
        return "not_on_boost_button"
    if _override_allowed_now(hcalcs):
        return "override_allowed"
    last_add = ServiceRequest.objects.filter(hcalcs=hcalcs, srv="7.9").order_by("-created_at").first()
    previous = ServiceRequest.objects.filter(hcalcs=hcalcs, srv="7.10").order_by("-created_at")
    if last_add is not None:
        previous = previous.filter(created_at__gt=last_add.created_at)
    return _boost_request_send(
        hcalcs=hcalcs,
        srv="7.10",
        previous=previous.first(),
        action="hcalcs.boost_button_remove",
        reason="the customer's consent no longer allows overriding events with the boost button",
    )


def _boost_request_send(*, hcalcs: HCALCS, srv: str, previous: ServiceRequest | None, action: str, reason: str) -> str:
    """Resend ``previous`` when its send was cut short; skip when the DCC accepted it recently
    (the device's answer is on its way)."""

    try:
        if previous is not None and previous.state in IN_FLIGHT:
            request = service_request_dispatch(service_request_id=previous.pk)
        elif (
            previous is not None
            and previous.state == ServiceRequestState.ACKNOWLEDGED
            and previous.created_at > timezone.now() - AWAIT_DEVICE
        ):
            return "already_sent"
        else:
            request = service_request_send(
                srv=srv, target=hcalcs.meter.esme_eui64, indexes=[hcalcs.switch_index], hcalcs=hcalcs
            )
    except DccTransientError as exc:
        raise BoostTransientError(str(exc)) from exc
    audit_record(
        action=action,
        rule="boost-button",
        target=hcalcs,
        reason=reason,
        inputs={"hcalcs_eui64": hcalcs.eui64, "esme_eui64": hcalcs.meter.esme_eui64, "request_id": request.request_id},
    )
    return request.state


def _awaiting_setup() -> QuerySet[HCALCS]:
    return hcalcs_passing_invariant_1(at=timezone.now(), override_allowed=True).filter(on_boost_button=False)


def _recent_setup() -> QuerySet[ServiceRequest]:
    return ServiceRequest.objects.filter(
        hcalcs_id=OuterRef("pk"),
        srv="7.9",
        created_at__gt=timezone.now() - AWAIT_DEVICE,
        state__in=[*IN_FLIGHT, ServiceRequestState.ACKNOWLEDGED],
    )


def hcalcs_awaiting_boost_setup_ids(*, limit: int = SETUP_BATCH, premise_id: int | None = None) -> list[int]:
    """Leaves out chargers with a 7.9 sent within ``AWAIT_DEVICE``."""
    awaiting = _awaiting_setup().exclude(Exists(_recent_setup())).order_by("pk")
    if premise_id is not None:
        awaiting = awaiting.filter(meter__premise_id=premise_id)
    return list(awaiting.values_list("pk", flat=True)[:limit])


def boost_button_setup_send(*, hcalcs_id: int) -> str:
    """Send SRV 7.9 for one HCALCS ahead of any event. Idempotent: skips one already on, no
    longer eligible, whose customer may not override, or with a 7.9 accepted and awaiting the
    device."""
    hcalcs = _awaiting_setup().select_related("meter").filter(pk=hcalcs_id).first()
    if hcalcs is None:
        return "not_awaiting_setup"
    previous = ServiceRequest.objects.filter(hcalcs=hcalcs, srv="7.9").order_by("-created_at").first()
    if previous is not None and previous.action_id is not None and previous.state in IN_FLIGHT:
        return "engine_sending"  # an event's dispatch is sending its own 7.9 right now
    return _boost_request_send(
        hcalcs=hcalcs,
        srv="7.9",
        previous=previous,
        action="hcalcs.boost_button_setup",
        reason="prepare the charger before any event: its customer may override with the boost button",
    )


def hcalcs_awaiting_boost_removal_ids() -> list[int]:
    """Still on the boost button although the consent forbids override (a 7.10 failed or never sent)."""
    forbidden = Consent.objects.filter(
        tenancy__premise_id=OuterRef("meter__premise_id"), tenancy__end__isnull=True, override_allowed=False
    )
    return list(HCALCS.objects.filter(on_boost_button=True).filter(Exists(forbidden)).values_list("pk", flat=True))


def boost_details_request(*, hcalcs: HCALCS, requested_by, days: int = 30) -> ServiceRequest:
    """SRV 7.11: ask the meter for its boost-button log of the last ``days`` days."""
    end = timezone.now()
    request = service_request_send(
        srv="7.11", target=hcalcs.meter.esme_eui64, start=end - dt.timedelta(days=days), end=end, hcalcs=hcalcs
    )
    who = {"actor_user": requested_by} if requested_by is not None else {"rule": "boost-button"}
    audit_record(
        action="hcalcs.boost_details_read",
        **who,
        target=hcalcs,
        reason="operator asked for the boost-button details",
        inputs={"hcalcs_eui64": hcalcs.eui64, "request_id": request.request_id, "days": days},
    )
    return request


def _details_key(hcalcs_id: int) -> str:
    return f"consent:boost-details:{hcalcs_id}"


def boost_details_get(*, hcalcs_id: int) -> dict | None:
    return cache.get(_details_key(hcalcs_id))


def boost_device_answered(*, service_request: ServiceRequest, result: dict) -> None:
    """Apply a device's answer to 7.9, 7.10 or 7.11 to the boost-button state of its HCALCS."""
    from consent.services import hcalcs_boost_button_added, hcalcs_boost_button_removed

    if service_request.hcalcs_id is None:
        return
    succeeded = service_request.state == ServiceRequestState.RESPONDED
    if service_request.srv == "7.9" and succeeded:
        hcalcs_boost_button_added(hcalcs_id=service_request.hcalcs_id, request_id=service_request.request_id)
    elif service_request.srv == "7.10" and succeeded:
        hcalcs_boost_button_removed(hcalcs_id=service_request.hcalcs_id)
    elif service_request.srv == "7.11":
        cache.set(
            _details_key(service_request.hcalcs_id),
            {"at": timezone.now().isoformat(), "ok": succeeded, "detail": result.get("detail", {})},
            BOOST_DETAILS_TTL_S,
        )
