"""DUIS client for the DCC, free of Django so it (and the simulator) can be lifted out."""

from .client import DccClient, LocalDeliveryInterface, SendOutcome
from .counters import CounterSource, InMemoryCounterSource
from .documents import DuisResponse
from .errors import (
    DccArgumentError,
    DccDocumentError,
    DccError,
    DccPermanentError,
    DccResponseError,
    DccSignatureError,
    DccTransientError,
)
from .identifiers import DCC_EUI64, RequestId, parse_eui64
from .schema import SchemaValidator
from .signing import DuisSigner, DuisVerifier, GbcsSigner, generate_identity

__all__ = [
    "DCC_EUI64",
    "CounterSource",
    "DccArgumentError",
    "DccClient",
    "DccDocumentError",
    "DccError",
    "DccPermanentError",
    "DccResponseError",
    "DccSignatureError",
    "DccTransientError",
    "DuisResponse",
    "DuisSigner",
    "DuisVerifier",
    "GbcsSigner",
    "InMemoryCounterSource",
    "LocalDeliveryInterface",
    "RequestId",
    "SchemaValidator",
    "SendOutcome",
    "generate_identity",
    "parse_eui64",
]
