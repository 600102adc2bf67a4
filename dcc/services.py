"""DCC service requests: persisted counters, sending, and applying device responses.

A request is stored with its RequestID before it is sent and never sent after an acknowledgement, so
a retry resends the same RequestID; answers are applied once under a row lock. Handlers are
installed by ``curtailment.apps``, as this app must not import the apps above it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from lxml import etree

from dcc import config as dcc_config
from dcc import dialect, gbcs, history
from dcc.choices import ServiceRequestState as State
from dcc.duis import (
    DccArgumentError,
    DccClient,
    DccDocumentError,
    DccError,
    DccResponseError,
    DccTransientError,
    DuisResponse,
    RequestId,
    documents,
)
from dcc.duis.alert_codes import BOOST_ALERT_CODE
from dcc.duis.errors import is_accepted
from dcc.duis.identifiers import parse_eui64
from dcc.duis.signing import load_certificate
from dcc.duis.xmlsafe import parse_xml
from dcc.models import (
    DeviceCertificate,
    InboundDocument,
    InboundHandled,
    ServiceRequest,
    ServiceRequestTransition,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceAlert:
    """An unsolicited device alert; the DCC may deliver it twice, so handlers de-duplicate on ``response_id``."""

    target_eui64: str
    alert_code: str
    response_id: str | None
    detail: dict
    response: DuisResponse


# service_request (state already moved), decoded device result
ResponseHandler = Callable[[ServiceRequest, dict], None]
AlertHandler = Callable[[DeviceAlert], None]


@dataclass
class _Handlers:
    responses: Mapping[str, ResponseHandler]
    alerts: Mapping[str, AlertHandler]


_handlers = _Handlers(responses={}, alerts={})


def handlers_install(*, responses: Mapping[str, ResponseHandler], alerts: Mapping[str, AlertHandler]) -> None:
    _handlers.responses = dict(responses)
    _handlers.alerts = dict(alerts)


@contextlib.contextmanager
def handlers_replaced(
    *, responses: Mapping[str, ResponseHandler] | None = None, alerts: Mapping[str, AlertHandler] | None = None
) -> Iterator[None]:
    """Use other handler tables for a while (tests), then restore the installed ones."""
    saved = _Handlers(_handlers.responses, _handlers.alerts)
    _handlers.responses = dict(responses or {})
    _handlers.alerts = dict(alerts or {})
    try:
        yield
    finally:
        _handlers.responses, _handlers.alerts = saved.responses, saved.alerts


def _run_response_handler(service_request: ServiceRequest, result: dict, document_id: int | None) -> None:
    handler = _handlers.responses.get(service_request.srv)
    try:
        if handler is None:
            logger.info(
                "%s %s: %s (no handler)", service_request.srv, service_request.request_id, service_request.state
            )
        else:
            handler(service_request, result)
    except Exception:  # the answer is stored: inbound_handlers_retry runs the handler again
        logger.exception("applying the device response to %s failed", service_request.request_id)
        return
    _handled(document_id)


def _run_alert_handler(alert: DeviceAlert, document_id: int | None) -> None:
    handler = _handlers.alerts.get(alert.alert_code)
    try:
        if handler is None:
            logger.info("device alert %s from %s: no handler, logged only", alert.alert_code, alert.target_eui64)
        else:
            handler(alert)
    except Exception:
        logger.exception("applying the device alert %s from %s failed", alert.response_id, alert.target_eui64)
        return
    _handled(document_id)


def _handled(document_id: int | None) -> None:
    if document_id is not None:
        InboundHandled.objects.get_or_create(document_id=document_id)


__all__ = [
    "BOOST_ALERT_CODE",
    "DeviceAlert",
    "handlers_install",
    "handlers_replaced",
    "service_request_apply_response",
    "service_request_create",
    "service_request_dispatch",
    "service_request_send",
]

SUPPORTED_SRVS = ("7.6", "7.7", "7.8", "7.9", "7.10", "7.11", "7.13", "7.16")
# States from which a request may still be (re)sent: never after an acknowledgement.
SENDABLE_STATES = (State.BUILT, State.SENT)
# States in which a device response is still news.
AWAITING_RESPONSE_STATES = (State.BUILT, State.SENT, State.ACKNOWLEDGED, State.TIMED_OUT)
_PROBE_ID = RequestId(originator="00-00-00-00-00-00-00-00", target="00-00-00-00-00-00-00-00", counter=0)


# --------------------------------------------------------------------------- creating


def _default_command_variant(srv: str, action: Any) -> int:
    """WAN (CV 5 / 1), plus local delivery (CV 7 / 3) for a poor-WAN charger only when a local channel is configured."""
    local = bool(getattr(action, "use_local_delivery", False)) and bool(dcc_config.local_delivery_channel())
    if srv in documents.CRITICAL_SRVS:
        return 7 if local else 5
    return 3 if local else 1


def _build(srv: str, request_id: RequestId, command_variant: int, params: dict[str, Any]) -> etree._Element:
    if srv == "7.6":
        return documents.deactivate_auxiliary_load(
            request_id=request_id, index=params.get("index"), duration_minutes=params.get("duration_minutes")
        )
    if srv == "7.8":
        return documents.reset_auxiliary_load(request_id=request_id, index=params.get("index"))
    if srv in ("7.13", "7.16"):
        build = documents.set_auxiliary_controller_state if srv == "7.13" else documents.limit_apc_level
        return build(
            request_id=request_id,
            index=params.get("index"),
            level=params.get("level"),
            start=params.get("start"),
            end=params.get("end"),
        )
    if srv == "7.7":
        return documents.read_auxiliary_load_switch_data(request_id=request_id, command_variant=command_variant)
    if srv == "7.9":
        return documents.add_auxiliary_load_to_boost_button(
            request_id=request_id, indexes=params.get("indexes") or (), command_variant=command_variant
        )
    if srv == "7.10":
        return documents.remove_auxiliary_load_from_boost_button(
            request_id=request_id, indexes=params.get("indexes") or (), command_variant=command_variant
        )
    return documents.read_boost_button_details(
        request_id=request_id, start=params.get("start"), end=params.get("end"), command_variant=command_variant
    )


def service_request_create(
    *,
    srv: str,
    target: str,
    command_variant: int | None = None,
    index: int | None = None,
    duration_minutes: int | None = None,
    indexes: list[int] | tuple[int, ...] | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    level: int | None = None,
    action: Any = None,
    hcalcs: Any = None,
    client: DccClient | None = None,
) -> ServiceRequest:
    """Validate, allocate a RequestID and store the request (``built``); bad arguments fail before a
    counter is spent."""
    if srv not in SUPPORTED_SRVS:
        raise DccArgumentError("srv", f"must be one of {', '.join(SUPPORTED_SRVS)}, got {srv!r}")
    command_variant = command_variant or _default_command_variant(srv, action)
    allowed = documents.CRITICAL_SEND_CVS if srv in documents.CRITICAL_SRVS else documents.NON_CRITICAL_CVS
    if command_variant not in allowed:
        raise DccArgumentError(
            "command_variant", f"must be one of {sorted(allowed)} for {srv}, got {command_variant!r}"
        )
    params = {
        "index": index,
        "duration_minutes": duration_minutes,
        "indexes": indexes,
        "start": start,
        "end": end,
        "level": level,
    }
    client = client or dcc_config.build_client()
    _build(srv, _PROBE_ID, command_variant, params)  # argument errors before a counter is spent
    request_id = client.new_request_id(target)  # outside the transaction: see DbCounterSource
    request = _build(srv, request_id, command_variant, params)
    service_request = ServiceRequest(
        request_id=str(request_id),
        srv=srv,
        command_variant=command_variant,
        originator_eui64=request_id.originator,
        target_eui64=request_id.target,
        counter=request_id.counter,
        action=action,
        hcalcs=hcalcs,
        state=State.BUILT,
        request_document=etree.tostring(request, encoding="unicode"),
    )
    dialect.request_insert(service_request, detail=f"CV {command_variant}")
    return service_request


# --------------------------------------------------------------------------- sending


def _move(
    service_request_id: int,
    *,
    from_states: tuple[str, ...],
    to_state: str,
    detail: str = "",
    documents_first: list[tuple[int, dt.datetime, str]] | None = None,
    **fields: Any,
) -> bool:
    """Compare-and-set the state under a row lock; False when the row was elsewhere."""
    documents_first = documents_first or []
    if len(from_states) == 1:
        moved = dialect.request_move(
            service_request_id,
            from_state=from_states[0],
            to_state=to_state,
            detail=detail,
            documents_first=documents_first,
            fields=fields,
        )
        if moved is not None:
            if not moved:
                dialect.history_insert(documents_first)  # not moved: the documents still go in, as they are
            return moved
    with transaction.atomic():
        if len(from_states) == 1:
            # One possible origin: a conditional UPDATE is the whole compare-and-set (no
            # read, no row lock held across a round trip); the history rows join it.
            if not ServiceRequest.objects.filter(pk=service_request_id, state=from_states[0]).update(
                state=to_state, **fields
            ):
                dialect.history_insert(documents_first)
                return False
            # The update matched, so the documents were received in ``from_states[0]``.
            rows = [
                ServiceRequestTransition(
                    service_request_id=pk, at=at, from_state=from_states[0], to_state=from_states[0], detail=text
                )
                for pk, at, text in documents_first
            ]
            rows.append(
                ServiceRequestTransition(
                    service_request_id=service_request_id,
                    at=timezone.now(),
                    from_state=from_states[0],
                    to_state=to_state,
                    detail=detail,
                )
            )
            ServiceRequestTransition.objects.bulk_create(rows)
            return True
        dialect.history_insert(documents_first)
        row = ServiceRequest.objects.select_for_update().get(pk=service_request_id)
        if row.state not in from_states:
            return False
        ServiceRequest.objects.filter(pk=row.pk).update(state=to_state, **fields)
        history.note(row.pk, from_state=row.state, to_state=to_state, detail=detail)
        return True


def _claim(service_request_id: int, *, lease: dt.timedelta) -> ServiceRequest | None:
    """Compare-and-set to ``sent`` for this dispatcher, or None while another send's lease holds."""
    now = timezone.now()
    # First send (the usual case): one statement on PostgreSQL.
    claimed = dialect.request_claim_built(service_request_id, now=now)
    if claimed is not None:
        return claimed
    with transaction.atomic():
        row = ServiceRequest.objects.select_for_update().get(pk=service_request_id)
        idle = row.state == State.BUILT or (
            row.state == State.SENT and (row.sent_at is None or row.sent_at < now - lease)
        )
        if not idle:
            return None
        ServiceRequest.objects.filter(pk=row.pk).update(state=State.SENT, attempts=row.attempts + 1, sent_at=now)
        history.note(row.pk, from_state=row.state, to_state=State.SENT, detail=f"sending (attempt {row.attempts + 1})")
        # The row is locked: these are exactly the values just written (no re-read).
        row.state, row.attempts, row.sent_at = State.SENT, row.attempts + 1, now
        return row


