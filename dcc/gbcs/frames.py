"""GBCS message framing: General Signing and General Ciphering, the grouping header, EUI-64 system
titles and DLMS date-times; the byte layout is in README.md. A signature covers the General Signing
bytes after ``DF`` to the end of the content; a MAC covers ``11 00 00 00 00 00`` and the whole
General Signing structure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .codes import Cra, use_case_name
from .errors import GbcsFormatError, GbcsUnsupportedError
from .reader import Reader, encode_length

GENERAL_SIGNING = 0xDF
GENERAL_CIPHERING = 0xDD
TRANSACTION_ID_LENGTH = 9  # CRA flag + originator counter
SYSTEM_TITLE_LENGTH = 8
DATE_TIME_LENGTH = 12
SIGNATURE_LENGTH = 64
MAC_LENGTH = 12
# General Ciphering with every optional field empty (no transaction id, titles, date-time,
# other-information or key-info): GBCS carries those in the grouping header inside.
CIPHERING_PREFIX = bytes([GENERAL_CIPHERING, 0, 0, 0, 0, 0, 0])
SECURITY_HEADER = bytes([0x11, 0, 0, 0, 0])  # authenticated only; invocation counter 0
MAC_AAD_PREFIX = bytes([0x11, 0, 0, 0, 0, 0])

_EUI64_TEXT = re.compile(r"^[0-9A-Fa-f]{2}(?:-?[0-9A-Fa-f]{2}){7}$")
_NOT_SPECIFIED_DEVIATION = -0x8000


def eui64_text(raw: bytes) -> str:
    """``00DB1234567890A0`` as DUIS writes it: ``00-DB-12-34-56-78-90-A0``."""
    return "-".join(f"{octet:02X}" for octet in raw)


def eui64_raw(text: str) -> bytes:
    """The 8 bytes of an EUI-64 written hyphenated (DUIS) or as 16 hex digits."""
    if not isinstance(text, str) or not _EUI64_TEXT.match(text.strip()):
        raise ValueError(f"not an EUI-64: {text!r}")
    return bytes.fromhex(text.strip().replace("-", ""))


def datetime_decode(raw: bytes, field: str, offset: int) -> datetime:
    """A 12-byte DLMS date-time as an aware UTC datetime (GBCS date-times are UTC)."""
    year = int.from_bytes(raw[0:2], "big")
    month, day, _weekday, hour, minute, second, hundredths = raw[2:9]
    deviation = int.from_bytes(raw[9:11], "big", signed=True)
    if deviation not in (0, _NOT_SPECIFIED_DEVIATION):
        raise GbcsFormatError(field, offset, f"deviation {deviation} min: GBCS date-times are UTC")
    if hundredths == 0xFF:
        hundredths = 0
    try:
        return datetime(year, month, day, hour, minute, second, hundredths * 10_000, tzinfo=UTC)
    except ValueError as exc:
        raise GbcsFormatError(field, offset, f"{raw.hex().upper()} is not a date-time ({exc})") from None


def datetime_encode(moment: datetime) -> bytes:
    """The 12-byte DLMS date-time GBCS uses: UTC, weekday, deviation and status not specified."""
    if moment.tzinfo is None:
        raise ValueError("GBCS date-times need an aware datetime")
    utc = moment.astimezone(UTC)
    return (
        utc.year.to_bytes(2, "big")
        + bytes([utc.month, utc.day, 0xFF, utc.hour, utc.minute, utc.second, utc.microsecond // 10_000])
        + _NOT_SPECIFIED_DEVIATION.to_bytes(2, "big", signed=True)
        + b"\xff"
    )


@dataclass(frozen=True)
class GroupingHeader:
    """Who sent a message to whom, when, for which use case (GBCS grouping header)."""

    cra: Cra
    counter: int  # the originator counter; a response or alert keeps its command's / its own
    originator: str  # EUI-64, DUIS form
    recipient: str
    date_time: datetime | None  # absent for immediate commands; execution time when future-dated
    message_code: int
    supplementary: bytes = b""  # other-information after the message code, kept as it came

    @property
    def use_case(self) -> str:
        return use_case_name(self.message_code)

    def encode(self) -> bytes:
        """From the transaction id to the end of other-information (what follows ``DF``)."""
        date_time = b"\x00" if self.date_time is None else bytes([DATE_TIME_LENGTH]) + datetime_encode(self.date_time)
        other_information = self.message_code.to_bytes(2, "big") + self.supplementary
        return (
            bytes([TRANSACTION_ID_LENGTH, self.cra])
            + self.counter.to_bytes(8, "big")
            + bytes([SYSTEM_TITLE_LENGTH])
            + eui64_raw(self.originator)
            + bytes([SYSTEM_TITLE_LENGTH])
            + eui64_raw(self.recipient)
            + date_time
            + encode_length(len(other_information))
            + other_information
        )


@dataclass(frozen=True)
class Frame:
    """One GBCS message taken apart; ``signed_data`` is what a signature covers, ``mac_data`` what a MAC covers."""

    raw: bytes
    header: GroupingHeader
    payload_start: int
    payload_end: int
    signed_data: bytes
    signature: bytes | None  # raw r||s
    empty_signature: bool  # a zero signature length closes the General Signing structure
    general_signing: bytes  # the whole DF ... structure (inside General Ciphering when ciphered)
    mac: bytes | None
    mac_data: bytes | None

    @property
    def payload(self) -> bytes:
        return self.raw[self.payload_start : self.payload_end]

    def payload_reader(self) -> Reader:
        return Reader(self.raw, self.payload_start, self.payload_end)


def frame_parse(message: bytes) -> Frame:
    """Take a GBCS message apart (framing only; the APDU is parsed by the use-case modules)."""
    if not isinstance(message, bytes | bytearray):
        raise TypeError("a GBCS message is bytes")
    message = bytes(message)
    reader = Reader(message)
    tag = reader.byte("message tag")
    if tag == GENERAL_SIGNING:
        frame = _general_signing_parse(message, 0, reader)
        reader.done("General Signing")
        return frame
    if tag == GENERAL_CIPHERING:
        return _general_ciphering_parse(message, reader)
    raise reader.fail("message tag", f"{tag:#04x} is neither General Signing (0xDF) nor General Ciphering (0xDD)", 0)


def _general_ciphering_parse(message: bytes, reader: Reader) -> Frame:
    header_at = reader.offset
    fields = reader.take(len(CIPHERING_PREFIX) - 1, "General Ciphering header")
    if fields != CIPHERING_PREFIX[1:]:
        raise GbcsUnsupportedError(
            f"General Ciphering header at offset {header_at} has fields set ({fields.hex().upper()}): "
            "only the GBCS form with all of them empty is handled"
        )
    ciphered = reader.sub(reader.length("ciphered content length"), "ciphered content")
    reader.done("General Ciphering")
    ciphered.expect(SECURITY_HEADER, "security header")
    signing_start = ciphered.offset
    if ciphered.remaining < MAC_LENGTH + 1:
        raise ciphered.fail("General Signing", "no room for a General Signing structure and a MAC")
    inner = Reader(message, signing_start, signing_start + ciphered.remaining - MAC_LENGTH)
    inner.expect(bytes([GENERAL_SIGNING]), "General Signing tag")
    frame = _general_signing_parse(message, signing_start, inner)
    inner.done("General Signing")
    general_signing = frame.general_signing
    mac = message[signing_start + len(general_signing) :]
    return Frame(
        raw=message,
        header=frame.header,
        payload_start=frame.payload_start,
        payload_end=frame.payload_end,
        signed_data=frame.signed_data,
        signature=frame.signature,
        empty_signature=frame.empty_signature,
        general_signing=general_signing,
        mac=mac,
        mac_data=MAC_AAD_PREFIX + general_signing,
    )


def _general_signing_parse(message: bytes, start: int, reader: Reader) -> Frame:
    header = _grouping_header_parse(reader)
    content_length = reader.length("content length")
    payload_start = reader.offset
    reader.take(content_length, "content")
    payload_end = reader.offset
    signature: bytes | None = None
    empty_signature = False
    if reader.remaining:
        at = reader.offset
        signature_length = reader.length("signature length")
        if signature_length == 0:
            empty_signature = True
        elif signature_length == SIGNATURE_LENGTH:
            signature = reader.take(SIGNATURE_LENGTH, "signature")
        else:
            raise reader.fail("signature length", f"is {signature_length}, expected 0 or {SIGNATURE_LENGTH}", at)
    return Frame(
        raw=message,
        header=header,
        payload_start=payload_start,
        payload_end=payload_end,
        signed_data=message[start + 1 : payload_end],
        signature=signature,
        empty_signature=empty_signature,
        general_signing=message[start : reader.offset],
        mac=None,
        mac_data=None,
    )


def _grouping_header_parse(reader: Reader) -> GroupingHeader:
    reader.expect(bytes([TRANSACTION_ID_LENGTH]), "transaction id length")
    at = reader.offset
    cra_flag = reader.byte("CRA flag")
    try:
        cra = Cra(cra_flag)
    except ValueError:
        raise reader.fail("CRA flag", f"is {cra_flag}, expected 1 (command), 2 (response) or 3 (alert)", at) from None
    counter = reader.uint(8, "originator counter")
    reader.expect(bytes([SYSTEM_TITLE_LENGTH]), "originator system title length")
    originator = eui64_text(reader.take(SYSTEM_TITLE_LENGTH, "originator system title"))
    reader.expect(bytes([SYSTEM_TITLE_LENGTH]), "recipient system title length")
    recipient = eui64_text(reader.take(SYSTEM_TITLE_LENGTH, "recipient system title"))
    at = reader.offset
    date_time_length = reader.byte("date-time length")
    date_time = None
    if date_time_length == DATE_TIME_LENGTH:
        at = reader.offset
        date_time = datetime_decode(reader.take(DATE_TIME_LENGTH, "date-time"), "date-time", at)
    elif date_time_length != 0:
        raise reader.fail("date-time length", f"is {date_time_length}, expected 0 or {DATE_TIME_LENGTH}", at)
    other_information = reader.sub(reader.length("other-information length"), "other-information")
    message_code = other_information.uint(2, "message code")
    supplementary = other_information.take(other_information.remaining, "supplementary remote party fields")
    return GroupingHeader(
        cra=cra,
        counter=counter,
        originator=originator,
        recipient=recipient,
        date_time=date_time,
        message_code=message_code,
        supplementary=supplementary,
    )


def general_signing_encode(
    header: GroupingHeader, payload: bytes, *, signature: bytes | None = None, empty_signature: bool = False
) -> bytes:
    """``DF`` + header + content, then no signature field, a zero length, or ``40`` + r||s."""
    body = bytes([GENERAL_SIGNING]) + header.encode() + encode_length(len(payload)) + payload
    if signature is not None:
        if len(signature) != SIGNATURE_LENGTH:
            raise ValueError(f"a GBCS signature is {SIGNATURE_LENGTH} bytes, got {len(signature)}")
        return body + bytes([SIGNATURE_LENGTH]) + signature
    return body + (b"\x00" if empty_signature else b"")


def general_ciphering_encode(general_signing: bytes, mac: bytes) -> bytes:
    """Wrap a General Signing structure and its MAC in the GBCS General Ciphering frame."""
    if len(mac) != MAC_LENGTH:
        raise ValueError(f"a GBCS MAC is {MAC_LENGTH} bytes, got {len(mac)}")
    ciphered = SECURITY_HEADER + general_signing + mac
    return CIPHERING_PREFIX + encode_length(len(ciphered)) + ciphered
