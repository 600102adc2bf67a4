"""The DCC users a simulator serves."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from dcc.duis.identifiers import parse_eui64

from .rules import ELECTRICITY_DISTRIBUTOR


@dataclass(frozen=True)
class SimulatedUser:
    """A DCC user: its EUI-64 (the originator in its RequestIDs), its DUIS role, the
    XML-signing certificates it signs requests with, the GBCS digital-signing certificate its
    pre-commands are signed with (a different key, as at the DCC) and the GBCS key-agreement
    certificate devices MAC their answers to it with."""

    eui64: str
    xml_certs: tuple[x509.Certificate, ...]
    gbcs_cert: x509.Certificate
    gbcs_ka_cert: x509.Certificate
    role: str = ELECTRICITY_DISTRIBUTOR

    def __post_init__(self) -> None:
        object.__setattr__(self, "eui64", parse_eui64(self.eui64, argument="eui64"))
        object.__setattr__(self, "xml_certs", tuple(self.xml_certs))
