"""Enveloped XML signatures as DUIS wants them, plus the GBCS pre-command signature.

ECDSA P-256 / SHA-256, exclusive c14n ``SignedInfo``, ``Reference URI=""`` with only the enveloped-
signature transform, so the document is digested with inclusive C14N 1.0 exactly as the DCC's
signing tool does. KeyInfo names the signer by issuer and serial only, so the verifier picks from
the certificates it trusts. Pre-commands carry a GBCS signature made with a different key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    SignatureReference,
    XMLSigner,
    XMLVerifier,
)
from signxml.exceptions import InvalidInput, SignXMLException

from dcc import gbcs

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
    # DUIS References list only the enveloped-signature transform, so the digest is over
    # XMLDSig's default canonicalisation, inclusive C14N 1.0 (signxml's default is 1.1).
    default_reference_c14n_method=CanonicalizationMethod.CANONICAL_XML_1_0,
)


class _WholeDocumentSigner(XMLSigner):
    """Signs the whole document: signxml 5.2 rewrites ``URI=""`` to ``"#"``, which resolves to nothing."""

    def _get_c14n_inputs_from_references(self, doc_root, references):
        if [reference.URI for reference in references] == [""]:
            return [self.get_root(doc_root)], list(references)
        return super()._get_c14n_inputs_from_references(doc_root, references)


def load_private_key(data: bytes) -> ec.EllipticCurvePrivateKey:
    """Load an unencrypted P-256 private key, PEM or DER PKCS#8 (as DCC Boxed ships its keys)."""
    try:
        if data.lstrip().startswith(b"-----"):
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise DccSignatureError(f"not a readable unencrypted private key (PEM or DER PKCS#8): {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise DccSignatureError("DCC keys must be ECDSA P-256")
    return key


def load_certificate(data: bytes) -> x509.Certificate:
    try:
        if data.lstrip().startswith(b"-----"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise DccSignatureError(f"not a readable X.509 certificate (PEM or DER): {exc}") from exc


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
    """Signs DUIS documents with a user's XML-signing key and certificate."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def from_pem(cls, key_pem: bytes, cert_pem: bytes) -> DuisSigner:
        """From key and certificate bytes (PEM or DER, despite the name)."""
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
        signer = _WholeDocumentSigner(
            signature_algorithm=SignatureMethod.ECDSA_SHA256,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
        )
        # The reference lists only the enveloped-signature transform (as the DCC's do), so its
        # digest must be over XMLDSig's default for that case: inclusive C14N 1.0.
        whole_document = SignatureReference(URI="", c14n_method=CanonicalizationMethod.CANONICAL_XML_1_0)
        signed = signer.sign(
            root,
            key=self.key,
            key_info=self._key_info(),
            reference_uri=[whole_document],
            exclude_c14n_transform_element=True,
        )
        return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


@dataclass(frozen=True)
class DuisVerifier:
    """Verifies documents signed by any trusted certificate (the DCC's roll over)."""

    certs: tuple[x509.Certificate, ...]

    def __post_init__(self) -> None:
        if not self.certs:
            raise DccSignatureError("a verifier needs at least one trusted certificate")

    @classmethod
    def trusting(cls, *certs: x509.Certificate) -> DuisVerifier:
        return cls(certs=tuple(certs))

    @classmethod
    def from_files(cls, *cert_paths: str | Path) -> DuisVerifier:
        return cls(certs=tuple(load_certificate(Path(path).read_bytes()) for path in cert_paths))

    def _signer_named(self, issuer: str, serial: str) -> x509.Certificate:
        try:
            issuer_name = x509.Name.from_rfc4514_string(issuer.strip())
        except ValueError as exc:
            raise DccSignatureError(f"signature names an unreadable issuer {issuer!r}") from exc
        for cert in self.certs:
            if str(cert.serial_number) == serial.strip() and cert.issuer == issuer_name:
                return cert
        trusted = ", ".join(f"{name} #{number}" for name, number in map(_issuer_serial, self.certs))
        raise DccSignatureError(f"document is signed by {issuer} #{serial}, which is not trusted (trusted: {trusted})")

    def verify(self, document: bytes) -> etree._Element:
        """The root of the *signed* content of ``document`` (see :meth:`verify_with_signer`)."""
        return self.verify_with_signer(document)[0]

    def verify_with_signer(self, document: bytes) -> tuple[etree._Element, x509.Certificate]:
        """The root of the *signed* content and its signer; callers read only that, so unsigned
        additions are ignored."""
        root = parse_xml(document)
        signature = root.find(_DS + "Signature")
        if signature is None:
            raise DccSignatureError("document is not signed")
        issuer = signature.findtext(f"{_DS}KeyInfo/{_DS}X509Data/{_DS}X509IssuerSerial/{_DS}X509IssuerName")
        serial = signature.findtext(f"{_DS}KeyInfo/{_DS}X509Data/{_DS}X509IssuerSerial/{_DS}X509SerialNumber")
        if issuer is None or serial is None:
            raise DccSignatureError("signature does not name its signer by X509IssuerSerial")
        cert = self._signer_named(issuer, serial)
        try:
            result = XMLVerifier().verify(root, x509_cert=cert, expect_config=_EXPECTED)
        except InvalidInput as exc:
            raise DccSignatureError(f"signature not acceptable: {exc}") from exc
        except SignXMLException as exc:
            raise DccSignatureError(f"signature does not verify: {exc}") from exc
        except etree.LxmlError as exc:  # pragma: no cover - defensive
            raise DccDocumentError(f"cannot process signature: {exc}") from exc
        return result.signed_xml, cert


@dataclass(frozen=True)
class GbcsSigner:
    """Signs pre-commands with a user's GBCS digital-signing key, only after checking they say what was asked."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def from_pem(cls, key_pem: bytes, cert_pem: bytes) -> GbcsSigner:
        """From key and certificate bytes (PEM or DER, despite the name)."""
        return cls(key=load_private_key(key_pem), cert=load_certificate(cert_pem))

    @classmethod
    def from_files(cls, key_path: str | Path, cert_path: str | Path) -> GbcsSigner:
        return cls.from_pem(Path(key_path).read_bytes(), Path(cert_path).read_bytes())

    def sign_pre_command(self, pre_command: bytes, expected: gbcs.Ecs47Request) -> bytes:
        """The signed pre-command, or :class:`dcc.gbcs.PreCommandMismatch` naming the differing field."""
        return gbcs.sign_pre_command(pre_command, expected=expected, private_key=self.key)
