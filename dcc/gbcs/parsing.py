"""Parse any GBCS message dnoctl handles into its typed dataclass, by CRA flag and use case."""

from __future__ import annotations

from collections.abc import Callable

from . import alerts, ecs47, ecs61_62
from .codes import Cra, MessageCode
from .dlms import DATA_NOTIFICATION
from .errors import GbcsError, GbcsUnsupportedError
from .frames import Frame, frame_parse

Command = ecs47.Ecs47Command | ecs61_62.Ecs61aCommand | ecs61_62.Ecs61cCommand | ecs61_62.Ecs62Command
DeviceResponse = ecs47.Ecs47Response | ecs61_62.Ecs61aResponse | ecs61_62.Ecs61cResponse | ecs61_62.Ecs62Response
Alert = alerts.DeviceAlert | alerts.FirmwareTransferAlert

_COMMANDS: dict[int, Callable[[Frame], Command]] = {
    MessageCode.ECS47: ecs47.command_decode,
    MessageCode.ECS47A: ecs47.command_decode,
    MessageCode.ECS47E: ecs47.command_decode,
    MessageCode.ECS61A: ecs61_62.ecs61a_command_decode,
    MessageCode.ECS61C: ecs61_62.ecs61c_command_decode,
    MessageCode.ECS62: ecs61_62.ecs62_command_decode,
}
_RESPONSES: dict[int, Callable[[Frame], DeviceResponse]] = {
    MessageCode.ECS47: ecs47.response_decode,
    MessageCode.ECS47A: ecs47.response_decode,
    MessageCode.ECS47E: ecs47.response_decode,
    MessageCode.ECS61A: ecs61_62.ecs61a_response_decode,
    MessageCode.ECS61C: ecs61_62.ecs61c_response_decode,
    MessageCode.ECS62: ecs61_62.ecs62_response_decode,
}


def parse(message: bytes) -> Command | DeviceResponse | Alert:
    """Any command, response or alert of the use cases here; raises :class:`GbcsError`."""
    frame = frame_parse(message)
    if frame.header.cra is Cra.ALERT:
        return _alert_decode(frame)
    table: dict = _COMMANDS if frame.header.cra is Cra.COMMAND else _RESPONSES
    decode = table.get(frame.header.message_code)
    if decode is None:
        raise GbcsUnsupportedError(f"{frame.header.cra.name.lower()} for {frame.header.use_case} is not handled")
    return decode(frame)


def _alert_decode(frame: Frame) -> Alert:
    if frame.header.message_code == MessageCode.CCS08:
        return alerts.firmware_transfer_alert_decode(frame)
    if frame.payload[:1] == bytes([DATA_NOTIFICATION]):
        return alerts.dlms_alert_decode(frame)
    raise GbcsUnsupportedError(f"alert for {frame.header.use_case} is not a DLMS alert or CCS08: not handled")


def _of_kind(message: bytes, cra: Cra) -> Command | DeviceResponse | Alert:
    parsed = parse(message)
    if parsed.cra is not cra:
        raise GbcsError(f"expected a {cra.name.lower()}, got a {parsed.cra.name.lower()} ({parsed.use_case})")
    return parsed


def parse_pre_command(message: bytes) -> ecs47.Ecs47Command:
    """An ECS47-family command as the DCC returns it for CV 4 (General Signing, unsigned)."""
    parsed = _of_kind(message, Cra.COMMAND)
    if not isinstance(parsed, ecs47.Ecs47Command):
        raise GbcsError(f"{parsed.use_case} is not a critical auxiliary-load command (ECS47, ECS47a, ECS47e)")
    if parsed.frame.mac is not None:
        raise GbcsError("a pre-command is a General Signing message; this one is General Ciphering")
    if parsed.frame.signature is not None:
        raise GbcsError("this command is already signed")
    return parsed


def parse_response(message: bytes) -> DeviceResponse:
    return _of_kind(message, Cra.RESPONSE)


def parse_alert(message: bytes) -> Alert:
    return _of_kind(message, Cra.ALERT)
