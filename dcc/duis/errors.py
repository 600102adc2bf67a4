"""Typed DUIS errors. Only :class:`DccTransientError` is retried; unknown response codes are permanent,
since treating one as success could leave a charger running on an overloaded feeder."""

from __future__ import annotations


class DccError(Exception):
    """Base class of every error raised by ``dcc.duis``."""


class DccArgumentError(DccError, ValueError):
    """An argument failed validation before anything was built; the message names it."""

    def __init__(self, argument: str, problem: str) -> None:
        self.argument = argument
        self.problem = problem
        super().__init__(f"{argument}: {problem}")


class DccDocumentError(DccError):
    """A document is malformed, unsafe (DOCTYPE/entities) or fails the DUIS schema."""


class DccSignatureError(DccError):
    """A document is unsigned, signed by someone else, or altered after signing."""


class DccResponseError(DccError):
    """The DCC answered with a DUIS response code other than an acceptance."""

    def __init__(self, message: str, *, response_code: str | None = None, request_id: str | None = None):
        self.response_code = response_code
        self.request_id = request_id
        super().__init__(message)


class DccTransientError(DccResponseError):
    """Worth retrying: HTTP 5xx, timeouts, connection errors, transient codes. If ``acknowledged``,
    resending would be a replay."""

    def __init__(
        self,
        message: str,
        *,
        response_code: str | None = None,
        request_id: str | None = None,
        acknowledged: bool = False,
    ) -> None:
        self.acknowledged = acknowledged
        super().__init__(message, response_code=response_code, request_id=request_id)


class DccPermanentError(DccResponseError):
    """Final failure: not eligible, unknown device, bad request, unknown response code."""


# DUIS response codes this system knows. Meanings follow the DUIS list of DCC Systems
# response codes. Only I0/I99 count as acceptance; E20/E21 (device unreachable / did not
# answer) are transient; any other code, known or not, is a permanent failure.
ACCEPTED_RESPONSE_CODES = frozenset({"I0", "I99"})
TRANSIENT_RESPONSE_CODES = frozenset({"E20", "E21"})
RESPONSE_CODE_MEANINGS: dict[str, str] = {
    "I0": "success",
    "I99": "acknowledged: accepted for sending to the device",
    "E1": "invalid user / user role",
    "E2": "user role not permitted to send this service reference",
    "E3": "user status not permitted to send this service reference",
    "E4": "user role not authorised for this device",
    "E5": "device status incompatible with this service reference",
    "E11": "service reference not compatible with the device",
    "E12": "command variant not applicable to this request",
    "E13": "request type not valid for this URL",
    "E17": "request not available for local command services",
    "E19": "device does not exist",
    "E20": "unable to communicate with the device",
    "E21": "no response received from the device",
}


def error_for_response_code(code: str, *, request_id: str | None, acknowledged: bool = True) -> DccResponseError:
    """Map a non-accepting DUIS response code to the typed error to raise."""
    meaning = RESPONSE_CODE_MEANINGS.get(code, "unknown response code")
    message = f"DCC answered {code} ({meaning}) for {request_id}"
    if code in TRANSIENT_RESPONSE_CODES:
        return DccTransientError(message, response_code=code, request_id=request_id, acknowledged=acknowledged)
    return DccPermanentError(message, response_code=code, request_id=request_id)


def is_accepted(code: str) -> bool:
    """True only for codes that mean the DCC accepted the request."""
    return code in ACCEPTED_RESPONSE_CODES