def service_request_dispatch(*, service_request_id: int, client: DccClient | None = None) -> ServiceRequest:
    """Send (or resend after a transport failure) a stored request, never after an acknowledgement.
    :class:`DccTransientError` means retry with the same RequestID; call outside a transaction."""
    client = client or dcc_config.build_client()
    # Longest one POST of a live send can take (each renews the claim): every attempt
    # timing out, plus backoff and a margin.
    lease = dt.timedelta(seconds=client.max_attempts * client.timeout + client.backoff_s * 2**client.max_attempts + 5)
    service_request = _claim(service_request_id, lease=lease)
    if service_request is None:
        return ServiceRequest.objects.get(pk=service_request_id)
    recorder = history.HistoryRecorder(service_request)
    try:
        request = parse_xml(service_request.request_document.encode())
        if service_request.srv in documents.CRITICAL_SRVS:
            outcome = client.send_critical(request, command_variant=service_request.command_variant, recorder=recorder)
        else:
            outcome = client.send_non_critical(request, recorder=recorder)
    except DccTransientError as exc:
        recorder.flush()
        if exc.acknowledged:
            _reject(service_request.pk, exc)
        else:
            # Nothing in flight any more: a retry may claim the row at once.
            ServiceRequest.objects.filter(pk=service_request.pk).update(error=str(exc), sent_at=None)
            history.note(service_request.pk, from_state=State.SENT, to_state=State.SENT, detail=f"transient: {exc}")
            raise
    except DccResponseError as exc:
        recorder.flush()
        _reject(service_request.pk, exc)
    except DccError as exc:
        recorder.flush()
        _move(service_request.pk, from_states=(State.SENT,), to_state=State.FAILED, detail=str(exc), error=str(exc))
    except Exception:
        recorder.flush()  # whatever went wrong, the documents exchanged stay in the history
        raise
    else:
        acknowledged = _acknowledge(service_request.pk, outcome.acknowledgement, recorder.take_pending())
        for child in recorder.children.values():
            if outcome.local_response_ack is not None and child.request_id == str(outcome.local_request_id):
                _acknowledge(child.pk, outcome.local_response_ack, [])
        if outcome.local_response_ack is not None and outcome.local_response_ack.gbcs_payload:
            # The 8.13 answer carries the device's response: apply it now; the DCC's own
            # forwarded copy will then be a harmless duplicate.
            _apply_device_response(service_request.pk, outcome.local_response_ack, outcome.local_response_ack.raw)
        elif acknowledged is not None:
            # Our compare-and-set wrote these values: the row as of that commit, no re-read.
            # (A device response landing later is the response hook's news, not ours.)
            for name, value in acknowledged.items():
                setattr(service_request, name, value)
            return service_request
    return ServiceRequest.objects.get(pk=service_request.pk)


