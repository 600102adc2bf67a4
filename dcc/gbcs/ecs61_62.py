"""ECS61a (SRV 7.7 read switch data), ECS61c (7.11 read boost button data) and ECS62 (7.9/7.10 boost
button loads).

Non-critical: the DCC builds and MACs the command with its access-control-broker KA key and the ESME
answers MAC'd. The objects read and set are in README.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from . import crypto
from .codes import Cra, MessageCode
from .dlms import (
    NULL,
    AccessKind,
    AccessRequest,
    AccessRequestApdu,
    AccessResponseApdu,
    AccessResult,
    CompactArray,
    CosemReference,
    Data,
    DataTag,
    TypeDescription,
    access_request_decode,
    access_request_encode,
    access_response_decode,
    access_response_encode,
    array,
    boolean,
    double_long_unsigned,
    invoke_id_for,
    long_unsigned,
    obis,
    octet_string,
    structure,
    visible_string,
)
from .errors import GbcsFormatError
from .frames import Frame, GroupingHeader, eui64_raw, eui64_text
from .messages import GbcsMessage, Outcome, outcome_from, results_build, results_check
from .protect import maced_message

SWITCHES = range(1, 6)
GBCS_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
BOOST_FUNCTION_AVAILABLE = CosemReference(1, obis("0-0:94.44.7.255"), 2)
BOOST_LOG = CosemReference(7, obis("0-0:99.98.20.255"), 2)
BOOST_LOG_CLOCK = obis("0-0:94.44.100.255")  # the range descriptor's restricting object
RANGE_DESCRIPTOR = 1
SPECIAL_DAYS = CosemReference(11, obis("0-0:11.0.3.255"), 2)
SCHEDULE = CosemReference(10, obis("0-0:12.0.2.255"), 2)
_PERIOD = TypeDescription(DataTag.STRUCTURE, (TypeDescription(DataTag.DOUBLE_LONG_UNSIGNED),) * 2)


def boost_control(index: int) -> CosemReference:
    return CosemReference(1, bytes([0, 0, 94, 44, 6, index]), 2)


def switch_label(index: int) -> CosemReference:
    return CosemReference(1, bytes([0, 0, 94, 44, 0, 10 + index]), 2)


def switch_device(index: int) -> CosemReference:
    return CosemReference(1, bytes([0, 0, 94, 44, 0, 20 + index]), 2)


def switch_output(index: int) -> CosemReference:
    return CosemReference(70, bytes([0, index, 96, 3, 10, 255]), 2)


ECS61A_TARGETS = (
    *(switch_label(n) for n in SWITCHES),
    *(switch_device(n) for n in SWITCHES),
    SPECIAL_DAYS,
    SCHEDULE,
    *(switch_output(n) for n in SWITCHES),
)
ECS61C_TARGETS = (BOOST_FUNCTION_AVAILABLE, BOOST_LOG, *(boost_control(n) for n in SWITCHES))


def seconds_decode(value: int) -> datetime:
    return GBCS_EPOCH + timedelta(seconds=value)


def seconds_encode(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("GBCS times need an aware datetime")
    seconds = (moment - GBCS_EPOCH) // timedelta(seconds=1)
    if not 0 <= seconds < 2**32:
        raise ValueError(f"{moment.isoformat()} is outside GBCS's 2000-2136 range")
    return seconds


@dataclass(frozen=True)
class BoostPeriod:
    """One use of the boost button, from the ESME's boost event log."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Ecs61aCommand(GbcsMessage):
    apdu: AccessRequestApdu


@dataclass(frozen=True)
class Ecs61aResponse(GbcsMessage):
    """Switch data from the ESME; a value is None where its read failed."""

    labels: dict[int, str | None]
    hcalcs_devices: dict[int, str | None]  # None for a wired ALCS (all-zero id) or a failed read
    output_states: dict[int, bool | None]  # True: the load is connected
    special_days: Data | None
    schedule: Data | None
    outcome: Outcome
    results: tuple[AccessResult, ...]
    apdu: AccessResponseApdu


@dataclass(frozen=True)
class Ecs61cCommand(GbcsMessage):
    start: datetime  # the boost event log period read
    end: datetime
    apdu: AccessRequestApdu


