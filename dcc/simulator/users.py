"""The DCC users a simulator serves."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from dcc.duis.identifiers import parse_eui64

from .rules import ELECTRICITY_DISTRIBUTOR


@dataclass(frozen=True)
class SimulatedUser:
    """A DCC user: EUI-64, DUIS role, and its XML-signing, GBCS signing and key-agreement certificates
    (separate keys, as at the DCC)."""

    eui64: str
    xml_certs: tuple[x509.Certificate, ...]
    gbcs_cert: x509.Certificate
    gbcs_ka_cert: x509.Certificate
    role: str = ELECTRICITY_DISTRIBUTOR

    def __post_init__(self) -> None:
        object.__setattr__(self, "eui64", parse_eui64(self.eui64, argument="eui64"))
        object.__setattr__(self, "xml_certs", tuple(self.xml_certs))