def _reject(service_request_id: int, exc: DccResponseError) -> None:
    code = exc.response_code or ""
    _move(
        service_request_id,
        from_states=(State.SENT,),
        to_state=State.REJECTED,
        detail=str(exc),
        ack_code=code,
        error=str(exc),
    )


def _acknowledge(
    service_request_id: int, ack: DuisResponse, documents_first: list[tuple[int, dt.datetime, str]]
) -> dict[str, Any] | None:
    fields = {"ack_code": ack.response_code, "ack_document": ack.raw.decode(), "acknowledged_at": timezone.now()}
    if not _move(
        service_request_id,
        from_states=(State.SENT,),
        to_state=State.ACKNOWLEDGED,
        detail="acknowledged",
        documents_first=documents_first,
        **fields,
    ):
        # The device's response overtook the acknowledgement: keep the later state.
        ServiceRequest.objects.filter(pk=service_request_id).update(**fields)
        return None
    return {"state": State.ACKNOWLEDGED, **fields}


def service_request_send(
    *,
    srv: str,
    target: str,
    command_variant: int | None = None,
    index: int | None = None,
    duration_minutes: int | None = None,
    indexes: list[int] | tuple[int, ...] | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    level: int | None = None,
    action: Any = None,
    hcalcs: Any = None,
    client: DccClient | None = None,
) -> ServiceRequest:
    """:func:`service_request_create` then :func:`service_request_dispatch`, same arguments."""
    client = client or dcc_config.build_client()
    service_request = service_request_create(
        srv=srv,
        target=target,
        command_variant=command_variant,
        index=index,
        duration_minutes=duration_minutes,
        indexes=indexes,
        start=start,
        end=end,
        level=level,
        action=action,
        hcalcs=hcalcs,
        client=client,
    )
    return service_request_dispatch(service_request_id=service_request.pk, client=client)