@dataclass(frozen=True)
class Ecs61cResponse(GbcsMessage):
    boost_available: bool | None
    boost_periods: tuple[BoostPeriod, ...]
    boost_membership: dict[int, bool | None]  # switch -> controlled by the boost button
    outcome: Outcome
    results: tuple[AccessResult, ...]
    apdu: AccessResponseApdu


@dataclass(frozen=True)
class Ecs62Command(GbcsMessage):
    boost_membership: dict[int, bool]  # switch -> to be controlled by the boost button
    apdu: AccessRequestApdu


@dataclass(frozen=True)
class Ecs62Response(GbcsMessage):
    outcome: Outcome
    results: tuple[AccessResult, ...]
    apdu: AccessResponseApdu


def _fail(frame: Frame, field: str, problem: str) -> GbcsFormatError:
    return GbcsFormatError(f"{frame.header.use_case} {field}", frame.payload_start, problem)


def _targets_check(frame: Frame, apdu: AccessRequestApdu, targets: Sequence[CosemReference]) -> None:
    found = [request.target for request in apdu.requests]
    if found != list(targets):
        raise _fail(frame, "requests", f"read {[str(t) for t in found]}, expected {[str(t) for t in targets]}")
    if len(apdu.data) != len(apdu.requests):
        raise _fail(frame, "request data", f"{len(apdu.data)} values for {len(apdu.requests)} requests")


def _value(frame: Frame, data: Data, tag: DataTag, field: str) -> object:
    """A read value of the expected type, or None when the device returned null (a failed read)."""
    if data.tag is DataTag.NULL:
        return None
    if data.tag is not tag:
        raise _fail(frame, field, f"is {data.tag.name.lower()}, expected {tag.name.lower()}")
    return data.value


def _response_apdu(frame: Frame, count: int) -> AccessResponseApdu:
    apdu = access_response_decode(frame.payload_reader())
    if len(apdu.data) != count:
        raise _fail(frame, "response data", f"{len(apdu.data)} values, expected {count}")
    results_check(frame, apdu.results, [AccessKind.GET] * count, frame.header.use_case)
    return apdu


# -- ECS61a -------------------------------------------------------------------------------


def ecs61a_command_decode(frame: Frame) -> Ecs61aCommand:
    apdu = access_request_decode(frame.payload_reader())
    _targets_check(frame, apdu, ECS61A_TARGETS)
    if any(request.kind is not AccessKind.GET for request in apdu.requests):
        raise _fail(frame, "requests", "ECS61a only reads")
    return Ecs61aCommand(frame=frame, apdu=apdu)


_ECS61A_LABELS = (
    *(f"switch {n} label" for n in SWITCHES),
    *(f"switch {n} device" for n in SWITCHES),
    "special days",
    "schedule",
    *(f"switch {n} output state" for n in SWITCHES),
)


def ecs61a_response_decode(frame: Frame) -> Ecs61aResponse:
    apdu = _response_apdu(frame, len(ECS61A_TARGETS))
    data = apdu.data
    devices: dict[int, str | None] = {}
    for n in SWITCHES:
        raw = _value(frame, data[4 + n], DataTag.OCTET_STRING, f"switch {n} device")
        if raw is not None and len(raw) != 8:
            raise _fail(frame, f"switch {n} device", f"is {len(raw)} bytes, expected an 8-byte EUI-64")
        devices[n] = eui64_text(raw) if raw and any(raw) else None
    calendars = [None if data[i].tag is DataTag.NULL else data[i] for i in (10, 11)]
    for item, name in zip(calendars, ("special days", "schedule"), strict=True):
        if item is not None and item.tag is not DataTag.ARRAY:
            raise _fail(frame, name, f"is {item.tag.name.lower()}, expected an array")
    return Ecs61aResponse(
        frame=frame,
        labels={n: _value(frame, data[n - 1], DataTag.VISIBLE_STRING, f"switch {n} label") for n in SWITCHES},
        hcalcs_devices=devices,
        output_states={n: _value(frame, data[11 + n], DataTag.BOOLEAN, f"switch {n} output state") for n in SWITCHES},
        special_days=calendars[0],
        schedule=calendars[1],
        outcome=outcome_from(apdu.results, _ECS61A_LABELS),
        results=apdu.results,
        apdu=apdu,
    )


