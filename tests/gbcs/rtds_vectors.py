"""What each RTDS 4.5.0 vector for SRV 7.5-7.16 says, as the DUIS requests it was made from
say it (DCC duis-templates, RTDS 4.5.0) and its file name: the expectations the RTDS tests
check the codec against. Only names and expected values here, none of the vectors' bytes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dcc.gbcs import Ecs47Request

SUPPLIER = "90-B3-D5-1F-30-01-00-00"  # the originator of most vectors (import supplier)
SUPPLIER_7_16 = "90-B3-D5-1F-30-01-00-08"  # the 7.16 vectors' originator
DCC = "90-B3-D5-1F-30-00-00-02"  # access control broker: MACs the commands it sends
ESME = "00-DB-12-34-56-78-90-A0"
START = datetime(2015, 1, 3, tzinfo=UTC)
END = START + timedelta(hours=1)


@dataclass(frozen=True)
class CriticalVector:
    """A 7.5 / 7.6 / 7.8 / 7.13 / 7.16 vector set: PRECOMMAND, COMMAND, RESPONSE."""

    name: str
    request: Ecs47Request
    success: bool


def _ecs47(name: str, service: str, counter: int, index: int, **fields: object) -> CriticalVector:
    originator = SUPPLIER_7_16 if service == "7.16" else SUPPLIER
    request = Ecs47Request(
        service=service, originator=originator, device=ESME, counter=counter, switch_index=index, **fields
    )
    return CriticalVector(name, request, success="_SUCCESS" in name)


_PERIOD = {"start": START, "end": END}
CRITICAL = [
    _ecs47("ECS47Activate_7.5_SUCCESS", "7.5", 1000, 1, duration_minutes=30),
    _ecs47("ECS47Activate_7.5_ERROR", "7.5", 1003, 1, duration_minutes=30),
    _ecs47("ECS47Deactivate_7.6_SUCCESS", "7.6", 1001, 3, duration_minutes=60),
    _ecs47("ECS47Deactivate_7.6_ERROR", "7.6", 1004, 3, duration_minutes=60),
    _ecs47("ECS47Reset_7.8_SUCCESS", "7.8", 1002, 5),
    _ecs47("ECS47Reset_7.8_ERROR", "7.8", 1005, 5),
    _ecs47("ECS47a_7.13_ALCS_ACTIVATE_SUCCESS", "7.13", 1004, 5, level=100, **_PERIOD),
    _ecs47("ECS47a_7.13_ALCS_DEACTIVATE_SUCCESS", "7.13", 1003, 1, level=0, **_PERIOD),
    _ecs47("ECS47a_7.13_ALCS_DEACTIVATE_ERROR", "7.13", 1008, 1, level=0, **_PERIOD),
    _ecs47("ECS47a_7.13_APC_INPUT_SUCCESS", "7.13", 1001, 3, level=50, input_from_controlled_load=True, **_PERIOD),
    _ecs47("ECS47a_7.13_APC_INPUT_ERROR", "7.13", 1006, 3, level=50, input_from_controlled_load=True, **_PERIOD),
    _ecs47("ECS47a_7.13_APC_OUTPUT_SUCCESS", "7.13", 1002, 5, level=100, **_PERIOD),
    _ecs47("ECS47e_7.16_APC_INPUT_SUCCESS", "7.16", 9001, 3, level=50, input_from_controlled_load=True, **_PERIOD),
    _ecs47("ECS47e_7.16_APC_INPUT_ERROR", "7.16", 9004, 3, level=50, input_from_controlled_load=True, **_PERIOD),
    _ecs47("ECS47e_7.16_APC_OUTPUT_SUCCESS", "7.16", 9002, 5, level=100, **_PERIOD),
]


@dataclass(frozen=True)
class NonCriticalVector:
    """A 7.7 / 7.9 / 7.10 / 7.11 vector pair: COMMAND (from the DCC) and RESPONSE."""

    name: str
    service: str
    counter: int
    success: bool


NON_CRITICAL = [
    NonCriticalVector("ECS61a_7.7_ALL_OPTIONALS_SUCCESS", "7.7", 1002, True),
    NonCriticalVector("ECS61a_7.7_ALL_OPTIONALS_ERROR", "7.7", 1003, False),
    NonCriticalVector("ECS62Add_7.9_SUCCESS", "7.9", 1000, True),
    NonCriticalVector("ECS62Add_7.9_ERROR", "7.9", 1003, False),
    NonCriticalVector("ECS62Remove_7.10_SUCCESS", "7.10", 1002, True),
    NonCriticalVector("ECS62Remove_7.10_ERROR", "7.10", 1004, False),
    NonCriticalVector("ECS61c_7.11_SUCCESS", "7.11", 1001, True),
    NonCriticalVector("ECS61c_7.11_ERROR", "7.11", 1002, False),
]
# The 7.11 vectors read the boost log for the DUIS ReadLogPeriod of their request.
BOOST_LOG_START = datetime(2014, 12, 25, 23, tzinfo=UTC)
BOOST_LOG_END = datetime(2015, 1, 1, tzinfo=UTC)

CCS08_ALERT = "CCS08_NA_NA_ALERT"
CCS08_ORIGINATOR = "00-DB-12-34-56-78-90-A2"

ALL_NAMES = (
    {f"{v.name}_{part}" for v in CRITICAL for part in ("PRECOMMAND", "COMMAND", "RESPONSE")}
    | {f"{v.name}_{part}" for v in NON_CRITICAL for part in ("COMMAND", "RESPONSE")}
    | {CCS08_ALERT}
)
