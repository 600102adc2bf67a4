"""Build DUIS ``sr:Request`` and read ``sr:Response`` documents (DUIS 5.4); builders check arguments before building."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree

from .errors import DccArgumentError, DccDocumentError
from .identifiers import RequestId, validate_duration_minutes, validate_index, validate_level

SR_NS = "http://www.dccinterface.co.uk/ServiceUserGateway"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_VERSION = "5.4"
NSMAP = {"ds": DS_NS, "sr": SR_NS, "xsi": XSI_NS}
_SR = f"{{{SR_NS}}}"

CRITICAL_SRVS = frozenset({"7.6", "7.8", "7.13", "7.16"})
# The body element of each auxiliary-controller level request (7.13, 7.16).
LEVEL_BODIES = {"7.13": "SetAuxiliaryControllerState", "7.16": "LimitAPCLevel"}
NON_CRITICAL_SRVS = frozenset({"7.7", "7.9", "7.10", "7.11"})
NON_DEVICE_SRVS = frozenset({"8.13"})

# Which command variants each kind of request may use (DUIS CV table).
CRITICAL_SEND_CVS = frozenset({5, 6, 7})  # signed pre-command: WAN, local, both
NON_CRITICAL_CVS = frozenset({1, 2, 3})
TRANSFORM_CV = 4
NON_DEVICE_CV = 8


def _sr(tag: str) -> str:
    return _SR + tag


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    child = etree.SubElement(parent, _sr(tag), **attrs)
    if text is not None:
        child.text = text
    return child


def _envelope(*, request_id: RequestId, command_variant: int, srv: str) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(_sr("Request"), nsmap=NSMAP, schemaVersion=SCHEMA_VERSION)
    header = _sub(root, "Header")
    _sub(header, "RequestID", str(request_id))
    _sub(header, "CommandVariant", str(command_variant))
    _sub(header, "ServiceReference", srv)
    _sub(header, "ServiceReferenceVariant", srv)
    return root, _sub(root, "Body")


def _check_cv(command_variant: object, allowed: Iterable[int], srv: str) -> int:
    allowed = frozenset(allowed)
    if isinstance(command_variant, bool) or command_variant not in allowed:
        raise DccArgumentError(
            "command_variant", f"must be one of {sorted(allowed)} for SRV {srv}, got {command_variant!r}"
        )
    return int(command_variant)  # type: ignore[arg-type]


def _check_request_id(request_id: object) -> RequestId:
    if not isinstance(request_id, RequestId):
        raise DccArgumentError("request_id", f"must be a RequestId, got {type(request_id).__name__}")
    return request_id


def deactivate_auxiliary_load(*, request_id: RequestId, index: int, duration_minutes: int) -> etree._Element:
    """SRV 7.6 (critical, so always CV 4: the DCC transforms it into a pre-command)."""
    request_id = _check_request_id(request_id)
    index = validate_index(index)
    duration_minutes = validate_duration_minutes(duration_minutes)
    root, body = _envelope(request_id=request_id, command_variant=TRANSFORM_CV, srv="7.6")
    switch = _sub(_sub(body, "DeactivateAuxiliaryLoad"), "DeactivateALCSHCALCS", index=str(index))
    _sub(switch, "Duration", str(duration_minutes))
    return root


def reset_auxiliary_load(*, request_id: RequestId, index: int) -> etree._Element:
    """SRV 7.8 (critical, CV 4): ends a 7.6 early, or undoes one sent in error."""
    request_id = _check_request_id(request_id)
    index = validate_index(index)
    root, body = _envelope(request_id=request_id, command_variant=TRANSFORM_CV, srv="7.8")
    _sub(_sub(body, "ResetAuxiliaryLoad"), "ResetALCSHCALCS", index=str(index))
    return root


def _controller_window(start: object, end: object) -> tuple[dt.datetime, dt.datetime]:
    """A 7.13 / 7.16 period: aware datetimes, end after start, rounded down to GBCS's 1/100 s."""
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise DccArgumentError(name, f"must be a timezone-aware datetime, got {value!r}")
    start, end = (
        value.astimezone(dt.UTC).replace(microsecond=value.microsecond // 10_000 * 10_000) for value in (start, end)
    )
    if end <= start:
        raise DccArgumentError("end", f"must be after start ({format_datetime(start)}), got {format_datetime(end)}")
    return start, end


def _auxiliary_controller_level(
    *,
    srv: str,
    request_id: RequestId,
    index: int,
    level: int,
    start: dt.datetime,
    end: dt.datetime,
    input_from_controlled_load: bool,
) -> etree._Element:
    request_id = _check_request_id(request_id)
    index = validate_index(index)
    level = validate_level(level)
    start, end = _controller_window(start, end)
    if not isinstance(input_from_controlled_load, bool):
        raise DccArgumentError(
            "input_from_controlled_load", f"must be True or False, got {input_from_controlled_load!r}"
        )
    root, body = _envelope(request_id=request_id, command_variant=TRANSFORM_CV, srv=srv)
    controller = _sub(body, LEVEL_BODIES[srv], auxiliaryControllerN=str(index))
    _sub(controller, "StartDateTime", format_datetime(start))
    _sub(controller, "EndDateTime", format_datetime(end))
    _sub(controller, "CommandedStateLevel", str(level))
    if input_from_controlled_load:
        _sub(controller, "InputFromControlledLoad")
    return root


def set_auxiliary_controller_state(
    *,
    request_id: RequestId,
    index: int,
    level: int,
    start: dt.datetime,
    end: dt.datetime,
    input_from_controlled_load: bool = False,
) -> etree._Element:
    """SRV 7.13 (critical, CV 4): controller ``index`` at ``level`` % from ``start`` to ``end``, then it reverts."""
    return _auxiliary_controller_level(
        srv="7.13",
        request_id=request_id,
        index=index,
        level=level,
        start=start,
        end=end,
        input_from_controlled_load=input_from_controlled_load,
    )


def limit_apc_level(
    *,
    request_id: RequestId,
    index: int,
    level: int,
    start: dt.datetime,
    end: dt.datetime,
    input_from_controlled_load: bool = False,
) -> etree._Element:
    """SRV 7.16 (critical, CV 4): cap APC ``index`` at ``level`` % until ``end``; level 100 lifts it early."""
    return _auxiliary_controller_level(
        srv="7.16",
        request_id=request_id,
        index=index,
        level=level,
        start=start,
        end=end,
        input_from_controlled_load=input_from_controlled_load,
    )


def read_auxiliary_load_switch_data(*, request_id: RequestId, command_variant: int = 1) -> etree._Element:
    request_id = _check_request_id(request_id)
    command_variant = _check_cv(command_variant, NON_CRITICAL_CVS, "7.7")
    root, body = _envelope(request_id=request_id, command_variant=command_variant, srv="7.7")
    _sub(body, "ReadALCSData")
    return root


def _boost_membership(
    *, request_id: RequestId, indexes: Iterable[int], command_variant: int, srv: str
) -> etree._Element:
    request_id = _check_request_id(request_id)
    command_variant = _check_cv(command_variant, NON_CRITICAL_CVS, srv)
    if isinstance(indexes, str | bytes) or not isinstance(indexes, Iterable):
        raise DccArgumentError("indexes", f"must be a collection of switch indexes 1..5, got {indexes!r}")
    chosen = {validate_index(i, argument="indexes") for i in indexes}
    if not chosen:
        raise DccArgumentError("indexes", "must name at least one switch index 1..5")
    container, item = (
        ("AddAuxiliaryLoadToBoostButton", "AddToBoostButton")
        if srv == "7.9"
        else ("RemoveAuxiliaryLoadFromBoostButton", "RemoveFromBoostButton")
    )
    root, body = _envelope(request_id=request_id, command_variant=command_variant, srv=srv)
    parent = _sub(body, container)
    # The schema wants exactly five entries, one per switch, true for those to change.
    for index in range(1, 6):
        _sub(parent, item, "true" if index in chosen else "false", index=str(index))
    return root


def add_auxiliary_load_to_boost_button(
    *, request_id: RequestId, indexes: Iterable[int], command_variant: int = 1
) -> etree._Element:
    """SRV 7.9: the customer's boost button will override curtailment of these switches."""
    return _boost_membership(request_id=request_id, indexes=indexes, command_variant=command_variant, srv="7.9")


def remove_auxiliary_load_from_boost_button(
    *, request_id: RequestId, indexes: Iterable[int], command_variant: int = 1
) -> etree._Element:
    """SRV 7.10: mirror of 7.9."""
    return _boost_membership(request_id=request_id, indexes=indexes, command_variant=command_variant, srv="7.10")


def format_datetime(value: dt.datetime) -> str:
    """UTC ``xs:dateTime`` with a Z suffix (aware datetimes only: no guessing zones)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-4] + "Z"


def read_boost_button_details(
    *, request_id: RequestId, start: dt.datetime, end: dt.datetime, command_variant: int = 1
) -> etree._Element:
    """SRV 7.11: boost presses logged between ``start`` and ``end`` (aware datetimes)."""
    request_id = _check_request_id(request_id)
    command_variant = _check_cv(command_variant, NON_CRITICAL_CVS, "7.11")
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise DccArgumentError(name, f"must be a timezone-aware datetime, got {value!r}")
    if end < start:
        raise DccArgumentError("end", "must not be before start")
    root, body = _envelope(request_id=request_id, command_variant=command_variant, srv="7.11")
    period = _sub(_sub(body, "ReadBoostButtonDetails"), "ReadLogPeriod")
    _sub(period, "StartDateTime", format_datetime(start))
    _sub(period, "EndDateTime", format_datetime(end))
    return root


def signed_pre_command(*, request_id: RequestId, srv: str, command_variant: int, gbcs_payload: bytes) -> etree._Element:
    """CV 5/6/7 request carrying a pre-command the user has signed (same RequestID as the CV 4)."""
    request_id = _check_request_id(request_id)
    if srv not in CRITICAL_SRVS:
        raise DccArgumentError("srv", f"must be a critical SRV {sorted(CRITICAL_SRVS)}, got {srv!r}")
    command_variant = _check_cv(command_variant, CRITICAL_SEND_CVS, srv)
    if not isinstance(gbcs_payload, bytes) or not gbcs_payload:
        raise DccArgumentError("gbcs_payload", "must be non-empty bytes")
    root, body = _envelope(request_id=request_id, command_variant=command_variant, srv=srv)
    _sub(_sub(body, "SignedPreCommand"), "GBCSPayload", base64.b64encode(gbcs_payload).decode())
    return root


def return_local_command_response(
    *, request_id: RequestId, original_request_id: RequestId, device_gbcs_response: bytes
) -> etree._Element:
    """SRV 8.13 (CV 8): hand the DCC the device's response to a locally delivered command."""
    request_id = _check_request_id(request_id)
    if not isinstance(original_request_id, RequestId):
        raise DccArgumentError("original_request_id", "must be a RequestId")
    if not isinstance(device_gbcs_response, bytes) or not device_gbcs_response:
        raise DccArgumentError("device_gbcs_response", "must be non-empty bytes")
    root, body = _envelope(request_id=request_id, command_variant=NON_DEVICE_CV, srv="8.13")
    container = _sub(body, "ReturnLocalCommandResponse")
    _sub(container, "OriginalRequestID", str(original_request_id))
    _sub(container, "DeviceGBCSResponse", base64.b64encode(device_gbcs_response).decode())
    return root


# --------------------------------------------------------------------------- reading


def _parse_moment(text: str | None) -> dt.datetime:
    moment = dt.datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment.astimezone(dt.UTC)


def _parse_datetime(text: str | None) -> float:
    return _parse_moment(text).timestamp()


def request_parameters(srv: str, body: etree._Element) -> dict:
    """The parameters of a request body as plain data (what a device needs to act)."""
    try:
        if srv == "7.6":
            switch = body.find(_sr("DeactivateALCSHCALCS"))
            return {"index": int(switch.get("index")), "duration_minutes": int(switch.findtext(_sr("Duration")))}
        if srv == "7.8":
            return {"index": int(body.find(_sr("ResetALCSHCALCS")).get("index"))}
        if srv in ("7.9", "7.10"):
            return {"indexes": sorted(int(e.get("index")) for e in body if (e.text or "").strip() in ("true", "1"))}
        if srv in LEVEL_BODIES:
            return {
                "index": int(body.get("auxiliaryControllerN")),
                "level": int(body.findtext(_sr("CommandedStateLevel"))),
                "start": _parse_moment(body.findtext(_sr("StartDateTime"))),
                "end": _parse_moment(body.findtext(_sr("EndDateTime"))),
                "input_from_controlled_load": body.find(_sr("InputFromControlledLoad")) is not None,
            }
        if srv == "7.11":
            period = body.find(_sr("ReadLogPeriod"))
            return {
                "start": _parse_datetime(period.findtext(_sr("StartDateTime"))),
                "end": _parse_datetime(period.findtext(_sr("EndDateTime"))),
            }
    except (AttributeError, TypeError, ValueError) as exc:
        raise DccDocumentError(f"body of {srv} request is not readable: {exc}") from exc
    return {}


@dataclass(frozen=True)
class DuisRequest:
    """What the simulator needs from a (verified) ``sr:Request``."""

    request_id: RequestId
    command_variant: int
    srv: str
    body: etree._Element  # the single child of sr:Body


def parse_request(root: etree._Element) -> DuisRequest:
    """Read a verified ``sr:Request`` root; raise :class:`DccDocumentError` if it is not one."""
    if root.tag != _sr("Request"):
        raise DccDocumentError(f"expected sr:Request, got {root.tag}")
    header = root.find(_sr("Header"))
    body = root.find(_sr("Body"))
    if header is None or body is None or len(body) != 1:
        raise DccDocumentError("sr:Request needs a Header and a Body with one element")
    try:
        request_id = RequestId.parse(header.findtext(_sr("RequestID")))
        command_variant = int(header.findtext(_sr("CommandVariant")) or "")
    except (DccArgumentError, ValueError) as exc:
        raise DccDocumentError(f"bad request header: {exc}") from exc
    srv = (header.findtext(_sr("ServiceReference")) or "").strip()
    return DuisRequest(request_id=request_id, command_variant=command_variant, srv=srv, body=body[0])


@dataclass(frozen=True)
class DuisResponse:
    """A verified ``sr:Response``: a response, a device alert or a DCC alert."""

    kind: str
    request_id: str | None
    response_id: str | None
    response_code: str
    response_datetime: str
    service_reference: str | None = None
    service_reference_variant: str | None = None
    gbcs_payload: bytes | None = None
    pre_command: bytes | None = None
    local_command: bytes | None = None
    alert_code: str | None = None
    # DCC alerts: which DCCAlert it is (e.g. "CommandFailure") and the request it names, if any.
    dcc_alert_type: str | None = None
    dcc_alert_request_id: str | None = None
    raw: bytes = field(default=b"", repr=False, compare=False)  # the signed document as received


def _b64(element: etree._Element | None, what: str) -> bytes | None:
    if element is None:
        return None
    try:
        return base64.b64decode((element.text or "").strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DccDocumentError(f"{what} is not base64") from exc


def parse_response(root: etree._Element) -> DuisResponse:
    """Read a verified ``sr:Response`` root; raise :class:`DccDocumentError` if malformed."""
    if root.tag != _sr("Response"):
        raise DccDocumentError(f"expected sr:Response, got {root.tag}")
    header, body = root.find(_sr("Header")), root.find(_sr("Body"))
    if header is None or body is None or len(body) != 1:
        raise DccDocumentError("sr:Response needs a Header and a Body with one element")
    code = (header.findtext(_sr("ResponseCode")) or "").strip()
    when = (header.findtext(_sr("ResponseDateTime")) or "").strip()
    if not code or not when:
        raise DccDocumentError("sr:Response header lacks ResponseCode or ResponseDateTime")
    common = {
        "request_id": (header.findtext(_sr("RequestID")) or "").strip() or None,
        "response_id": (header.findtext(_sr("ResponseID")) or "").strip() or None,
        "response_code": code,
        "response_datetime": when,
    }
    message = body[0]
    if message.tag == _sr("ResponseMessage"):
        pre = message.find(_sr("PreCommand"))
        local = message.find(_sr("LocalCommand"))
        return DuisResponse(
            kind="response",
            service_reference=message.findtext(_sr("ServiceReference")),
            service_reference_variant=message.findtext(_sr("ServiceReferenceVariant")),
            gbcs_payload=_b64(message.find(_sr("GBCSPayload")), "GBCSPayload"),
            pre_command=_b64(pre.find(_sr("GBCSPayload")) if pre is not None else None, "PreCommand"),
            local_command=_b64(local.find(_sr("GBCSPayload")) if local is not None else None, "LocalCommand"),
            **common,
        )
    if message.tag == _sr("DeviceAlertMessage"):
        return DuisResponse(
            kind="device_alert",
            alert_code=(message.findtext(_sr("AlertCode")) or "").strip().upper(),
            gbcs_payload=_b64(message.find(_sr("GBCSPayload")), "GBCSPayload"),
            **common,
        )
    if message.tag == _sr("DCCAlertMessage"):
        alert = message.find(_sr("DCCAlert"))
        detail = alert[0] if alert is not None and len(alert) else None
        named = None
        if detail is not None:
            # CommandFailure names the failed request as CommandRequestID; others as RequestID.
            named = detail.findtext(f".//{_sr('CommandRequestID')}") or detail.findtext(f".//{_sr('RequestID')}")
        return DuisResponse(
            kind="dcc_alert",
            alert_code=(message.findtext(_sr("DCCAlertCode")) or "").strip(),
            dcc_alert_type=etree.QName(detail).localname if detail is not None else None,
            dcc_alert_request_id=(named or "").strip() or None,
            **common,
        )
    raise DccDocumentError(f"unsupported response body {message.tag}")


def build_dcc_alert(
    *, alert_code: str, failed_request_id: str, device: str, when: dt.datetime | None = None
) -> etree._Element:
    """An unsigned DCC alert saying a command could not be delivered (``CommandFailure``)."""
    root = etree.Element(_sr("Response"), nsmap={"sr": SR_NS, "ds": DS_NS}, schemaVersion=SCHEMA_VERSION)
    header = _sub(root, "Header")
    _sub(header, "ResponseCode", "I0")
    _sub(header, "ResponseDateTime", format_datetime(when or dt.datetime.now(dt.UTC)))
    message = _sub(_sub(root, "Body"), "DCCAlertMessage")
    _sub(message, "DCCAlertCode", alert_code)
    failure = _sub(_sub(message, "DCCAlert"), "CommandFailure")
    _sub(failure, "CommandRequestID", failed_request_id)
    _sub(failure, "DeviceID", device)
    return root


def build_response(
    *,
    request_id: str | None,
    response_id: str | None,
    response_code: str,
    srv: str | None = None,
    gbcs_payload: bytes | None = None,
    pre_command: bytes | None = None,
    local_command: bytes | None = None,
    alert_code: str | None = None,
    when: dt.datetime | None = None,
) -> etree._Element:
    """An unsigned ``sr:Response`` for the simulator: a device alert or a response message."""
    root = etree.Element(_sr("Response"), nsmap={"sr": SR_NS, "ds": DS_NS}, schemaVersion=SCHEMA_VERSION)
    header = _sub(root, "Header")
    if request_id:
        _sub(header, "RequestID", request_id)
    if response_id:
        _sub(header, "ResponseID", response_id)
    _sub(header, "ResponseCode", response_code)
    _sub(header, "ResponseDateTime", format_datetime(when or dt.datetime.now(dt.UTC)))
    body = _sub(root, "Body")
    if alert_code is not None:
        alert = _sub(body, "DeviceAlertMessage")
        _sub(alert, "AlertCode", alert_code)
        _sub(alert, "GBCSPayload", base64.b64encode(gbcs_payload or b"").decode())
        return root
    message = _sub(body, "ResponseMessage")
    _sub(message, "ServiceReference", srv or "")
    _sub(message, "ServiceReferenceVariant", srv or "")
    if pre_command is not None:
        pre = _sub(message, "PreCommand")
        _sub(pre, "GBCSVersion", "4.3")
        _sub(pre, "GBCSPayload", base64.b64encode(pre_command).decode())
    elif local_command is not None:
        _sub(_sub(message, "LocalCommand"), "GBCSPayload", base64.b64encode(local_command).decode())
    elif gbcs_payload is not None:
        _sub(message, "GBCSPayload", base64.b64encode(gbcs_payload).decode())
    return root
