"""Device alerts: the ESME's DLMS alerts (among them the boost-button press) and the CCS08 firmware
transfer alert.

A boost press raises 0x8161 (0x8162 when not actioned) with the command (0x0001 Activate, 0x000A
Cancel, 0x000F Extend) as the third element of the alert structure. No RTDS vector has this alert:
the layout is inferred, see the README. Non-critical alerts (0x81xx) come MAC'd, critical ones
(0x8Fxx) signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import ec

from . import crypto
from .codes import (
    AlertCode,
    Cra,
    FirmwareTransferResult,
    MessageCode,
    UserInterfaceCommand,
    alert_name,
)
from .dlms import (
    Data,
    DataNotification,
    DataTag,
    data_notification_decode,
    data_notification_encode,
    invoke_id_for,
    long_unsigned,
    octet_string,
    structure,
)
from .errors import GbcsFormatError
from .frames import DATE_TIME_LENGTH, Frame, GroupingHeader, datetime_decode, datetime_encode, eui64_raw, eui64_text
from .messages import GbcsMessage
from .protect import maced_message, signed_message
from .reader import Reader, encode_length

_UI_ALERTS = (AlertCode.USER_INTERFACE_COMMAND_ACTIONED, AlertCode.USER_INTERFACE_COMMAND_NOT_ACTIONED)


@dataclass(frozen=True)
class DeviceAlert(GbcsMessage):
    """An ESME alert (DLMS). ``boost_action`` is set for a boost-button interaction."""

    alert_code: int
    alert_name: str
    timestamp: datetime
    user_interface_command: int | None
    details: tuple[Data, ...]  # use-case content after the timestamp, as it came
    notification: DataNotification

    @property
    def boost_action(self) -> UserInterfaceCommand | None:
        if self.user_interface_command in UserInterfaceCommand._value2member_map_:
            return UserInterfaceCommand(self.user_interface_command)
        return None

    @property
    def boost_pressed(self) -> bool:
        """The customer started or extended a boost period and the ESME did it."""
        return self.alert_code == AlertCode.USER_INTERFACE_COMMAND_ACTIONED and self.boost_action in (
            UserInterfaceCommand.ACTIVATE_BOOST_PERIOD,
            UserInterfaceCommand.EXTEND_BOOST_PERIOD,
        )


@dataclass(frozen=True)
class FirmwareTransferAlert(GbcsMessage):
    """CCS08: the outcome of distributing firmware to a HAN device (HCALCS, PPMID)."""

    alert_code: int
    alert_name: str
    executed_at: datetime
    device: str  # the HAN device the firmware was for
    firmware_version: bytes
    result: int
    result_name: str

    @property
    def success(self) -> bool:
        return self.result == FirmwareTransferResult.SUCCESS


def _fail(frame: Frame, field: str, problem: str) -> GbcsFormatError:
    return GbcsFormatError(f"alert {field}", frame.payload_start, problem)


def _user_interface_command(details: tuple[Data, ...]) -> int | None:
    if not details:
        return None
    first = details[0]
    if first.tag is DataTag.OCTET_STRING and len(first.value) == 2:
        return int.from_bytes(first.value, "big")
    if first.tag in (DataTag.LONG_UNSIGNED, DataTag.UNSIGNED, DataTag.ENUM):
        return first.value
    return None


def dlms_alert_decode(frame: Frame) -> DeviceAlert:
    notification = data_notification_decode(frame.payload_reader())
    body = notification.body
    if body.tag is not DataTag.STRUCTURE or len(body.items) < 2:
        raise _fail(frame, "body", "is not a structure of alert code, timestamp, ...")
    code, stamp, *details = body.items
    if code.tag is not DataTag.LONG_UNSIGNED:
        raise _fail(frame, "code", f"is {code.tag.name.lower()}, expected long-unsigned")
    if stamp.tag is not DataTag.OCTET_STRING or len(stamp.value) != DATE_TIME_LENGTH:
        raise _fail(frame, "timestamp", "is not a 12-byte date-time")
    alert_code: int = code.value
    return DeviceAlert(
        frame=frame,
        alert_code=alert_code,
        alert_name=alert_name(alert_code),
        timestamp=datetime_decode(stamp.value, "alert timestamp", frame.payload_start),
        user_interface_command=_user_interface_command(tuple(details)) if alert_code in _UI_ALERTS else None,
        details=tuple(details),
        notification=notification,
    )


def boost_alert_build(
    *,
    device: str,
    recipient: str,
    counter: int,
    timestamp: datetime,
    command: UserInterfaceCommand = UserInterfaceCommand.ACTIVATE_BOOST_PERIOD,
    actioned: bool = True,
    device_ka_private_key: ec.EllipticCurvePrivateKey,
    recipient_ka_public_key: crypto.PublicKeyLike,
) -> bytes:
    """The ESME's alert for a boost-button interaction (0x8161 / 0x8162), MAC'd for ``recipient``."""
    code = AlertCode.USER_INTERFACE_COMMAND_ACTIONED if actioned else AlertCode.USER_INTERFACE_COMMAND_NOT_ACTIONED
    body = structure(
        long_unsigned(code), octet_string(datetime_encode(timestamp)), octet_string(command.to_bytes(2, "big"))
    )
    header = GroupingHeader(
        cra=Cra.ALERT,
        counter=counter,
        originator=eui64_text(eui64_raw(device)),
        recipient=eui64_text(eui64_raw(recipient)),
        date_time=None,
        message_code=MessageCode.GENERIC_NON_CRITICAL_ALERT,
    )
    payload = data_notification_encode(DataNotification(invoke_id_for(counter), body))
    return maced_message(header, payload, private_key=device_ka_private_key, peer_public_key=recipient_ka_public_key)


# -- CCS08 (ASN.1 DER) ---------------------------------------------------------------------

_SEQUENCE, _INTEGER, _OCTET_STRING, _GENERALIZED_TIME = 0x30, 0x02, 0x04, 0x18
_TIME_FORMAT = "%Y%m%d%H%M%SZ"


def _der(reader: Reader, tag: int, field: str) -> bytes:
    reader.expect(bytes([tag]), f"{field} tag")
    return reader.take(reader.length(f"{field} length"), field)


def _der_integer(reader: Reader, field: str) -> int:
    at = reader.offset
    raw = _der(reader, _INTEGER, field)
    if not raw:
        raise reader.fail(field, "empty INTEGER", at)
    return int.from_bytes(raw, "big", signed=True)


def firmware_transfer_alert_decode(frame: Frame) -> FirmwareTransferAlert:
    outer = frame.payload_reader()
    outer.expect(bytes([_SEQUENCE]), "alert tag")
    reader = outer.sub(outer.length("alert length"), "alert")
    outer.done("CCS08 alert")
    alert_code = _der_integer(reader, "alert code")
    at = reader.offset
    text = _der(reader, _GENERALIZED_TIME, "execution date-time")
    try:
        executed_at = datetime.strptime(text.decode("ascii"), _TIME_FORMAT).replace(tzinfo=UTC)
    except (UnicodeDecodeError, ValueError):
        raise reader.fail("execution date-time", f"{text!r} is not YYYYMMDDhhmmssZ", at) from None
    at = reader.offset
    entity = _der(reader, _OCTET_STRING, "entity id")
    if len(entity) != 8:
        raise reader.fail("entity id", f"is {len(entity)} bytes, expected an 8-byte EUI-64", at)
    version = _der(reader, _OCTET_STRING, "firmware version")
    result = _der_integer(reader, "response code")
    reader.done("CCS08 alert")
    try:
        result_name = FirmwareTransferResult(result).name.replace("_", " ").lower()
    except ValueError:
        result_name = f"response code {result}"
    return FirmwareTransferAlert(
        frame=frame,
        alert_code=alert_code,
        alert_name=alert_name(alert_code),
        executed_at=executed_at,
        device=eui64_text(entity),
        firmware_version=version,
        result=result,
        result_name=result_name,
    )


def _der_encode(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(value)) + value


def _der_integer_encode(value: int) -> bytes:
    return _der_encode(_INTEGER, value.to_bytes((value.bit_length() + 8) // 8, "big", signed=True))


def firmware_transfer_alert_build(
    *,
    originator: str,
    recipient: str,
    counter: int,
    executed_at: datetime,
    device: str,
    firmware_version: bytes,
    result: FirmwareTransferResult,
    originator_ds_private_key: ec.EllipticCurvePrivateKey,
) -> bytes:
    """A signed CCS08 alert (0x8F8A on success, 0x8F89 otherwise)."""
    code = (
        AlertCode.FIRMWARE_TRANSFER_SUCCEEDED
        if result == FirmwareTransferResult.SUCCESS
        else AlertCode.FIRMWARE_TRANSFER_FAILED
    )
    content = (
        _der_integer_encode(code)
        + _der_encode(_GENERALIZED_TIME, executed_at.astimezone(UTC).strftime(_TIME_FORMAT).encode("ascii"))
        + _der_encode(_OCTET_STRING, eui64_raw(device))
        + _der_encode(_OCTET_STRING, firmware_version)
        + _der_integer_encode(result)
    )
    header = GroupingHeader(
        cra=Cra.ALERT,
        counter=counter,
        originator=eui64_text(eui64_raw(originator)),
        recipient=eui64_text(eui64_raw(recipient)),
        date_time=None,
        message_code=MessageCode.CCS08,
    )
    return signed_message(header, _der_encode(_SEQUENCE, content), originator_ds_private_key)
