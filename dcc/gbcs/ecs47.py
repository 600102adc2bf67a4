"""ECS47 family: switch an auxiliary controller (HCALCS, ALCS or APC) through the ESME: SRV 7.5/7.6/7.8
ECS47 (0x0055), 7.13 ECS47a (0x011E), 7.16 ECS47e (0x011F).

All are critical: the DCC returns the pre-command, the user signs it, the ESME answers signed. The
objects and script selectors are in README.md ("Byte layout in brief"). The duration is carried as
DUIS sends it (long-unsigned; the RTDS maps Duration 30 to 0x001E), so dnoctl, like DUIS, reads it
as minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import ec

from .codes import Cra, MessageCode
from .dlms import (
    NULL,
    AccessKind,
    AccessRequest,
    AccessRequestApdu,
    AccessResponseApdu,
    AccessResult,
    CosemReference,
    Data,
    DataTag,
    access_request_decode,
    access_request_encode,
    access_response_decode,
    access_response_encode,
    invoke_id_for,
    long_unsigned,
    obis,
    octet_string,
)
from .errors import GbcsFormatError
from .frames import (
    DATE_TIME_LENGTH,
    Frame,
    GroupingHeader,
    datetime_decode,
    datetime_encode,
    eui64_raw,
    eui64_text,
    general_signing_encode,
)
from .messages import GbcsMessage, Outcome, outcome_from, results_build, results_check
from .protect import signed_message

SERVICES = ("7.5", "7.6", "7.8", "7.13", "7.16")
MESSAGE_CODES = {
    "7.5": MessageCode.ECS47,
    "7.6": MessageCode.ECS47,
    "7.8": MessageCode.ECS47,
    "7.13": MessageCode.ECS47A,
    "7.16": MessageCode.ECS47E,
}
SWITCH_INDEXES = range(1, 6)
MAX_DURATION = 0xFFFF
SCRIPT_TABLE = CosemReference(9, obis("0-0:10.0.103.255"), 1)  # method 1: execute
APC_LIMIT_SCRIPT_TABLE = CosemReference(9, obis("0-0:10.0.107.255"), 1)  # 7.16's
_SWITCH_OBJECT_BASE = 116  # switch n: 0-0:94.44.(116 + n).F
_DURATION_OBJECT = {"7.5": 1, "7.6": 2}
_DURATION_SCRIPT = {"7.5": 0x11, "7.6": 0x12}
_RESET_SCRIPT = 0x20
_PERIOD_OBJECTS = {"7.13": (1, 2), "7.16": (3, 4)}
_OUTPUT, _INPUT = 1, 2


def switch_object(index: int, field_number: int) -> CosemReference:
    return CosemReference(1, bytes([0, 0, 94, 44, _SWITCH_OBJECT_BASE + index, field_number]), 2)


@dataclass(frozen=True)
class Ecs47Request:
    """What the user asked for (the DUIS request): the fields a pre-command must carry."""

    service: str  # "7.5", "7.6", "7.8", "7.13" or "7.16"
    originator: str  # RequestID originator (the user's EUI-64)
    device: str  # RequestID target (the ESME)
    counter: int  # RequestID counter: the pre-command's originator counter
    switch_index: int
    duration_minutes: int | None = None  # 7.5, 7.6
    level: int | None = None  # 7.13, 7.16: 0-100 %
    start: datetime | None = None  # 7.13, 7.16
    end: datetime | None = None
    input_from_controlled_load: bool = False  # 7.13, 7.16

    def __post_init__(self) -> None:
        if self.service not in SERVICES:
            raise ValueError(f"service must be one of {SERVICES}, got {self.service!r}")
        for name in ("originator", "device"):
            object.__setattr__(self, name, eui64_text(eui64_raw(getattr(self, name))))
        if not 0 <= self.counter < 2**64:
            raise ValueError(f"counter must be 0..2**64-1, got {self.counter}")
        if self.switch_index not in SWITCH_INDEXES:
            raise ValueError(f"switch_index must be 1..5, got {self.switch_index!r}")
        timed = self.service in _DURATION_OBJECT
        leveled = self.service in _PERIOD_OBJECTS
        if timed != (self.duration_minutes is not None):
            raise ValueError(f"SRV {self.service} {'needs' if timed else 'takes no'} duration_minutes")
        if timed and not 0 <= self.duration_minutes <= MAX_DURATION:
            raise ValueError(f"duration_minutes must be 0..{MAX_DURATION}, got {self.duration_minutes}")
        if (
            leveled != (self.level is not None)
            or leveled != (self.start is not None)
            or leveled != (self.end is not None)
        ):
            raise ValueError(f"SRV {self.service} {'needs' if leveled else 'takes no'} level, start and end")
        if leveled and not 0 <= self.level <= 100:
            raise ValueError(f"level must be 0..100, got {self.level}")
        for moment in (self.start, self.end):
            if moment is not None and (moment.tzinfo is None or moment.microsecond % 10_000):
                raise ValueError("start and end must be aware datetimes to 1/100 s (GBCS date-time resolution)")
        if self.input_from_controlled_load and not leveled:
            raise ValueError(f"SRV {self.service} takes no input_from_controlled_load")

    @property
    def message_code(self) -> MessageCode:
        return MESSAGE_CODES[self.service]


@dataclass(frozen=True)
class Ecs47Command(GbcsMessage):
    """An ECS47-family command: a pre-command from the DCC, or the signed command."""

    service: str
    switch_index: int
    duration_minutes: int | None
    level: int | None
    start: datetime | None
    end: datetime | None
    input_from_controlled_load: bool
    apdu: AccessRequestApdu

    @property
    def signature(self) -> bytes | None:
        return self.frame.signature


@dataclass(frozen=True)
class Ecs47Response(GbcsMessage):
    """The ESME's answer to an ECS47-family command."""

    outcome: Outcome
    results: tuple[AccessResult, ...]
    apdu: AccessResponseApdu


