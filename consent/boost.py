"""Boost-button setup (R4) through the DCC engineer's service-request services.

* SRV 7.9 (add to the boost button) is sent by the engine before an HCALCS's first
  curtailment when the consent allows override.
* SRV 7.10 (remove) is sent here when that permission is withdrawn: ``consent_override_set``
  queues ``consent.tasks.boost_button_remove``, which calls ``boost_button_removal_send``.
  ``HCALCS.on_boost_button`` turns False only when the device confirms
  (``on_device_response``, connected to ``device_response_received`` in ``ConsentConfig.ready``).
* SRV 7.11 (read the boost details) on demand from the premise page: the device's answer is
  kept in the cache for the page (``boost_details_get``); the request itself is in the DCC log.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.core.cache import cache
from django.db.models import Exists, OuterRef
from django.utils import timezone

from consent.models import HCALCS, Consent
from curtailment.audit import audit_record
from curtailment.choices import ServiceRequestState
from curtailment.models import ServiceRequest

logger = logging.getLogger(__name__)

BOOST_DETAILS_TTL_S = 24 * 3600
IN_FLIGHT = (ServiceRequestState.BUILT, ServiceRequestState.SENT)
# An accepted 7.10 whose device has not answered in this long is sent again (a new request).
AWAIT_DEVICE = dt.timedelta(hours=1)


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
    from curtailment.dcc import DccTransientError
    from curtailment.service_requests import service_request_dispatch, service_request_send

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
    previous = previous.first()
    try:
        if previous is not None and previous.state in IN_FLIGHT:
            request = service_request_dispatch(service_request_id=previous.pk)
        elif (
            previous is not None
            and previous.state == ServiceRequestState.ACKNOWLEDGED
            and previous.created_at > timezone.now() - AWAIT_DEVICE
        ):
            return "already_sent"  # accepted by the DCC; the device's answer is on its way
        else:
            request = service_request_send(
                srv="7.10", target=hcalcs.meter.esme_eui64, indexes=[hcalcs.switch_index], hcalcs=hcalcs
            )
    except DccTransientError as exc:
        raise BoostTransientError(str(exc)) from exc
    audit_record(
        action="hcalcs.boost_button_remove",
        rule="boost-button",
        target=hcalcs,
        reason="the customer's consent no longer allows overriding events with the boost button",
        inputs={"hcalcs_eui64": hcalcs.eui64, "esme_eui64": hcalcs.meter.esme_eui64, "request_id": request.request_id},
    )
    return request.state


def hcalcs_awaiting_boost_removal_ids() -> list[int]:
    """HCALCS still on the boost button although the current consent forbids override (a
    7.10 that failed, was rejected or was never sent): the beat task sends them again."""
    forbidden = Consent.objects.filter(
        tenancy__premise_id=OuterRef("meter__premise_id"), tenancy__end__isnull=True, override_allowed=False
    )
    return list(HCALCS.objects.filter(on_boost_button=True).filter(Exists(forbidden)).values_list("pk", flat=True))


def boost_details_request(*, hcalcs: HCALCS, requested_by, days: int = 30) -> ServiceRequest:
    """SRV 7.11: ask the meter for its boost-button log of the last ``days`` days."""
    from curtailment.service_requests import service_request_send

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


def on_device_response(sender, service_request: ServiceRequest, response, result: dict, **kwargs) -> None:
    """Apply device answers that concern the boost button (signal receiver)."""
    from consent.services import hcalcs_boost_button_removed

    if service_request.hcalcs_id is None:
        return
    succeeded = service_request.state == ServiceRequestState.RESPONDED
    if service_request.srv == "7.10" and succeeded:
        hcalcs_boost_button_removed(hcalcs_id=service_request.hcalcs_id)
    elif service_request.srv == "7.11":
        cache.set(
            _details_key(service_request.hcalcs_id),
            {"at": timezone.now().isoformat(), "ok": succeeded, "detail": result.get("detail", {})},
            BOOST_DETAILS_TTL_S,
        )