# --------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class ApplyOutcome:
    """What :func:`service_request_apply_response` did: an ``InboundDocument.Outcome`` value."""

    status: str
    service_request_id: int | None = None


# --------------------------------------------------------------------------- device answers


def device_certificates_store(*, certificates: Mapping[str, Mapping[str, bytes | str]], source: str) -> int:
    """Keep devices' GBCS certificates, each checked to name its device and usage; one bad stores nothing."""
    rows = []
    for eui64, by_usage in certificates.items():
        device = parse_eui64(eui64, argument="eui64")
        for usage, data in by_usage.items():
            if usage not in DeviceCertificate.Usage.values:
                raise DccArgumentError("usage", f"{device}: must be DS or KA, got {usage!r}")
            try:
                cert = load_certificate(data.encode() if isinstance(data, str) else data)
                gbcs.crypto.public_key(cert, entity=device, usage=usage)
            except (DccError, gbcs.GbcsError, x509.ExtensionNotFound) as exc:
                raise DccArgumentError("certificate", f"{device} {usage}: {exc}") from exc
            pem = cert.public_bytes(serialization.Encoding.PEM).decode()
            rows.append(DeviceCertificate(eui64=device, usage=usage, certificate=pem, source=source[:100]))
    with transaction.atomic():
        for chunk in range(0, len(rows), 500):
            batch = rows[chunk : chunk + 500]
            replaced = Q()
            for row in batch:
                replaced |= Q(eui64=row.eui64, usage=row.usage)
            DeviceCertificate.objects.filter(replaced).delete()
            DeviceCertificate.objects.bulk_create(batch)
    return len(rows)