def _fail(frame: Frame, field: str, problem: str) -> GbcsFormatError:
    return GbcsFormatError(f"ECS47 {field}", frame.payload_start, problem)


def _long_unsigned(frame: Frame, data: Data, field: str) -> int:
    if data.tag is not DataTag.LONG_UNSIGNED:
        raise _fail(frame, field, f"is {data.tag.name.lower()}, expected long-unsigned")
    return data.value


def _date_time(frame: Frame, data: Data, field: str) -> datetime:
    if data.tag is not DataTag.OCTET_STRING or len(data.value) != DATE_TIME_LENGTH:
        raise _fail(frame, field, "is not a 12-byte date-time octet-string")
    return datetime_decode(data.value, f"ECS47 {field}", frame.payload_start)


def _switch_of(frame: Frame, request: AccessRequest, position: int) -> tuple[int, int]:
    target = request.target
    a, b, c, d, e, f = target.instance
    index = e - _SWITCH_OBJECT_BASE
    if (
        request.kind is not AccessKind.SET
        or target.class_id != 1
        or target.member != 2
        or (a, b, c, d) != (0, 0, 94, 44)
        or index not in SWITCH_INDEXES
    ):
        raise _fail(
            frame, f"request {position}", f"is {request.kind.name.lower()} {target}, expected a set of a switch object"
        )
    return index, f


def _script_table(service: str) -> CosemReference:
    return APC_LIMIT_SCRIPT_TABLE if service == "7.16" else SCRIPT_TABLE


def _script_of(frame: Frame, apdu: AccessRequestApdu, table: CosemReference = SCRIPT_TABLE) -> int:
    last = len(apdu.requests) - 1
    request = apdu.requests[last]
    if request.kind is not AccessKind.ACTION or request.target != table:
        raise _fail(
            frame, f"request {last}", f"is {request.kind.name.lower()} {request.target}, expected the switch script"
        )
    return _long_unsigned(frame, apdu.data[last], "script selector")


def command_decode(frame: Frame) -> Ecs47Command:
    apdu = access_request_decode(frame.payload_reader())
    if len(apdu.data) != len(apdu.requests):
        raise _fail(frame, "request data", f"{len(apdu.data)} values for {len(apdu.requests)} requests")
    if frame.header.message_code == MessageCode.ECS47:
        fields = _timed_decode(frame, apdu)
    else:
        fields = _period_decode(frame, apdu)
    return Ecs47Command(frame=frame, apdu=apdu, **fields)


def _timed_decode(frame: Frame, apdu: AccessRequestApdu) -> dict:
    count = len(apdu.requests)
    if count not in (1, 2):
        raise _fail(frame, "requests", f"{count} requests, expected 1 (7.8) or 2 (7.5, 7.6)")
    script = _script_of(frame, apdu)
    index, action = script >> 8, script & 0xFF
    fields = {"switch_index": index, "level": None, "start": None, "end": None, "input_from_controlled_load": False}
    if count == 1:
        if action != _RESET_SCRIPT or index not in SWITCH_INDEXES:
            raise _fail(frame, "script selector", f"{script:#06x} is not a reset of switch 1..5")
        return {**fields, "service": "7.8", "duration_minutes": None}
    service = next((srv for srv, code in _DURATION_SCRIPT.items() if code == action), None)
    if service is None:
        raise _fail(frame, "script selector", f"{script:#06x} is neither activate (0x11) nor deactivate (0x12)")
    set_index, field_number = _switch_of(frame, apdu.requests[0], 0)
    if (set_index, field_number) != (index, _DURATION_OBJECT[service]):
        raise _fail(
            frame,
            "request 0",
            f"sets {apdu.requests[0].target.obis}, but the script is for switch {index} (SRV {service})",
        )
    duration = _long_unsigned(frame, apdu.data[0], "duration")
    return {**fields, "service": service, "duration_minutes": duration}