# -- ECS61c -------------------------------------------------------------------------------


def _boost_log_selection(start: datetime, end: datetime) -> Data:
    restricting = structure(long_unsigned(1), octet_string(BOOST_LOG_CLOCK), Data(DataTag.INTEGER, 2), long_unsigned(0))
    return structure(
        restricting, double_long_unsigned(seconds_encode(start)), double_long_unsigned(seconds_encode(end)), array()
    )


def ecs61c_command_decode(frame: Frame) -> Ecs61cCommand:
    apdu = access_request_decode(frame.payload_reader())
    _targets_check(frame, apdu, ECS61C_TARGETS)
    log = apdu.requests[1]
    selection = log.selection
    if (
        log.kind is not AccessKind.GET_WITH_SELECTION
        or log.selector != RANGE_DESCRIPTOR
        or selection is None
        or selection.tag is not DataTag.STRUCTURE
        or len(selection.items) != 4
        or selection.items[0] != _boost_log_selection(GBCS_EPOCH, GBCS_EPOCH).items[0]
        or any(item.tag is not DataTag.DOUBLE_LONG_UNSIGNED for item in selection.items[1:3])
    ):
        raise _fail(frame, "boost log request", "is not a range read of the boost event log")
    return Ecs61cCommand(
        frame=frame,
        start=seconds_decode(selection.items[1].value),
        end=seconds_decode(selection.items[2].value),
        apdu=apdu,
    )


def _boost_periods(frame: Frame, data: Data) -> tuple[BoostPeriod, ...]:
    if data.tag is DataTag.NULL:
        return ()
    if data.tag not in (DataTag.COMPACT_ARRAY, DataTag.ARRAY):
        raise _fail(frame, "boost log", f"is {data.tag.name.lower()}, expected an array")
    periods = []
    for position, entry in enumerate(data.items):
        if (
            entry.tag is not DataTag.STRUCTURE
            or len(entry.items) != 2
            or any(item.tag is not DataTag.DOUBLE_LONG_UNSIGNED for item in entry.items)
        ):
            raise _fail(frame, f"boost log entry {position}", "is not (start, end) in seconds")
        periods.append(BoostPeriod(seconds_decode(entry.items[0].value), seconds_decode(entry.items[1].value)))
    return tuple(periods)


_ECS61C_LABELS = ("boost function available", "boost event log", *(f"switch {n} boost association" for n in SWITCHES))


def ecs61c_response_decode(frame: Frame) -> Ecs61cResponse:
    apdu = _response_apdu(frame, len(ECS61C_TARGETS))
    data = apdu.data
    return Ecs61cResponse(
        frame=frame,
        boost_available=_value(frame, data[0], DataTag.BOOLEAN, "boost function available"),
        boost_periods=_boost_periods(frame, data[1]),
        boost_membership={
            n: _value(frame, data[1 + n], DataTag.BOOLEAN, f"switch {n} boost association") for n in SWITCHES
        },
        outcome=outcome_from(apdu.results, _ECS61C_LABELS),
        results=apdu.results,
        apdu=apdu,
    )


# -- ECS62 --------------------------------------------------------------------------------


def ecs62_command_decode(frame: Frame) -> Ecs62Command:
    apdu = access_request_decode(frame.payload_reader())
    if not 1 <= len(apdu.requests) <= 5 or len(apdu.data) != len(apdu.requests):
        raise _fail(
            frame, "requests", f"{len(apdu.requests)} requests with {len(apdu.data)} values, expected 1-5 of each"
        )
    membership: dict[int, bool] = {}
    for position, (request, value) in enumerate(zip(apdu.requests, apdu.data, strict=True)):
        index = request.target.instance[5]
        if request.kind is not AccessKind.SET or request.target != boost_control(index) or index not in SWITCHES:
            raise _fail(
                frame,
                f"request {position}",
                f"is {request.kind.name.lower()} {request.target}, expected a boost association set",
            )
        if index in membership or value.tag is not DataTag.BOOLEAN:
            raise _fail(frame, f"request {position}", f"switch {index} repeated, or its value is not a boolean")
        membership[index] = value.value
    return Ecs62Command(frame=frame, boost_membership=membership, apdu=apdu)


