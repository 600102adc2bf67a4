"""Boost-button setup (R4) through the DCC engineer's service-request services.

* SRV 7.9 (add to the boost button) is sent ahead of any event to every charger that may be
  curtailed and whose customer may override: when the consent is granted or override is
  allowed again (``consent.tasks.boost_button_setup``), and by the hourly reconcile for the
  rest (imported registers, a 7.9 that failed). An alert then needs one command per charger
  (7.6), not two in a row; the engine still sends 7.9 first to a charger not yet prepared.
  ``HCALCS.on_boost_button`` turns True only when the device confirms.
* SRV 7.10 (remove) is sent here when that permission is withdrawn: ``consent_override_set``
  queues ``consent.tasks.boost_button_remove``, which calls ``boost_button_removal_send``.
  ``HCALCS.on_boost_button`` turns False only when the device confirms
  (``boost_device_answered``, in the DCC handler table ``curtailment.dcc_handlers``).
* SRV 7.11 (read the boost details) on demand from the premise page: the device's answer is
  kept in the cache for the page (``boost_details_get``); the request itself is in the DCC log.
"""

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
    """Send SRV 7.10 for one HCALCS (or resend the stored one after a transport failure).

    Idempotent: skips an HCALCS that is gone, already off the boost button, whose consent
    allows override again, or that has a 7.10 accepted by the DCC (since its last 7.9) and
    still awaiting the device; a failed, rejected or long-unanswered 7.10 is sent anew.
    """
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
    """Send ``srv`` (7.9 or 7.10, the meter's boost-button list) for ``hcalcs`` and audit it:
    resend ``previous`` when its send was cut short, skip when the DCC accepted it within
    ``AWAIT_DEVICE`` (the device's answer is on its way), otherwise a new request."""

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
    """Chargers that pass invariant 1, whose customer may override, and that are not on the
    boost button."""
    return hcalcs_passing_invariant_1(at=timezone.now(), override_allowed=True).filter(on_boost_button=False)


def _recent_setup() -> QuerySet[ServiceRequest]:
    """A 7.9 for the HCALCS (``OuterRef``) still on its way or waiting for the device."""
    return ServiceRequest.objects.filter(
        hcalcs_id=OuterRef("pk"),
        srv="7.9",
        created_at__gt=timezone.now() - AWAIT_DEVICE,
        state__in=[*IN_FLIGHT, ServiceRequestState.ACKNOWLEDGED],
    )


def hcalcs_awaiting_boost_setup_ids(*, limit: int = SETUP_BATCH, premise_id: int | None = None) -> list[int]:
    """Chargers to add to the boost button ahead of any event (see the module docstring),
    leaving out those with a 7.9 sent within the last ``AWAIT_DEVICE``; at most ``limit``,
    of one premise when ``premise_id`` is given."""
    awaiting = _awaiting_setup().exclude(Exists(_recent_setup())).order_by("pk")
    if premise_id is not None:
        awaiting = awaiting.filter(meter__premise_id=premise_id)
    return list(awaiting.values_list("pk", flat=True)[:limit])


def boost_button_setup_send(*, hcalcs_id: int) -> str:
    """Send SRV 7.9 for one HCALCS ahead of any event (or resend the stored one after a
    transport failure).

    Idempotent: skips an HCALCS that is gone, already on the boost button, no longer
    eligible or whose customer may not override, or that has a 7.9 accepted by the DCC
    within ``AWAIT_DEVICE`` and still awaiting the device.
    """
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
    """HCALCS still on the boost button although the current consent forbids override (a
    7.10 that failed, was rejected or was never sent): the beat task sends them again."""
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
    """The device's last answer to 7.11 for the premise page (``{"at", "detail"}``), if any."""
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
