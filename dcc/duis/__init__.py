"""DUIS client for the DCC, free of Django so it (and the simulator) can be lifted out.

Public API:
- :class:`~dcc.duis.client.DccClient` sends SRV 7.6/7.7/7.8/7.9/7.10/7.11/7.13/7.16 (and 8.13).
- :class:`~dcc.duis.signing.DuisSigner` / :class:`~dcc.duis.signing.DuisVerifier`.
- :class:`~dcc.duis.identifiers.RequestId`, :func:`~dcc.duis.identifiers.parse_eui64`.
- :class:`~dcc.duis.counters.CounterSource` (implemented on PostgreSQL by the Django side).
- Errors in :mod:`dcc.duis.errors`; the simulator in :mod:`dcc.simulator`.
"""

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