def ecs62_response_decode(frame: Frame) -> Ecs62Response:
    apdu = access_response_decode(frame.payload_reader())
    count = len(apdu.results)
    if not 1 <= count <= 5 or apdu.data != (NULL,) * count:
        raise _fail(
            frame, "response", f"{count} results with {len(apdu.data)} values, expected 1-5 results and a null each"
        )
    results_check(frame, apdu.results, [AccessKind.SET] * count, frame.header.use_case)
    labels = [f"boost association {position + 1}" for position in range(count)]
    return Ecs62Response(frame=frame, outcome=outcome_from(apdu.results, labels), results=apdu.results, apdu=apdu)


# -- builders -----------------------------------------------------------------------------


def _header(cra: Cra, code: MessageCode, counter: int, originator: str, recipient: str) -> GroupingHeader:
    return GroupingHeader(
        cra=cra,
        counter=counter,
        originator=eui64_text(eui64_raw(originator)),
        recipient=eui64_text(eui64_raw(recipient)),
        date_time=None,
        message_code=code,
    )


def _command_build(
    code: MessageCode,
    requests: Sequence[AccessRequest],
    data: Sequence[Data],
    *,
    originator: str,
    device: str,
    counter: int,
    acb_ka_private_key: ec.EllipticCurvePrivateKey,
    device_ka_public_key: crypto.PublicKeyLike,
) -> bytes:
    header = _header(Cra.COMMAND, code, counter, originator, device)
    payload = access_request_encode(AccessRequestApdu(invoke_id_for(counter), tuple(requests), tuple(data)))
    return maced_message(header, payload, private_key=acb_ka_private_key, peer_public_key=device_ka_public_key)


def ecs61a_command_build(
    *,
    originator: str,
    device: str,
    counter: int,
    acb_ka_private_key: ec.EllipticCurvePrivateKey,
    device_ka_public_key: crypto.PublicKeyLike,
) -> bytes:
    """SRV 7.7 as the DCC sends it to the ESME (MAC'd with the DCC's access-control-broker key)."""
    requests = [AccessRequest(AccessKind.GET, target) for target in ECS61A_TARGETS]
    return _command_build(
        MessageCode.ECS61A,
        requests,
        [NULL] * len(requests),
        originator=originator,
        device=device,
        counter=counter,
        acb_ka_private_key=acb_ka_private_key,
        device_ka_public_key=device_ka_public_key,
    )


def ecs61c_command_build(
    *,
    originator: str,
    device: str,
    counter: int,
    start: datetime,
    end: datetime,
    acb_ka_private_key: ec.EllipticCurvePrivateKey,
    device_ka_public_key: crypto.PublicKeyLike,
) -> bytes:
    """SRV 7.11 as the DCC sends it: boost availability, the log from ``start`` to ``end``, the five associations."""
    requests = [
        AccessRequest(AccessKind.GET, BOOST_FUNCTION_AVAILABLE),
        AccessRequest(AccessKind.GET_WITH_SELECTION, BOOST_LOG, RANGE_DESCRIPTOR, _boost_log_selection(start, end)),
        *(AccessRequest(AccessKind.GET, boost_control(n)) for n in SWITCHES),
    ]
    return _command_build(
        MessageCode.ECS61C,
        requests,
        [NULL] * len(requests),
        originator=originator,
        device=device,
        counter=counter,
        acb_ka_private_key=acb_ka_private_key,
        device_ka_public_key=device_ka_public_key,
    )


def ecs62_command_build(
    *,
    originator: str,
    device: str,
    counter: int,
    boost_membership: Mapping[int, bool],
    acb_ka_private_key: ec.EllipticCurvePrivateKey,
    device_ka_public_key: crypto.PublicKeyLike,
) -> bytes:
    """SRV 7.9 (``{n: True}``) / 7.10 (``{n: False}``) as the DCC sends it."""
    if not boost_membership or any(n not in SWITCHES for n in boost_membership):
        raise ValueError("boost_membership maps switches 1..5 to True / False")
    indexes = sorted(boost_membership)
    return _command_build(
        MessageCode.ECS62,
        [AccessRequest(AccessKind.SET, boost_control(n)) for n in indexes],
        [boolean(boost_membership[n]) for n in indexes],
        originator=originator,
        device=device,
        counter=counter,
        acb_ka_private_key=acb_ka_private_key,
        device_ka_public_key=device_ka_public_key,
    )