def _device_certificates(eui64: str) -> dict[str, x509.Certificate]:
    rows = DeviceCertificate.objects.filter(eui64=eui64).values_list("usage", "certificate")
    return {usage: load_certificate(pem.encode()) for usage, pem in rows}


def _device_result(response: DuisResponse, *, device: str, request: ServiceRequest | None = None) -> dict[str, Any]:
    """The device's GBCS answer, authenticated and checked to answer ``request``."""
    if not response.gbcs_payload:
        return {}
    certificates = _device_certificates(device)
    our_ka_key, _our_ka_cert = dcc_config.get_gbcs_key_agreement()
    keys = {
        "device_ds_key": certificates.get("DS"),
        "device_ka_key": certificates.get("KA"),
        "recipient_ka_private_key": our_ka_key,
    }
    try:
        if response.kind == "device_alert":
            message = gbcs.authenticate_alert(response.gbcs_payload, **keys)
        else:
            message = gbcs.authenticate_response(response.gbcs_payload, **keys)
    except gbcs.GbcsAuthenticationError as exc:
        return _unauthenticated(str(exc))
    except gbcs.GbcsError as exc:  # (a ValueError too: caught before the next clause)
        return {"status": "unreadable", "reason": str(exc), "summary": f"unreadable GBCS: {exc}"[:200]}
    except ValueError:  # the protection it carries needs a certificate we do not hold
        missing = [usage for usage in ("DS", "KA") if usage not in certificates]
        return _unauthenticated(f"no {'/'.join(missing) or 'matching'} certificate for device {device}")
    if message.originator != device:
        return _unauthenticated(f"GBCS from {message.originator}, expected {device}")
    if request is not None and (message.recipient, message.counter) != (request.originator_eui64, request.counter):
        return _unauthenticated(
            f"answers request {message.recipient}:{message.counter}, not {request.originator_eui64}:{request.counter}"
        )
    return _decoded(message)


def _unauthenticated(reason: str) -> dict[str, Any]:
    return {"status": "unauthenticated", "reason": reason, "summary": f"not authenticated: {reason}"[:200]}


def _decoded(message: Any) -> dict[str, Any]:
    if isinstance(message, gbcs.DeviceAlert):
        detail = {
            "alert_code": f"{message.alert_code:04X}",
            "boost_pressed": message.boost_pressed,
            "pressed_at": message.timestamp.isoformat(),
        }
        return {"status": "success", "summary": f"alert {message.alert_name}", "detail": detail}
    if isinstance(message, gbcs.FirmwareTransferAlert):
        return {"status": "success", "summary": f"alert {message.alert_name}", "detail": {}}
    outcome = message.outcome
    detail: dict[str, Any] = {}
    if isinstance(message, gbcs.Ecs61cResponse):
        detail = {
            "presses": [period.start.isoformat() for period in message.boost_periods],
            "boost_membership": {str(n): member for n, member in message.boost_membership.items()},
        }
    elif isinstance(message, gbcs.Ecs61aResponse):
        detail = {"output_states": {str(n): on for n, on in message.output_states.items()}}
    summary = f"{message.use_case}: " + ("success" if outcome.success else f"failure: {outcome.reason}")
    return {
        "status": "success" if outcome.success else "failure",
        "reason": outcome.reason or "",
        "summary": summary[:200],
        "detail": detail,
    }


def _keep(
    response: DuisResponse, outcome: str, *, service_request_id: int | None = None, detail: str = ""
) -> InboundDocument:
    return InboundDocument.objects.create(
        kind=response.kind,
        outcome=outcome,
        code=(response.alert_code if response.kind != "response" else response.response_code) or "",
        request_id=response.request_id or response.dcc_alert_request_id or "",
        response_id=response.response_id or "",
        detail=detail[:200],
        service_request_id=service_request_id,
        document=response.raw.decode("utf-8", errors="replace"),
    )


