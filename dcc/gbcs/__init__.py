"""A Django-free GBCS codec for what dnoctl exchanges through the DCC; README.md says what was checked against what."""

from .alerts import DeviceAlert, FirmwareTransferAlert, boost_alert_build, firmware_transfer_alert_build
from .authentication import authenticate_alert, authenticate_response, verify_mac, verify_signed
from .checks import check_pre_command, sign_pre_command, signed_command_wrap
from .codes import AlertCode, Cra, FirmwareTransferResult, MessageCode, UserInterfaceCommand
from .crypto import certificate_entity_id
from .dlms import AccessKind, AccessResult, Data, DataTag
from .ecs47 import Ecs47Command, Ecs47Request, Ecs47Response, pre_command_build
from .ecs47 import response_build as ecs47_response_build
from .ecs61_62 import (
    BoostPeriod,
    Ecs61aCommand,
    Ecs61aResponse,
    Ecs61cCommand,
    Ecs61cResponse,
    Ecs62Command,
    Ecs62Response,
    ecs61a_command_build,
    ecs61a_response_build,
    ecs61c_command_build,
    ecs61c_response_build,
    ecs62_command_build,
    ecs62_response_build,
)
from .errors import (
    GbcsAuthenticationError,
    GbcsError,
    GbcsFormatError,
    GbcsUnsupportedError,
    PreCommandMismatch,
)
from .frames import GroupingHeader, eui64_raw, eui64_text
from .messages import Failure, GbcsMessage, Outcome
from .parsing import Alert, Command, DeviceResponse, parse, parse_alert, parse_pre_command, parse_response

__all__ = [
    "AccessKind",
    "AccessResult",
    "Alert",
    "AlertCode",
    "BoostPeriod",
    "Command",
    "Cra",
    "Data",
    "DataTag",
    "DeviceAlert",
    "DeviceResponse",
    "Ecs47Command",
    "Ecs47Request",
    "Ecs47Response",
    "Ecs61aCommand",
    "Ecs61aResponse",
    "Ecs61cCommand",
    "Ecs61cResponse",
    "Ecs62Command",
    "Ecs62Response",
    "Failure",
    "FirmwareTransferAlert",
    "FirmwareTransferResult",
    "GbcsAuthenticationError",
    "GbcsError",
    "GbcsFormatError",
    "GbcsMessage",
    "GbcsUnsupportedError",
    "GroupingHeader",
    "MessageCode",
    "Outcome",
    "PreCommandMismatch",
    "UserInterfaceCommand",
    "authenticate_alert",
    "authenticate_response",
    "boost_alert_build",
    "certificate_entity_id",
    "check_pre_command",
    "ecs47_response_build",
    "ecs61a_command_build",
    "ecs61a_response_build",
    "ecs61c_command_build",
    "ecs61c_response_build",
    "ecs62_command_build",
    "ecs62_response_build",
    "eui64_raw",
    "eui64_text",
    "firmware_transfer_alert_build",
    "parse",
    "parse_alert",
    "parse_pre_command",
    "parse_response",
    "pre_command_build",
    "sign_pre_command",
    "signed_command_wrap",
    "verify_mac",
    "verify_signed",
]