def _response_build(
    code: MessageCode,
    kinds: Sequence[AccessKind],
    values: Sequence[Data],
    results: Sequence[int] | None,
    *,
    originator: str,
    device: str,
    counter: int,
    device_ka_private_key: ec.EllipticCurvePrivateKey,
    recipient_ka_public_key: crypto.PublicKeyLike,
) -> bytes:
    built = results_build(kinds, results)
    data = tuple(value if result.ok else NULL for value, result in zip(values, built, strict=True))
    header = _header(Cra.RESPONSE, code, counter, device, originator)
    payload = access_response_encode(AccessResponseApdu(invoke_id_for(counter), data, built))
    return maced_message(header, payload, private_key=device_ka_private_key, peer_public_key=recipient_ka_public_key)


def ecs61a_response_build(
    *,
    originator: str,
    device: str,
    counter: int,
    labels: Mapping[int, str],
    output_states: Mapping[int, bool],
    hcalcs_devices: Mapping[int, str | None] | None = None,
    special_days: Data | None = None,
    schedule: Data | None = None,
    results: Sequence[int] | None = None,
    device_ka_private_key: ec.EllipticCurvePrivateKey,
    recipient_ka_public_key: crypto.PublicKeyLike,
) -> bytes:
    """The ESME's SRV 7.7 answer; reads whose result is not 0 carry null."""
    devices = hcalcs_devices or {}
    values = [
        *(visible_string(labels.get(n, "")) for n in SWITCHES),
        *(octet_string(eui64_raw(devices[n]) if devices.get(n) else bytes(8)) for n in SWITCHES),
        special_days if special_days is not None else array(),
        schedule if schedule is not None else array(),
        *(boolean(output_states.get(n, True)) for n in SWITCHES),
    ]
    return _response_build(
        MessageCode.ECS61A,
        [AccessKind.GET] * len(values),
        values,
        results,
        originator=originator,
        device=device,
        counter=counter,
        device_ka_private_key=device_ka_private_key,
        recipient_ka_public_key=recipient_ka_public_key,
    )


def ecs61c_response_build(
    *,
    originator: str,
    device: str,
    counter: int,
    boost_available: bool,
    boost_periods: Sequence[BoostPeriod],
    boost_membership: Mapping[int, bool],
    results: Sequence[int] | None = None,
    device_ka_private_key: ec.EllipticCurvePrivateKey,
    recipient_ka_public_key: crypto.PublicKeyLike,
) -> bytes:
    """The ESME's SRV 7.11 answer: availability, the boost log, the five associations."""
    log = tuple(
        structure(double_long_unsigned(seconds_encode(p.start)), double_long_unsigned(seconds_encode(p.end)))
        for p in boost_periods
    )
    values = [
        boolean(boost_available),
        Data(DataTag.COMPACT_ARRAY, CompactArray(_PERIOD, log)),
        *(boolean(boost_membership.get(n, False)) for n in SWITCHES),
    ]
    return _response_build(
        MessageCode.ECS61C,
        [AccessKind.GET] * len(values),
        values,
        results,
        originator=originator,
        device=device,
        counter=counter,
        device_ka_private_key=device_ka_private_key,
        recipient_ka_public_key=recipient_ka_public_key,
    )


def ecs62_response_build(
    *,
    originator: str,
    device: str,
    counter: int,
    request_count: int = 5,
    results: Sequence[int] | None = None,
    device_ka_private_key: ec.EllipticCurvePrivateKey,
    recipient_ka_public_key: crypto.PublicKeyLike,
) -> bytes:
    """The ESME's SRV 7.9 / 7.10 answer: one set result per switch the command named."""
    return _response_build(
        MessageCode.ECS62,
        [AccessKind.SET] * request_count,
        [NULL] * request_count,
        results,
        originator=originator,
        device=device,
        counter=counter,
        device_ka_private_key=device_ka_private_key,
        recipient_ka_public_key=recipient_ka_public_key,
    )
