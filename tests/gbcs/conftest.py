"""Fixtures for the GBCS codec tests: fresh keys for every party (always available) and the
DCC's RTDS 4.5.0 vectors and test keystore from ``../shared/reference/gbcs`` (read in
place, never copied; tests that need them skip where ``../shared`` is absent)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

GBCS_REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "gbcs"


class Reference:
    """The RTDS vectors (hex files) and the keystore (PEM certificates and keys)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def vector(self, name: str) -> bytes:
        matches = list((self.root / "rtds").glob(f"*/{name}_GBCS.HEX"))
        assert len(matches) == 1, f"RTDS vector {name} not found once under {self.root / 'rtds'}"
        return bytes.fromhex(matches[0].read_text().strip())

    def vector_names(self) -> set[str]:
        return {path.name.removesuffix("_GBCS.HEX") for path in (self.root / "rtds").glob("*/*_GBCS.HEX")}

    def certificate(self, eui: str, usage: str) -> x509.Certificate:
        path = self.root / "keystore" / f"{eui.replace('-', '').lower()}-{usage.lower()}.pem"
        return x509.load_pem_x509_certificate(path.read_bytes())

    def private_key(self, eui: str, usage: str) -> ec.EllipticCurvePrivateKey:
        path = self.root / "keystore" / f"{eui.replace('-', '').lower()}-{usage.lower()}.key"
        return serialization.load_pem_private_key(path.read_bytes(), password=None)


@pytest.fixture(scope="session")
def reference() -> Reference:
    if not (GBCS_REFERENCE / "rtds").is_dir():
        pytest.skip("needs ../shared/reference/gbcs (the DCC's RTDS vectors), absent on this machine")
    return Reference(GBCS_REFERENCE)


@dataclass(frozen=True)
class Party:
    """An organisation or device with freshly generated GBCS DS and KA key pairs."""

    eui: str
    ds: ec.EllipticCurvePrivateKey
    ka: ec.EllipticCurvePrivateKey


def _party(eui: str) -> Party:
    return Party(eui, ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="session")
def user() -> Party:
    return _party("90-B3-D5-1F-30-02-00-00")  # a network operator


@pytest.fixture(scope="session")
def esme() -> Party:
    return _party("00-DB-12-34-56-78-90-A0")


@pytest.fixture(scope="session")
def acb() -> Party:
    return _party("90-B3-D5-1F-30-00-00-02")  # the DCC as access control broker
