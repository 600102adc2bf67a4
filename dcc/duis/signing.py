"""Enveloped XML signatures as DUIS wants them, plus the GBCS pre-command signature.

XML: ECDSA P-256 / SHA-256, exclusive c14n, ``Reference URI=""`` with only the
enveloped-signature transform, signer named by ``X509IssuerSerial`` (no certificate in
the document). Because KeyInfo names the signer only by issuer and serial, the verifier
is given the expected peer certificate explicitly and also checks that the document
names that certificate.

Pre-commands (CV 4 -> 5/6/7) carry a GBCS-level signature: the user signs the pre-command
bytes with its digital-signing key and appends the signature (length byte 0x40 then the
64-byte r||s), as GBCS does for commands.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)
from signxml.exceptions import InvalidInput, SignXMLException

from .errors import DccDocumentError, DccSignatureError
from .xmlsafe import parse_xml

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_DS = f"{{{DS_NS}}}"

_EXPECTED = SignatureConfiguration(
    require_x509=True,
    signature_methods=frozenset({SignatureMethod.ECDSA_SHA256}),
    digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
    expect_references=1,
    # DUIS References list only the enveloped-signature transform; the DCC canonicalises
    # the referenced document with exclusive c14n too (signxml's default would be inclusive).
    default_reference_c14n_method=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
)


def load_private_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    """Load a PEM P-256 private key (unencrypted)."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise DccSignatureError("DUIS signing keys must be ECDSA P-256")
    return key


def load_certificate(pem: bytes) -> x509.Certificate:
    """Load a PEM certificate."""
    return x509.load_pem_x509_certificate(pem)


def generate_identity(common_name: str, org_unit: str = "07", *, valid_days: int = 3650) -> tuple[bytes, bytes]:
    """A development P-256 key and self-signed certificate, as ``(key_pem, cert_pem)``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, org_unit),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def _issuer_serial(cert: x509.Certificate) -> tuple[str, str]:
    return cert.issuer.rfc4514_string(), str(cert.serial_number)


@dataclass(frozen=True)
class DuisSigner:
    """Signs DUIS documents (and GBCS pre-commands) with one key and certificate."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def from_pem(cls, key_pem: bytes, cert_pem: bytes) -> DuisSigner:
        return cls(key=load_private_key(key_pem), cert=load_certificate(cert_pem))

    @classmethod
    def from_files(cls, key_path: str | Path, cert_path: str | Path) -> DuisSigner:
        return cls.from_pem(Path(key_path).read_bytes(), Path(cert_path).read_bytes())

    def _key_info(self) -> etree._Element:
        issuer, serial = _issuer_serial(self.cert)
        key_info = etree.Element(_DS + "KeyInfo", nsmap={"ds": DS_NS})
        issuer_serial = etree.SubElement(etree.SubElement(key_info, _DS + "X509Data"), _DS + "X509IssuerSerial")
        etree.SubElement(issuer_serial, _DS + "X509IssuerName").text = issuer
        etree.SubElement(issuer_serial, _DS + "X509SerialNumber").text = serial
        return key_info

    def sign(self, root: etree._Element) -> bytes:
        """Return the signed document (UTF-8 with XML declaration); ``root`` is not changed."""
        signer = XMLSigner(
            signature_algorithm=SignatureMethod.ECDSA_SHA256,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
        )
        # The reference documents list only the enveloped-signature transform.
        signed = signer.sign(root, key=self.key, key_info=self._key_info(), exclude_c14n_transform_element=True)
        return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")

    def sign_gbcs(self, payload: bytes) -> bytes:
        """Append a GBCS-style signature (0x40 + r||s over SHA-256) to ``payload``."""
        # Deterministic ECDSA (RFC 6979): re-signing the same pre-command on a retry gives
        # the same bytes, so the DCC sees an identical retransmission, not a new request.
        der = self.key.sign(payload, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        r, s = decode_dss_signature(der)
        return payload + b"\x40" + r.to_bytes(32, "big") + s.to_bytes(32, "big")


@dataclass(frozen=True)
class DuisVerifier:
    """Verifies documents signed by one peer (the DCC for us; us for the simulator)."""

    cert: x509.Certificate

    @classmethod
    def from_pem(cls, cert_pem: bytes) -> DuisVerifier:
        return cls(cert=load_certificate(cert_pem))

    @classmethod
    def from_file(cls, cert_path: str | Path) -> DuisVerifier:
        return cls.from_pem(Path(cert_path).read_bytes())

    def verify(self, document: bytes) -> etree._Element:
        """Return the root of the *signed* content of ``document`` or raise.

        Raises :class:`DccDocumentError` for unsafe/malformed XML and
        :class:`DccSignatureError` for missing, foreign or broken signatures. Callers read
        only the returned element, never the raw bytes, so unsigned additions are ignored.
        """
        root = parse_xml(document)
        signature = root.find(_DS + "Signature")
        if signature is None:
            raise DccSignatureError("document is not signed")
        issuer = signature.findtext(f"{_DS}KeyInfo/{_DS}X509Data/{_DS}X509IssuerSerial/{_DS}X509IssuerName")
        serial = signature.findtext(f"{_DS}KeyInfo/{_DS}X509Data/{_DS}X509IssuerSerial/{_DS}X509SerialNumber")
        if issuer is None or serial is None:
            raise DccSignatureError("signature does not name its signer by X509IssuerSerial")
        expected_issuer, expected_serial = _issuer_serial(self.cert)
        if serial.strip() != expected_serial or x509.Name.from_rfc4514_string(issuer.strip()) != self.cert.issuer:
            raise DccSignatureError(
                f"document is signed by {issuer} #{serial}, expected {expected_issuer} #{expected_serial}"
            )
        try:
            result = XMLVerifier().verify(root, x509_cert=self.cert, expect_config=_EXPECTED)
        except InvalidInput as exc:
            raise DccSignatureError(f"signature not acceptable: {exc}") from exc
        except SignXMLException as exc:
            raise DccSignatureError(f"signature does not verify: {exc}") from exc
        except etree.LxmlError as exc:  # pragma: no cover - defensive
            raise DccDocumentError(f"cannot process signature: {exc}") from exc
        return result.signed_xml

    def verify_gbcs(self, signed_payload: bytes) -> bytes:
        """Check a GBCS-style signature appended by :meth:`DuisSigner.sign_gbcs`; return the payload."""
        if len(signed_payload) < 65 or signed_payload[-65] != 0x40:
            raise DccSignatureError("GBCS payload carries no signature")
        payload, raw = signed_payload[:-65], signed_payload[-64:]
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        try:
            self.cert.public_key().verify(der, payload, ec.ECDSA(hashes.SHA256()))
        except _CryptoInvalidSignature as exc:
            raise DccSignatureError("GBCS signature does not verify") from exc
        return payload
