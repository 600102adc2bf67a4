"""GBCS cryptography: ECDSA P-256 signatures (raw r||s) and the General Ciphering MAC (AES-128-GCM over
no plaintext, 12-byte tag), its key agreed by ECDH and derived as GBCS section 4 and the DCC's
parser do (README.md; checked on every RTDS MAC)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import GbcsAuthenticationError
from .frames import MAC_LENGTH, SIGNATURE_LENGTH, GroupingHeader, eui64_raw, eui64_text

KeyUsage = Literal["DS", "KA"]
PublicKeyLike = ec.EllipticCurvePublicKey | x509.Certificate

KDF_ALGORITHM_ID = bytes.fromhex("60857406080300")
_HARDWARE_MODULE_NAME = x509.ObjectIdentifier("1.3.6.1.5.5.7.8.4")  # device certificates: SAN
_UNIQUE_IDENTIFIER = x509.ObjectIdentifier("2.5.4.45")  # organisation certificates: subject


def certificate_entity_id(certificate: x509.Certificate) -> str | None:
    """The EUI-64 a GBCS certificate is for (a device's subjectAltName, an organisation's x500UniqueIdentifier)."""
    for attribute in certificate.subject.get_attributes_for_oid(_UNIQUE_IDENTIFIER):
        value = attribute.value
        if isinstance(value, bytes) and len(value) == 9 and value[0] == 0:  # BIT STRING, 0 unused bits
            return eui64_text(value[1:])
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for name in names.get_values_for_type(x509.OtherName):
        # SEQUENCE { OBJECT IDENTIFIER hwType, OCTET STRING(8) hwSerialNum }: the serial ends it.
        if name.type_id == _HARDWARE_MODULE_NAME and name.value[-10:-8] == b"\x04\x08":
            return eui64_text(name.value[-8:])
    return None


def public_key(
    key: PublicKeyLike, *, entity: str | None = None, usage: KeyUsage | None = None
) -> ec.EllipticCurvePublicKey:
    """A P-256 public key; from a certificate, checked to be ``entity``'s for ``usage`` so a keystore
    mix-up fails here."""
    if isinstance(key, x509.Certificate):
        if entity is not None and certificate_entity_id(key) != entity:
            raise GbcsAuthenticationError(f"certificate is for {certificate_entity_id(key)}, not {entity}")
        if usage is not None:
            key_usage = key.extensions.get_extension_for_class(x509.KeyUsage).value
            allowed = key_usage.digital_signature if usage == "DS" else key_usage.key_agreement
            if not allowed:
                raise GbcsAuthenticationError(f"certificate for {entity or 'this party'} is not a {usage} certificate")
        key = key.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise GbcsAuthenticationError("GBCS keys are ECDSA/ECDH P-256 keys")
    return key


def _check_private(key: ec.EllipticCurvePrivateKey) -> None:
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise TypeError("GBCS keys are P-256 private keys")


def sign(data: bytes, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """ECDSA P-256 / SHA-256 as raw r||s, deterministic (RFC 6979) so a retry after a crash sends identical bytes."""
    _check_private(private_key)
    der = private_key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    half = SIGNATURE_LENGTH // 2
    return r.to_bytes(half, "big") + s.to_bytes(half, "big")


def signature_verify(data: bytes, signature: bytes, key: ec.EllipticCurvePublicKey) -> None:
    if len(signature) != SIGNATURE_LENGTH:
        raise GbcsAuthenticationError(f"signature is {len(signature)} bytes, expected {SIGNATURE_LENGTH}")
    half = SIGNATURE_LENGTH // 2
    der = encode_dss_signature(int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big"))
    try:
        key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise GbcsAuthenticationError("signature does not verify") from None


def mac_key(
    *, private_key: ec.EllipticCurvePrivateKey, peer_public_key: ec.EllipticCurvePublicKey, header: GroupingHeader
) -> bytes:
    """The AES-128 key for one message's MAC (ECDH is symmetric: either party derives it)."""
    _check_private(private_key)
    shared = private_key.exchange(ec.ECDH(), peer_public_key)
    other_info = (
        KDF_ALGORITHM_ID
        + eui64_raw(header.originator)
        + bytes([9, header.cra])
        + header.counter.to_bytes(8, "big")
        + eui64_raw(header.recipient)
    )
    return hashlib.sha256(b"\x00\x00\x00\x01" + shared + other_info).digest()[:16]


def mac(key: bytes, header: GroupingHeader, mac_data: bytes) -> bytes:
    """GMAC: AES-GCM with nothing to encrypt, ``mac_data`` as associated data, tag cut to 12."""
    nonce = eui64_raw(header.originator) + bytes(4)
    return AESGCM(key).encrypt(nonce, b"", mac_data)[:MAC_LENGTH]


def mac_verify(key: bytes, header: GroupingHeader, mac_data: bytes, tag: bytes) -> None:
    if not hmac.compare_digest(mac(key, header, mac_data), tag):
        raise GbcsAuthenticationError("MAC does not verify")