def service_request_apply_response(*, document: bytes) -> ApplyOutcome:
    """Verify, store and apply one document POSTed to ``/dcc/responses/``, once. Unverified documents
    write nothing; an unknown RequestID is logged, not refused (the DCC would retry)."""
    root = dcc_config.get_dcc_verifier().verify(document)
    dcc_config.get_schema().validate(root)
    response = replace(documents.parse_response(root), raw=document)
    if response.kind == "device_alert":
        return _apply_device_alert(response)
    if response.kind == "dcc_alert":
        return _apply_dcc_alert(response)
    if not response.request_id:
        raise DccDocumentError("device response without a RequestID")
    service_request = ServiceRequest.objects.filter(request_id=response.request_id).first()
    if service_request is None:
        logger.warning("DCC response %s for unknown request %s logged", response.response_code, response.request_id)
        _keep(response, InboundDocument.Outcome.UNKNOWN_REQUEST)
        return ApplyOutcome(InboundDocument.Outcome.UNKNOWN_REQUEST)
    responder = (response.response_id or "").split(":")[0]
    if responder and responder != service_request.target_eui64:
        raise DccDocumentError(f"response from {responder} for a request to {service_request.target_eui64}")
    return _apply_device_response(service_request.pk, response, document)


def _apply_device_alert(response: DuisResponse) -> ApplyOutcome:
    target = (response.response_id or "").split(":")[0]
    detail = _device_result(response, device=target)
    logger.info("device alert %s from %s: %s", response.alert_code, target, detail.get("summary", ""))
    if detail.get("status") in ("unauthenticated", "unreadable"):
        # Kept for a person to look at, never acted on: it may not be from that device.
        with transaction.atomic():
            _keep(response, InboundDocument.Outcome.LOGGED, detail=detail["summary"])
        return ApplyOutcome(InboundDocument.Outcome.LOGGED)
    alert = DeviceAlert(
        target_eui64=target,
        alert_code=response.alert_code or "",
        response_id=response.response_id,
        detail=detail.get("detail", {}),
        response=response,
    )
    with transaction.atomic():
        handled = alert.alert_code in _handlers.alerts
        kept = _keep(
            response,
            InboundDocument.Outcome.ALERT if handled else InboundDocument.Outcome.LOGGED,
            detail=f"device alert from {target}",
        )
        transaction.on_commit(lambda: _run_alert_handler(alert, kept.pk))
    return ApplyOutcome(InboundDocument.Outcome.ALERT)


def _apply_dcc_alert(response: DuisResponse) -> ApplyOutcome:
    """A DCC alert saying our command was not delivered fails that request, so the charger is replaced."""
    about = response.dcc_alert_type or "unknown alert"
    failed = None
    if response.dcc_alert_type == "CommandFailure" and response.dcc_alert_request_id:
        failed = ServiceRequest.objects.filter(request_id=response.dcc_alert_request_id).first()
    if failed is None:
        logger.warning("DCC alert %s (%s) logged", response.alert_code, about)
        with transaction.atomic():
            _keep(response, InboundDocument.Outcome.LOGGED, detail=about)
        return ApplyOutcome(InboundDocument.Outcome.LOGGED)
    reason = f"DCC alert {response.alert_code}: command could not be delivered"
    outcome = _apply_failure(failed.pk, response, reason=reason)
    return outcome


def _apply_device_response(service_request_id: int, response: DuisResponse, document: bytes) -> ApplyOutcome:
    request = ServiceRequest.objects.get(pk=service_request_id)
    result = _device_result(response, device=request.target_eui64, request=request)
    # When the DCC produced the response: close to when the device acted, whatever held up
    # its delivery to us.
    result["answered_at"] = response.response_datetime
    succeeded = is_accepted(response.response_code) and result.get("status", "success") == "success"
    summary = result.get("summary", "")
    return _apply_answer(
        service_request_id,
        response,
        to_state=State.RESPONDED if succeeded else State.FAILED,
        result=result,
        note=f"device response {response.response_code}" + (f": {summary}" if summary else ""),
        device_outcome=summary,
    )


def _apply_failure(service_request_id: int, response: DuisResponse, *, reason: str) -> ApplyOutcome:
    result = {"status": "failure", "detail": {"reason": reason}}
    return _apply_answer(service_request_id, response, to_state=State.FAILED, result=result, note=reason)


