"""The GBCS and DLMS numbers dnoctl meets, with readable names; others print as numbers."""

from __future__ import annotations

from enum import IntEnum


class Cra(IntEnum):
    """The CRA flag: what kind of message this is."""

    COMMAND = 1
    RESPONSE = 2
    ALERT = 3


class MessageCode(IntEnum):
    """GBCS use cases (grouping header message code) for the services dnoctl uses."""

    ECS47 = 0x0055  # SRV 7.5 activate, 7.6 deactivate, 7.8 reset an HCALCS/ALCS
    ECS47A = 0x011E  # SRV 7.13 set auxiliary controller state (level 0-100)
    ECS47E = 0x011F  # SRV 7.16 limit APC level
    ECS61A = 0x00BB  # SRV 7.7 read HCALCS/ALCS data
    ECS61C = 0x005E  # SRV 7.11 read boost button data
    ECS62 = 0x005F  # SRV 7.9 / 7.10 add / remove loads to / from the boost button
    CCS08 = 0x0128  # firmware transfer alert (HCALCS / PPMID firmware)
    GENERIC_CRITICAL_ALERT = 0x1000
    GENERIC_NON_CRITICAL_ALERT = 0x1001

    @property
    def use_case(self) -> str:
        return _USE_CASE_NAMES[self]


_USE_CASE_NAMES = {
    MessageCode.ECS47: "ECS47",
    MessageCode.ECS47A: "ECS47a",
    MessageCode.ECS47E: "ECS47e",
    MessageCode.ECS61A: "ECS61a",
    MessageCode.ECS61C: "ECS61c",
    MessageCode.ECS62: "ECS62",
    MessageCode.CCS08: "CCS08",
    MessageCode.GENERIC_CRITICAL_ALERT: "Generic Critical Alert",
    MessageCode.GENERIC_NON_CRITICAL_ALERT: "Generic Non Critical Alert",
}


def use_case_name(message_code: int) -> str:
    try:
        return MessageCode(message_code).use_case
    except ValueError:
        return f"message code 0x{message_code:04X}"


# DLMS Data-Access-Result (get, set) and Action-Result (action), Green Book names.
DATA_ACCESS_RESULTS = {
    0: "success",
    1: "hardware-fault",
    2: "temporary-failure",
    3: "read-write-denied",
    4: "object-undefined",
    9: "object-class-inconsistent",
    11: "object-unavailable",
    12: "type-unmatched",
    13: "scope-of-access-violated",
    14: "data-block-unavailable",
    15: "long-get-aborted",
    16: "no-long-get-in-progress",
    17: "long-set-aborted",
    18: "no-long-set-in-progress",
    19: "data-block-number-invalid",
    250: "other-reason",
}
ACTION_RESULTS = {
    0: "success",
    1: "hardware-fault",
    2: "temporary-failure",
    3: "read-write-denied",
    4: "object-undefined",
    9: "object-class-inconsistent",
    11: "object-unavailable",
    12: "type-unmatched",
    13: "scope-of-access-violated",
    14: "data-block-unavailable",
    15: "long-action-aborted",
    16: "no-long-action-in-progress",
    250: "other-reason",
}


class AlertCode(IntEnum):
    """The GBCS alert codes dnoctl reads (others keep their number)."""

    USER_INTERFACE_COMMAND_ACTIONED = 0x8161  # a boost-button press on the ESME raises this
    USER_INTERFACE_COMMAND_NOT_ACTIONED = 0x8162
    LIMIT_APC_LEVEL_COMMAND_PROCESSED = 0x8F86
    LIMIT_APC_LEVEL_ENDED = 0x8F87
    AUXILIARY_CONTROLLER_OPERATIONAL_UPDATE = 0x8F88
    FIRMWARE_TRANSFER_FAILED = 0x8F89
    FIRMWARE_TRANSFER_SUCCEEDED = 0x8F8A
    READ_FIRMWARE_VERSION = 0x8F8B


ALERT_NAMES = {
    AlertCode.USER_INTERFACE_COMMAND_ACTIONED: "User Interface Command Input and Successfully Actioned",
    AlertCode.USER_INTERFACE_COMMAND_NOT_ACTIONED: "User Interface Command Input but not Successfully Actioned",
    AlertCode.LIMIT_APC_LEVEL_COMMAND_PROCESSED: "Limit APC Level Command Processed",
    AlertCode.LIMIT_APC_LEVEL_ENDED: "Limit APC Level Ended",
    AlertCode.AUXILIARY_CONTROLLER_OPERATIONAL_UPDATE: "Auxiliary Controller Operational Update",
    AlertCode.FIRMWARE_TRANSFER_FAILED: "Firmware transfer alert FAIL",
    AlertCode.FIRMWARE_TRANSFER_SUCCEEDED: "Firmware transfer alert SUCCESS",
    AlertCode.READ_FIRMWARE_VERSION: "Read Firmware version alert",
}


def alert_name(alert_code: int) -> str:
    return ALERT_NAMES.get(alert_code, f"alert 0x{alert_code:04X}")


class UserInterfaceCommand(IntEnum):
    """What the consumer did at the meter (carried by alerts 0x8161 / 0x8162)."""

    ACTIVATE_BOOST_PERIOD = 0x0001
    CANCEL_BOOST_PERIOD = 0x000A
    EXTEND_BOOST_PERIOD = 0x000F


class FirmwareTransferResult(IntEnum):
    """CCS08 response code."""

    SUCCESS = 0
    IMAGE_DISCARDED = 1
    HARDWARE_VERSION_MISMATCH = 2
    FILE_TRANSFER_FAILURE = 3
