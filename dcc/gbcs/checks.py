"""Before signing, the pre-command must say what was asked (DUIS makes the user responsible for what it signs)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from . import crypto
from .codes import Cra
from .ecs47 import Ecs47Command, Ecs47Request
from .errors import GbcsError, PreCommandMismatch
from .frames import SIGNATURE_LENGTH, frame_parse
from .parsing import parse_pre_command
from .protect import ciphering_wrap


def check_pre_command(pre_command: bytes | Ecs47Command, expected: Ecs47Request) -> Ecs47Command:
    """The parsed pre-command if exactly what ``expected`` asks; else :class:`PreCommandMismatch`."""
    command = pre_command if isinstance(pre_command, Ecs47Command) else parse_pre_command(pre_command)
    comparisons = (
        ("CRA flag", Cra.COMMAND, command.cra),
        ("device", expected.device, command.recipient),
        ("originator", expected.originator, command.originator),
        ("counter", expected.counter, command.counter),
        ("use case", expected.message_code.use_case, command.use_case),
        ("service", expected.service, command.service),
        ("switch index", expected.switch_index, command.switch_index),
        ("duration", expected.duration_minutes, command.duration_minutes),
        ("level", expected.level, command.level),
        ("start", expected.start, command.start),
        ("end", expected.end, command.end),
        ("input from controlled load", expected.input_from_controlled_load, command.input_from_controlled_load),
        # An execution date-time would make the device act later than asked (future-dated).
        ("execution date-time", None, command.date_time),
        ("request date-time", None, command.apdu.date_time),
    )
    for field, wanted, found in comparisons:
        if wanted != found:
            raise PreCommandMismatch(field, wanted, found)
    return command


def sign_pre_command(pre_command: bytes, *, expected: Ecs47Request, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """Check the pre-command, then sign it with the user's GBCS DS key (ECDSA over everything after
    ``DF``, appended as ``40`` r||s). DCC Boxed's trailing zero signature length is dropped first.
    """
    command = check_pre_command(pre_command, expected)
    unsigned = pre_command[:-1] if command.frame.empty_signature else pre_command
    return unsigned + bytes([SIGNATURE_LENGTH]) + crypto.sign(unsigned[1:], private_key)


def signed_command_wrap(
    signed_command: bytes,
    *,
    acb_ka_private_key: ec.EllipticCurvePrivateKey,
    device_ka_public_key: crypto.PublicKeyLike,
) -> bytes:
    """The CV 5 command for the device: the signed command in General Ciphering with the DCC's ACB MAC."""
    frame = frame_parse(signed_command)
    if frame.mac is not None or frame.signature is None:
        raise GbcsError("only a signed General Signing command can be wrapped for the device")
    return ciphering_wrap(
        signed_command, frame.header, private_key=acb_ka_private_key, peer_public_key=device_ka_public_key
    )
