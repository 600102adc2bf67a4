"""Building protected messages: signed (General Signing + signature) or MAC'd (General
Ciphering around a General Signing with an empty signature)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from . import crypto
from .frames import MAC_AAD_PREFIX, GroupingHeader, general_ciphering_encode, general_signing_encode


def signed_message(header: GroupingHeader, payload: bytes, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    unsigned = general_signing_encode(header, payload)
    return general_signing_encode(header, payload, signature=crypto.sign(unsigned[1:], private_key))


def ciphering_wrap(
    general_signing: bytes,
    header: GroupingHeader,
    *,
    private_key: ec.EllipticCurvePrivateKey,
    peer_public_key: crypto.PublicKeyLike,
) -> bytes:
    """General Ciphering around a General Signing structure, MAC'd for ``header``'s parties."""
    key = crypto.mac_key(private_key=private_key, peer_public_key=crypto.public_key(peer_public_key), header=header)
    return general_ciphering_encode(general_signing, crypto.mac(key, header, MAC_AAD_PREFIX + general_signing))


def maced_message(
    header: GroupingHeader,
    payload: bytes,
    *,
    private_key: ec.EllipticCurvePrivateKey,
    peer_public_key: crypto.PublicKeyLike,
) -> bytes:
    general_signing = general_signing_encode(header, payload, empty_signature=True)
    return ciphering_wrap(general_signing, header, private_key=private_key, peer_public_key=peer_public_key)
