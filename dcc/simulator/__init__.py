"""A Django-free DCC simulator for development, the embedded demo and tests."""

from dcc.duis.alert_codes import BOOST_ALERT_CODE

from .devices import WAN_OK, WAN_POOR, SimulatedDevice
from .faults import FaultConfig
from .local import HttpLocalDelivery
from .rules import check_eligibility
from .server import REPLAY_RESPONSE_CODE, DccSimulator
from .users import SimulatedUser

__all__ = [
    "BOOST_ALERT_CODE",
    "REPLAY_RESPONSE_CODE",
    "WAN_OK",
    "WAN_POOR",
    "DccSimulator",
    "FaultConfig",
    "HttpLocalDelivery",
    "SimulatedDevice",
    "SimulatedUser",
    "check_eligibility",
]