def _period_decode(frame: Frame, apdu: AccessRequestApdu) -> dict:
    service = "7.13" if frame.header.message_code == MessageCode.ECS47A else "7.16"
    if len(apdu.requests) != 3:
        raise _fail(frame, "requests", f"{len(apdu.requests)} requests, expected 3 for SRV {service}")
    script = _script_of(frame, apdu, _script_table(service))
    io, index, level = script >> 12, (script >> 8) & 0x0F, script & 0xFF
    if io not in (_OUTPUT, _INPUT) or index not in SWITCH_INDEXES or level > 100:
        raise _fail(frame, "script selector", f"{script:#06x} is not (output|input, switch 1..5, level 0..100)")
    for position, field_number in enumerate(_PERIOD_OBJECTS[service]):
        if _switch_of(frame, apdu.requests[position], position) != (index, field_number):
            raise _fail(
                frame,
                f"request {position}",
                f"sets {apdu.requests[position].target.obis}, expected switch {index} object {field_number} (SRV {service})",
            )
    return {
        "service": service,
        "switch_index": index,
        "duration_minutes": None,
        "level": level,
        "start": _date_time(frame, apdu.data[0], "start"),
        "end": _date_time(frame, apdu.data[1], "end"),
        "input_from_controlled_load": io == _INPUT,
    }


def _command_apdu(request: Ecs47Request) -> AccessRequestApdu:
    index = request.switch_index
    script = AccessRequest(AccessKind.ACTION, _script_table(request.service))
    if request.service == "7.8":
        return AccessRequestApdu(
            invoke_id_for(request.counter), (script,), (long_unsigned(index << 8 | _RESET_SCRIPT),)
        )
    if request.service in _DURATION_OBJECT:
        duration = AccessRequest(AccessKind.SET, switch_object(index, _DURATION_OBJECT[request.service]))
        selector = index << 8 | _DURATION_SCRIPT[request.service]
        data = (long_unsigned(request.duration_minutes), long_unsigned(selector))
        return AccessRequestApdu(invoke_id_for(request.counter), (duration, script), data)
    start_object, end_object = _PERIOD_OBJECTS[request.service]
    io = _INPUT if request.input_from_controlled_load else _OUTPUT
    requests = (
        AccessRequest(AccessKind.SET, switch_object(index, start_object)),
        AccessRequest(AccessKind.SET, switch_object(index, end_object)),
        script,
    )
    data = (
        octet_string(datetime_encode(request.start)),
        octet_string(datetime_encode(request.end)),
        long_unsigned(io << 12 | index << 8 | request.level),
    )
    return AccessRequestApdu(invoke_id_for(request.counter), requests, data)


def pre_command_build(request: Ecs47Request) -> bytes:
    """The unsigned command the DCC returns for CV 4 (what the simulator's transform makes)."""
    header = GroupingHeader(
        cra=Cra.COMMAND,
        counter=request.counter,
        originator=request.originator,
        recipient=request.device,
        date_time=None,
        message_code=request.message_code,
    )
    return general_signing_encode(header, access_request_encode(_command_apdu(request)))


_RESPONSE_KINDS = {
    "7.5": (AccessKind.SET, AccessKind.ACTION),
    "7.6": (AccessKind.SET, AccessKind.ACTION),
    "7.8": (AccessKind.ACTION,),
    "7.13": (AccessKind.SET, AccessKind.SET, AccessKind.ACTION),
    "7.16": (AccessKind.SET, AccessKind.SET, AccessKind.ACTION),
}
_LABELS = {
    (AccessKind.SET, AccessKind.ACTION): ("switch duration", "switch action"),
    (AccessKind.ACTION,): ("switch reset",),
    (AccessKind.SET, AccessKind.SET, AccessKind.ACTION): ("period start", "period end", "switch level"),
}


def response_decode(frame: Frame) -> Ecs47Response:
    apdu = access_response_decode(frame.payload_reader())
    kinds = tuple(result.kind for result in apdu.results)
    allowed = (
        [_RESPONSE_KINDS["7.6"], _RESPONSE_KINDS["7.8"]]
        if frame.header.message_code == MessageCode.ECS47
        else [_RESPONSE_KINDS["7.13"]]
    )
    if kinds not in allowed:
        results_check(frame, apdu.results, allowed[0], frame.header.use_case)
    if any(item != NULL for item in apdu.data) or len(apdu.data) != len(apdu.results):
        raise _fail(frame, "response data", "expected one null per request")
    return Ecs47Response(
        frame=frame, outcome=outcome_from(apdu.results, _LABELS[kinds]), results=apdu.results, apdu=apdu
    )


def response_build(
    *,
    service: str,
    originator: str,
    device: str,
    counter: int,
    device_ds_private_key: ec.EllipticCurvePrivateKey,
    results: Sequence[int] | None = None,
) -> bytes:
    """The ESME's signed response to an ECS47-family command; ``results`` are the DLMS result codes per request."""
    kinds = _RESPONSE_KINDS[service]
    header = GroupingHeader(
        cra=Cra.RESPONSE,
        counter=counter,
        originator=eui64_text(eui64_raw(device)),
        recipient=eui64_text(eui64_raw(originator)),
        date_time=None,
        message_code=MESSAGE_CODES[service],
    )
    apdu = AccessResponseApdu(invoke_id_for(counter), (NULL,) * len(kinds), results_build(kinds, results))
    return signed_message(header, access_response_encode(apdu), device_ds_private_key)
