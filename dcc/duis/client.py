"""The DUIS client: signs requests, talks to the DCC's web services, verifies answers.

Critical SRVs (7.6, 7.8, 7.13, 7.16) go CV 4 to the Transform service, whose pre-command we check
and GBCS-sign before sending it as CV 5/6/7 with the same RequestID; non-critical ones go CV 1/2/3.
Transport failures are retried with the same document; once the DCC acknowledged a document it is
never sent again (that would be a replay).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol

import requests
from lxml import etree

from core.backoff import backoff_seconds
from dcc import gbcs

from . import documents
from .counters import CounterSource
from .documents import DuisResponse
from .errors import (
    DccArgumentError,
    DccDocumentError,
    DccError,
    DccPermanentError,
    DccSignatureError,
    DccTransientError,
    error_for_response_code,
    is_accepted,
)
from .identifiers import DCC_EUI64, RequestId, parse_eui64, validate_duration_minutes, validate_index
from .schema import SchemaValidator
from .signing import DuisSigner, DuisVerifier, GbcsSigner
from .xmlsafe import parse_xml

logger = logging.getLogger(__name__)

SERVICE_PATHS = {"D": "/api/v1/serviceD", "S": "/api/v1/serviceS", "T": "/api/v1/serviceT"}
_SERVICE_FOR_CV = {1: "S", 3: "S", 5: "S", 7: "S", 2: "D", 6: "D", 8: "D", 4: "T"}
LOCAL_DELIVERY_CVS = frozenset({2, 3, 6, 7})
# A throwaway RequestID used to run the builders' argument checks before a counter is spent.
_PROBE_ID = RequestId(originator=DCC_EUI64, target=DCC_EUI64, counter=0)

# Called with (stage, document bytes) before each document is sent and after each answer
# is verified, so the caller can keep a state history (stage: "request", "ack", ...).
DocumentRecorder = Callable[[str, bytes], None]


def service_for_command_variant(command_variant: int) -> str:
    """Which DCC web service ("D", "S" or "T") takes requests with this CV."""
    try:
        return _SERVICE_FOR_CV[command_variant]
    except KeyError:
        raise DccArgumentError("command_variant", f"must be 1..8, got {command_variant!r}") from None


def pre_command_expectation(request: documents.DuisRequest, body: dict | None = None) -> gbcs.Ecs47Request:
    """What the pre-command for a critical ``request`` must say: its RequestID and the parameters its body asks for."""
    rid = request.request_id
    body = documents.request_parameters(request.srv, request.body) if body is None else body
    return gbcs.Ecs47Request(
        service=request.srv,
        originator=rid.originator,
        device=rid.target,
        counter=rid.counter,
        switch_index=body["index"],
        duration_minutes=body.get("duration_minutes"),
        level=body.get("level"),
        start=body.get("start"),
        end=body.get("end"),
        input_from_controlled_load=body.get("input_from_controlled_load", False),
    )


class LocalDeliveryInterface(Protocol):
    """A PPMID or HHT path to the device's HAN (seed 004, SECMP0038): ``deliver`` returns the device's GBCS response."""

    def deliver(self, *, target: str, command: bytes) -> bytes: ...


@dataclass(frozen=True)
class SendOutcome:
    """What happened to one logical request; ``local_response_ack`` answers the 8.13 of a local delivery."""

    request_id: RequestId
    srv: str
    command_variant: int
    acknowledgement: DuisResponse
    pre_command: bytes | None = None
    local_request_id: RequestId | None = None
    local_response_ack: DuisResponse | None = None
    local_error: str | None = None


class DccClient:
    """Sends signed DUIS requests to one DCC endpoint and verifies every DCC document before reading it."""

    def __init__(
        self,
        base_url: str,
        signer: DuisSigner,
        dcc_verifier: DuisVerifier,
        *,
        gbcs_signer: GbcsSigner,
        originator: str,
        counters: CounterSource,
        timeout: float = 10.0,
        client_cert: str | tuple[str, str] | None = None,
        verify_tls: bool | str = True,
        schema: SchemaValidator | None = None,
        local_delivery: LocalDeliveryInterface | None = None,
        max_attempts: int = 3,
        backoff_s: float = 0.2,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.gbcs_signer = gbcs_signer
        self.dcc_verifier = dcc_verifier
        self.originator = parse_eui64(originator, argument="originator")
        self.counters = counters
        self.timeout = timeout
        self.client_cert = client_cert
        self.verify_tls = verify_tls
        self.schema = schema or SchemaValidator(None)
        self.local_delivery = local_delivery
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.session = session or requests.Session()

    # ------------------------------------------------------------------ identifiers

    def new_request_id(self, target: str) -> RequestId:
        target = parse_eui64(target, argument="target")
        return RequestId.build(
            originator=self.originator, target=target, counter=self.counters.next_counter(self.originator)
        )

    def _request_id(self, target: str, request_id: RequestId | None) -> RequestId:
        target = parse_eui64(target, argument="target")
        if request_id is None:
            return self.new_request_id(target)
        if not isinstance(request_id, RequestId):
            raise DccArgumentError("request_id", "must be a RequestId")
        if request_id.originator != self.originator or request_id.target != target:
            raise DccArgumentError("request_id", f"{request_id} is not ours for target {target}")
        return request_id

    # ------------------------------------------------------------------ high level

    def deactivate_auxiliary_load(
        self,
        *,
        target: str,
        index: int,
        duration_minutes: int,
        command_variant: int = 5,
        request_id: RequestId | None = None,
        recorder: DocumentRecorder | None = None,
    ) -> SendOutcome:
        """SRV 7.6: switch HCALCS ``index`` off for ``duration_minutes`` (the device reverts)."""
        validate_index(index)
        validate_duration_minutes(duration_minutes)
        self._check_critical_cv(command_variant)
        rid = self._request_id(target, request_id)
        request = documents.deactivate_auxiliary_load(request_id=rid, index=index, duration_minutes=duration_minutes)
        expected = {"index": index, "duration_minutes": duration_minutes}
        return self.send_critical(request, command_variant=command_variant, expected_body=expected, recorder=recorder)

    def reset_auxiliary_load(
        self,
        *,
        target: str,
        index: int,
        command_variant: int = 5,
        request_id: RequestId | None = None,
        recorder: DocumentRecorder | None = None,
    ) -> SendOutcome:
        """SRV 7.8: switch HCALCS ``index`` back on before its 7.6 duration ends."""
        validate_index(index)
        self._check_critical_cv(command_variant)
        rid = self._request_id(target, request_id)
        request = documents.reset_auxiliary_load(request_id=rid, index=index)
        return self.send_critical(
            request, command_variant=command_variant, expected_body={"index": index}, recorder=recorder
        )

    def set_auxiliary_controller_state(
        self,
        *,
        target: str,
        index: int,
        level: int,
        start: dt.datetime,
        end: dt.datetime,
        input_from_controlled_load: bool = False,
        command_variant: int = 5,
        request_id: RequestId | None = None,
        recorder: DocumentRecorder | None = None,
    ) -> SendOutcome:
        """SRV 7.13: auxiliary controller ``index`` at ``level`` % from ``start`` to ``end``, then it reverts."""
        return self._send_level(
            documents.set_auxiliary_controller_state,
            target=target,
            index=index,
            level=level,
            start=start,
            end=end,
            input_from_controlled_load=input_from_controlled_load,
            command_variant=command_variant,
            request_id=request_id,
            recorder=recorder,
        )

    def limit_apc_level(
        self,
        *,
        target: str,
        index: int,
        level: int,
        start: dt.datetime,
        end: dt.datetime,
        input_from_controlled_load: bool = False,
        command_variant: int = 5,
        request_id: RequestId | None = None,
        recorder: DocumentRecorder | None = None,
    ) -> SendOutcome:
        """SRV 7.16: cap APC ``index`` at ``level`` % until ``end``; a later 7.16 replaces it, level 100 lifts it."""
        return self._send_level(
            documents.limit_apc_level,
            target=target,
            index=index,
            level=level,
            start=start,
            end=end,
            input_from_controlled_load=input_from_controlled_load,
            command_variant=command_variant,
            request_id=request_id,
            recorder=recorder,
        )

    def _send_level(
        self,
        build: Callable[..., etree._Element],
        *,
        target: str,
        command_variant: int,
        request_id: RequestId | None,
        recorder: DocumentRecorder | None,
        **arguments: object,
    ) -> SendOutcome:
        """Build a 7.13 / 7.16 (checked before a counter is spent) and send it critically."""
        self._check_critical_cv(command_variant)
        build(request_id=_PROBE_ID, **arguments)
        request = build(request_id=self._request_id(target, request_id), **arguments)
        return self.send_critical(request, command_variant=command_variant, recorder=recorder)

    def read_auxiliary_load_switch_data(
        self,
        *,
        target: str,
        command_variant: int = 1,
        request_id: RequestId | None = None,
        recorder: DocumentRecorder | None = None,
    ) -> SendOutcome:
        """SRV 7.7: read the switches' configuration and state."""
        self._check_non_critical_cv(command_variant)
        rid = self._request_id(target, request_id)
        request = documents.read_auxiliary_load_switch_data(request_id=rid, command_variant=command_variant)
        return self.send_non_critical(request, recorder=recorder)

    def add_auxiliary_load_to_boost_button(
        self,
        *,
        target: str,
        indexes: Iterable[int],
        command_variant: int = 1,
        request_id: RequestId | None = None,
        recorder: DocumentRecorder | None = None,
    ) -> SendOutcome:
        """SRV 7.9: let the customer's boost button override curtailment of ``indexes``."""
        indexes = list(indexes) if not isinstance(indexes, str | bytes) else indexes
        return self._send_non_critical_checked(
            documents.add_auxiliary_load_to_boost_button,
            target=target,
            command_variant=command_variant,
            request_id=request_id,
            recorder=recorder,
            indexes=indexes,
        )

    def remove_auxiliary_load_from_boost_button(
        self,
        *,
        target: str,
        indexes: Iterable[int],
        command_variant: int = 1,
        request_id: RequestId | None = None,
        recorder: DocumentRecorder | None = None,
    ) -> SendOutcome:
        """SRV 7.10: take ``indexes`` off the boost button."""
        indexes = list(indexes) if not isinstance(indexes, str | bytes) else indexes
        return self._send_non_critical_checked(
            documents.remove_auxiliary_load_from_boost_button,
            target=target,
            command_variant=command_variant,
            request_id=request_id,
            recorder=recorder,
            indexes=indexes,
        )

    def read_boost_button_details(
        self,
        *,
        target: str,
        start: dt.datetime,
        end: dt.datetime,
        command_variant: int = 1,
        request_id: RequestId | None = None,
        recorder: DocumentRecorder | None = None,
    ) -> SendOutcome:
        """SRV 7.11: boost-button presses logged between ``start`` and ``end``."""
        return self._send_non_critical_checked(
            documents.read_boost_button_details,
            target=target,
            command_variant=command_variant,
            request_id=request_id,
            recorder=recorder,
            start=start,
            end=end,
        )

    def _send_non_critical_checked(
        self,
        build: Callable[..., etree._Element],
        *,
        target: str,
        command_variant: int,
        request_id: RequestId | None,
        recorder: DocumentRecorder | None,
        **arguments: object,
    ) -> SendOutcome:
        self._check_non_critical_cv(command_variant)
        # Validate the arguments (a throwaway build) before a counter is spent on them.
        build(request_id=_PROBE_ID, **arguments)
        rid = self._request_id(target, request_id)
        request = build(request_id=rid, command_variant=command_variant, **arguments)
        return self.send_non_critical(request, recorder=recorder)

    def return_local_command_response(
        self, *, original_request_id: RequestId, device_gbcs_response: bytes, recorder: DocumentRecorder | None = None
    ) -> tuple[RequestId, DuisResponse]:
        """SRV 8.13 (CV 8): give the DCC the device's response to a locally delivered command."""
        rid = self.new_request_id(DCC_EUI64)
        request = documents.return_local_command_response(
            request_id=rid, original_request_id=original_request_id, device_gbcs_response=device_gbcs_response
        )
        ack = self._send_and_accept(request, recorder=recorder)
        return rid, ack

    # ------------------------------------------------------------------ flows

    def _check_critical_cv(self, command_variant: int) -> None:
        if command_variant not in documents.CRITICAL_SEND_CVS:
            raise DccArgumentError(
                "command_variant", f"must be 5, 6 or 7 for a critical request, got {command_variant!r}"
            )
        self._check_local_delivery(command_variant)

    def _check_non_critical_cv(self, command_variant: int) -> None:
        if command_variant not in documents.NON_CRITICAL_CVS:
            raise DccArgumentError(
                "command_variant", f"must be 1, 2 or 3 for a non-critical request, got {command_variant!r}"
            )
        self._check_local_delivery(command_variant)

    def _check_local_delivery(self, command_variant: int) -> None:
        if command_variant in LOCAL_DELIVERY_CVS and self.local_delivery is None:
            raise DccArgumentError("command_variant", f"CV {command_variant} needs a local delivery interface")

    def send_critical(
        self,
        request: etree._Element,
        *,
        command_variant: int,
        expected_body: dict | None = None,
        recorder: DocumentRecorder | None = None,
    ) -> SendOutcome:
        """CV 4 -> check and sign the pre-command -> CV 5/6/7 with the same RequestID."""
        self._check_critical_cv(command_variant)
        parsed = documents.parse_request(request)
        if expected_body is None:
            expected_body = documents.request_parameters(parsed.srv, parsed.body)
        transform_ack = self._send_and_accept(request, recorder=recorder, stage="transform")
        if transform_ack.pre_command is None:
            raise DccPermanentError(
                "transform acknowledgement carries no pre-command", request_id=str(parsed.request_id)
            )
        signed_command = self._signed_pre_command(transform_ack.pre_command, parsed, expected_body)
        send = documents.signed_pre_command(
            request_id=parsed.request_id, srv=parsed.srv, command_variant=command_variant, gbcs_payload=signed_command
        )
        ack = self._send_and_accept(send, recorder=recorder)
        outcome = SendOutcome(
            request_id=parsed.request_id,
            srv=parsed.srv,
            command_variant=command_variant,
            acknowledgement=ack,
            pre_command=transform_ack.pre_command,
        )
        return self._deliver_locally(outcome, recorder=recorder)

    def send_non_critical(self, request: etree._Element, *, recorder: DocumentRecorder | None = None) -> SendOutcome:
        """CV 1/2/3: send, accept the acknowledgement, deliver locally for CV 2/3."""
        parsed = documents.parse_request(request)
        self._check_non_critical_cv(parsed.command_variant)
        ack = self._send_and_accept(request, recorder=recorder)
        outcome = SendOutcome(
            request_id=parsed.request_id, srv=parsed.srv, command_variant=parsed.command_variant, acknowledgement=ack
        )
        return self._deliver_locally(outcome, recorder=recorder)

    def _signed_pre_command(self, pre_command: bytes, parsed: documents.DuisRequest, expected_body: dict) -> bytes:
        """Sign the pre-command only if it is what we asked: DUIS makes the user responsible for it."""
        rid = parsed.request_id
        expected = pre_command_expectation(parsed, expected_body)
        try:
            return self.gbcs_signer.sign_pre_command(pre_command, expected)
        except gbcs.PreCommandMismatch as exc:
            raise DccPermanentError(
                f"pre-command does not match the request ({exc.field}: asked {exc.expected}, got {exc.found}); not signed",
                request_id=str(rid),
            ) from exc
        except gbcs.GbcsError as exc:
            raise DccPermanentError(
                f"pre-command is not readable GBCS ({exc}); not signed", request_id=str(rid)
            ) from exc

    def _deliver_locally(self, outcome: SendOutcome, *, recorder: DocumentRecorder | None) -> SendOutcome:
        if outcome.command_variant not in LOCAL_DELIVERY_CVS:
            return outcome
        command = outcome.acknowledgement.local_command
        wan_too = outcome.command_variant in {3, 7}
        try:
            if command is None:
                raise DccPermanentError(
                    "acknowledgement carries no command for local delivery", request_id=str(outcome.request_id)
                )
            assert self.local_delivery is not None  # checked before sending
            device_response = self.local_delivery.deliver(target=outcome.request_id.target, command=command)
            local_rid, local_ack = self.return_local_command_response(
                original_request_id=outcome.request_id, device_gbcs_response=device_response, recorder=recorder
            )
        except Exception as exc:
            if not wan_too:
                if isinstance(exc, DccError):
                    raise
                # The DCC acknowledged the request, so resending it would be a replay.
                raise DccTransientError(
                    f"local delivery failed: {exc}", request_id=str(outcome.request_id), acknowledged=True
                ) from exc
            # CV 3/7 also went over the WAN, which may still reach the device.
            logger.warning("local delivery of %s failed: %s", outcome.request_id, exc)
            return replace(outcome, local_error=str(exc))
        return replace(outcome, local_request_id=local_rid, local_response_ack=local_ack)

    # ------------------------------------------------------------------ documents

    def sign(self, request: etree._Element) -> bytes:
        """Sign ``request`` (schema-checked before and after when a schema is configured)."""
        self.schema.validate(request)
        document = self.signer.sign(request)
        if self.schema.enabled:
            self.schema.validate(parse_xml(document))
        return document

    def read_document(self, document: bytes) -> DuisResponse:
        """Verify the DCC's signature, then (optionally) the schema, then parse."""
        root = self.dcc_verifier.verify(document)
        self.schema.validate(root)
        return replace(documents.parse_response(root), raw=document)

    def _send_and_accept(
        self, request: etree._Element, *, recorder: DocumentRecorder | None, stage: str = "request"
    ) -> DuisResponse:
        parsed = documents.parse_request(request)
        document = self.sign(request)
        if recorder:
            recorder(stage, document)
        ack = self.submit(document, command_variant=parsed.command_variant, request_id=str(parsed.request_id))
        if recorder:
            recorder(f"{stage}-ack", ack.raw)
        if not is_accepted(ack.response_code):
            raise error_for_response_code(ack.response_code, request_id=str(parsed.request_id))
        return ack

    def submit(self, document: bytes, *, command_variant: int, request_id: str) -> DuisResponse:
        """POST a signed document, resending the same bytes only on transport failures."""
        url = self.base_url + SERVICE_PATHS[service_for_command_variant(command_variant)]
        last_error: Exception | None = None
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                time.sleep(backoff_seconds(attempt - 2, base=self.backoff_s))
            try:
                reply = self.session.post(
                    url,
                    data=document,
                    headers={"Content-Type": "application/xml"},
                    timeout=self.timeout,
                    cert=self.client_cert,
                    verify=self.verify_tls,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_error = DccTransientError(f"{url}: {exc}", request_id=request_id)
                continue
            if reply.status_code >= 500 or reply.status_code == 429:
                last_error = DccTransientError(f"{url}: HTTP {reply.status_code}", request_id=request_id)
                continue
            return self._read_acknowledgement(reply, request_id=request_id)
        assert last_error is not None
        raise last_error

    def _read_acknowledgement(self, reply: requests.Response, *, request_id: str) -> DuisResponse:
        try:
            ack = self.read_document(reply.content)
        except (DccDocumentError, DccSignatureError) as exc:
            if reply.status_code >= 400:
                raise DccPermanentError(f"HTTP {reply.status_code}: {reply.text[:200]}", request_id=request_id) from exc
            raise
        if ack.request_id != request_id:
            raise DccSignatureError(f"acknowledgement is for {ack.request_id}, not {request_id}")
        return ack
