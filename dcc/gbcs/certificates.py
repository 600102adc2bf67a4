"""Self-signed certificates shaped like SMKI's (EUI-64 in x500UniqueIdentifier or hardwareModuleName,
key usage DS or KA), so they pass :func:`dcc.gbcs.crypto.public_key`'s checks. dnoctl trusts the
certificates it is given, not a chain."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from .frames import eui64_raw

Usage = Literal["DS", "KA"]
_HARDWARE_MODULE_NAME = x509.ObjectIdentifier("1.3.6.1.5.5.7.8.4")
_UNIQUE_IDENTIFIER = x509.ObjectIdentifier("2.5.4.45")
# hwType of the hardwareModuleName, DER: OID 1.2.826.0.1.1800000.1.2.2.1 (SMKI's device type).
_HW_TYPE = bytes.fromhex("060d2a863a0001848fb90f01020201")


def _key_usage(usage: Usage) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=usage == "DS",
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=usage == "KA",
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _hardware_module_name(eui64: str) -> x509.OtherName:
    serial = eui64_raw(eui64)
    body = _HW_TYPE + b"\x04\x08" + serial  # SEQUENCE { hwType OID, hwSerialNum OCTET STRING(8) }
    return x509.OtherName(_HARDWARE_MODULE_NAME, b"\x30" + bytes([len(body)]) + body)


def certificate_make(
    *,
    eui64: str,
    usage: Usage,
    key: ec.EllipticCurvePrivateKey,
    device: bool,
    valid_days: int = 3650,
) -> x509.Certificate:
    """A self-signed certificate for ``key`` naming ``eui64`` as SMKI does, for ``usage`` (``"DS"`` or ``"KA"``)."""
    now = dt.datetime.now(dt.UTC)
    if device:
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "08")])
    else:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "07"),
                x509.NameAttribute(_UNIQUE_IDENTIFIER, b"\x00" + eui64_raw(eui64), _type=_ASN1Type.BitString),
            ]
        )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dnoctl development SMKI")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(_key_usage(usage), critical=True)
    )
    if device:
        builder = builder.add_extension(x509.SubjectAlternativeName([_hardware_module_name(eui64)]), critical=True)
    return builder.sign(key, hashes.SHA256())


def identity_make(*, eui64: str, usage: Usage, device: bool) -> tuple[bytes, bytes]:
    """A fresh P-256 key and its certificate, as ``(key PEM, certificate PEM)``."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate_make(eui64=eui64, usage=usage, key=key, device=device)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)
