"""A small stand-in for GBCS payloads ("GBCS-lite").

Real GBCS APDUs are binary, encrypted and device-specific; dnoctl never builds or reads
them itself except to sign a pre-command the DCC produced. The simulator still has to put
*something* in ``GBCSPayload``, and the client should check that the pre-command it is
asked to sign says what it requested (a DUIS user obligation). This module gives both
sides one tiny, documented encoding: a magic prefix then canonical JSON.

Message kinds:
- ``pre-command``: {request_id, srv, target, body}; the user appends a GBCS signature.
- ``response``:    {request_id, srv, target, status, detail} from the device.
- ``alert``:       {target, alert_code, detail} raised by the device.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import DccDocumentError

MAGIC = b"GBCSLITE\x01"


def encode(message: dict[str, Any]) -> bytes:
    """Canonical bytes for ``message`` (sorted keys, no whitespace)."""
    return MAGIC + json.dumps(message, sort_keys=True, separators=(",", ":")).encode()


def decode(payload: bytes) -> dict[str, Any]:
    """Inverse of :func:`encode`; raises :class:`DccDocumentError` on anything else."""
    if not payload.startswith(MAGIC):
        raise DccDocumentError("GBCS payload is not in the expected format")
    try:
        message = json.loads(payload[len(MAGIC) :])
    except ValueError as exc:
        raise DccDocumentError(f"GBCS payload is not decodable: {exc}") from exc
    if not isinstance(message, dict) or "kind" not in message:
        raise DccDocumentError("GBCS payload has no kind")
    return message