def _apply_answer(
    service_request_id: int,
    response: DuisResponse,
    *,
    to_state: str,
    result: dict,
    note: str,
    device_outcome: str = "",
) -> ApplyOutcome:
    """Move a request to its final state once; duplicates and late answers change nothing."""
    with transaction.atomic():
        row = ServiceRequest.objects.select_for_update().get(pk=service_request_id)
        if row.responded_at is not None:
            _keep(response, InboundDocument.Outcome.DUPLICATE, service_request_id=row.pk)
            return ApplyOutcome(InboundDocument.Outcome.DUPLICATE, row.pk)
        if row.state not in AWAITING_RESPONSE_STATES:
            logger.warning("response for %s in state %s ignored", row.request_id, row.state)
            _keep(response, InboundDocument.Outcome.IGNORED, service_request_id=row.pk)
            return ApplyOutcome(InboundDocument.Outcome.IGNORED, row.pk)
        ServiceRequest.objects.filter(pk=row.pk).update(
            state=to_state,
            response_code=response.response_code if response.kind == "response" else (response.alert_code or ""),
            response_document=response.raw.decode(),
            responded_at=timezone.now(),
            device_outcome=device_outcome,
            **({"error": note} if to_state == State.FAILED and response.kind != "response" else {}),
        )
        history.note(row.pk, from_state=row.state, to_state=to_state, detail=note)
        kept = _keep(response, InboundDocument.Outcome.APPLIED, service_request_id=row.pk)
        row.refresh_from_db()
        transaction.on_commit(lambda: _run_response_handler(row, result, kept.pk))
    return ApplyOutcome(InboundDocument.Outcome.APPLIED, row.pk)


# --------------------------------------------------------------------------- finishing what a crash left


def inbound_handlers_retry(
    *, older_than: dt.timedelta = dt.timedelta(seconds=30), now: dt.datetime | None = None
) -> int:
    """Re-run handlers that never finished (a crash after commit); handlers are idempotent."""
    now = now or timezone.now()
    pending = (
        InboundDocument.objects.filter(
            outcome__in=[InboundDocument.Outcome.APPLIED, InboundDocument.Outcome.ALERT],
            received_at__lte=now - older_than,
            received_at__gte=now - dt.timedelta(days=1),
            handled__isnull=True,
        )
        .select_related("service_request")
        .order_by("received_at", "pk")[:500]
    )
    count = 0
    for kept in pending:
        response = replace(documents.parse_response(parse_xml(kept.document.encode())), raw=kept.document.encode())
        if kept.kind == InboundDocument.Kind.DEVICE_ALERT:
            target = (response.response_id or "").split(":")[0]
            detail = _device_result(response, device=target)
            alert = DeviceAlert(
                target, response.alert_code or "", response.response_id, detail.get("detail", {}), response
            )
            _run_alert_handler(alert, kept.pk)
        elif kept.service_request is not None:
            request = kept.service_request
            if kept.kind == InboundDocument.Kind.DCC_ALERT:
                result = {"status": "failure", "detail": {"reason": request.error}}
            else:
                result = _device_result(response, device=request.target_eui64, request=request)
                result["answered_at"] = response.response_datetime
            _run_response_handler(request, result, kept.pk)
        count += 1
    return count


def service_requests_expire(*, now: dt.datetime | None = None) -> int:
    """Time out requests past their send or response deadline, so every request ends."""
    now = now or timezone.now()
    config = dcc_config.dcc_settings()
    send_deadline = now - dt.timedelta(seconds=float(config.get("SEND_DEADLINE_S") or 600))
    response_deadline = now - dt.timedelta(seconds=float(config.get("RESPONSE_DEADLINE_S") or 1800))
    unsent = ServiceRequest.objects.filter(state__in=[State.BUILT, State.SENT], created_at__lte=send_deadline).filter(
        Q(sent_at__isnull=True) | Q(sent_at__lte=send_deadline)
    )
    unanswered = ServiceRequest.objects.filter(state=State.ACKNOWLEDGED, acknowledged_at__lte=response_deadline)
    expired = 0
    for rows, reason in (
        (unsent, f"not acknowledged by the DCC within {config.get('SEND_DEADLINE_S') or 600} s"),
        (unanswered, f"no device response within {config.get('RESPONSE_DEADLINE_S') or 1800} s"),
    ):
        for row in rows.only("pk", "state")[:1000]:
            if _move(row.pk, from_states=(row.state,), to_state=State.TIMED_OUT, detail=reason, error=reason):
                expired += 1
    if expired:
        logger.warning("%s service requests timed out", expired)
    return expired
