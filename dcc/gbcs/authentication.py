"""Authenticating what devices send: the ESME's DS signature on ECS47 responses and on
critical alerts, and the KA-derived MAC on ECS61 / ECS62 responses and non-critical alerts."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from . import crypto
from .ecs47 import Ecs47Response
from .errors import GbcsAuthenticationError
from .frames import Frame, frame_parse
from .parsing import Alert, DeviceResponse, parse_alert, parse_response

CRITICAL_ALERTS = range(0x8F00, 0x9000)


def _signature_check(frame: Frame, key: crypto.PublicKeyLike | None) -> None:
    if frame.signature is None:
        raise GbcsAuthenticationError(f"{frame.header.use_case} message from {frame.header.originator} is not signed")
    if key is None:
        raise ValueError("a signed message needs the originator's DS key or certificate")
    public = crypto.public_key(key, entity=frame.header.originator, usage="DS")
    crypto.signature_verify(frame.signed_data, frame.signature, public)


def _mac_check(frame: Frame, private_key: ec.EllipticCurvePrivateKey | None, peer: crypto.PublicKeyLike | None) -> None:
    if frame.mac is None or frame.mac_data is None:
        raise GbcsAuthenticationError(f"{frame.header.use_case} message from {frame.header.originator} has no MAC")
    if private_key is None or peer is None:
        raise ValueError("a MAC'd message needs one party's KA private key and the other's KA key or certificate")
    public = crypto.public_key(peer, usage="KA")
    if isinstance(peer, x509.Certificate) and crypto.certificate_entity_id(peer) not in (
        frame.header.originator,
        frame.header.recipient,
    ):
        raise GbcsAuthenticationError(
            f"KA certificate is for {crypto.certificate_entity_id(peer)}, not a party to this message"
        )
    key = crypto.mac_key(private_key=private_key, peer_public_key=public, header=frame.header)
    crypto.mac_verify(key, frame.header, frame.mac_data, frame.mac)


def verify_signed(message: bytes, public_key: crypto.PublicKeyLike) -> None:
    """Raise :class:`GbcsAuthenticationError` unless ``message``'s GBCS signature verifies with ``public_key``."""
    _signature_check(frame_parse(message), public_key)


def verify_mac(
    message: bytes, *, private_key: ec.EllipticCurvePrivateKey, peer_public_key: crypto.PublicKeyLike
) -> None:
    """Raise :class:`GbcsAuthenticationError` unless the General Ciphering MAC verifies with the agreed KA key."""
    _mac_check(frame_parse(message), private_key, peer_public_key)


def authenticate_response(
    message: bytes,
    *,
    device_ds_key: crypto.PublicKeyLike | None = None,
    device_ka_key: crypto.PublicKeyLike | None = None,
    recipient_ka_private_key: ec.EllipticCurvePrivateKey | None = None,
) -> DeviceResponse:
    """Parse a device response and authenticate it: ECS47 by DS signature, ECS61/62 by MAC."""
    response = parse_response(message)
    if isinstance(response, Ecs47Response):
        _signature_check(response.frame, device_ds_key)
    else:
        _mac_check(response.frame, recipient_ka_private_key, device_ka_key)
        _entity_check(device_ka_key, response.originator)
    return response


def authenticate_alert(
    message: bytes,
    *,
    device_ds_key: crypto.PublicKeyLike | None = None,
    device_ka_key: crypto.PublicKeyLike | None = None,
    recipient_ka_private_key: ec.EllipticCurvePrivateKey | None = None,
) -> Alert:
    """Parse a device alert and check its protection; critical alerts (0x8Fxx) must be signed."""
    alert = parse_alert(message)
    frame = alert.frame
    if alert.alert_code in CRITICAL_ALERTS and frame.signature is None:
        raise GbcsAuthenticationError(f"critical alert {alert.alert_name} is not signed")
    if frame.signature is None and frame.mac is None:
        raise GbcsAuthenticationError(f"alert {alert.alert_name} is neither signed nor MAC'd")
    if frame.signature is not None:
        _signature_check(frame, device_ds_key)
    if frame.mac is not None:
        _mac_check(frame, recipient_ka_private_key, device_ka_key)
        _entity_check(device_ka_key, alert.originator)
    return alert


def _entity_check(key: crypto.PublicKeyLike | None, device: str) -> None:
    if isinstance(key, x509.Certificate) and crypto.certificate_entity_id(key) != device:
        raise GbcsAuthenticationError(f"KA certificate is for {crypto.certificate_entity_id(key)}, not {device}")
