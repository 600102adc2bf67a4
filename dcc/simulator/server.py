"""The DCC simulator: DUIS web services (``serviceT``/``S``/``D``), device models and asynchronous
callbacks, on loopback; ``/sim/...`` admin JSON drives it from tests and demos.

Callbacks are kept (and spooled with ``spool_dir``) and retried with backoff until the user's
endpoint accepts them, as the DCC does; a 4xx is final. A spool survives a restart, so a test can
tell dnoctl's losses from the simulator's.

Anti-replay follows GBCS: a RequestID's counter must exceed every counter seen from that originator
for that target, except the CV 5/6/7 carrying an earlier CV 4's pre-command. A retransmission of an
answered document gets the same acknowledgement and is not executed twice.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import itertools
import logging
import os
import random
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from core.backoff import backoff_seconds
from dcc.duis import documents
from dcc.duis.alert_codes import BOOST_ALERT_CODE
from dcc.duis.errors import DccArgumentError, DccDocumentError, DccError, DccSignatureError
from dcc.duis.identifiers import RequestId, parse_eui64
from dcc.duis.schema import SchemaValidator
from dcc.duis.signing import DuisSigner, DuisVerifier

from . import device_gbcs
from .devices import WAN_OK, DeviceRegistry, SimulatedDevice
from .faults import FaultConfig
from .handler import SERVICE_BY_PATH, SimulatorHandler
from .rules import ELECTRICITY_DISTRIBUTOR, check_eligibility
from .users import SimulatedUser

logger = logging.getLogger(__name__)

# The DUIS list has specific codes for these; the numbers below are this simulator's
# choice (any E-code is a permanent failure for the client).
REPLAY_RESPONSE_CODE = "E42"
PRE_COMMAND_MISMATCH_CODE = "E43"
UNKNOWN_USER_CODE = "E1"
WRONG_URL_CODE = "E13"
WRONG_CV_CODE = "E12"
NO_DEVICE_CODE = "E19"
REORDER_HOLD_S = 2.0

_CV_SERVICE = {1: "S", 3: "S", 5: "S", 7: "S", 2: "D", 6: "D", 8: "D", 4: "T"}
_BODY_FOR_SRV = {
    "7.6": "DeactivateAuxiliaryLoad",
    "7.7": "ReadALCSData",
    "7.8": "ResetAuxiliaryLoad",
    "7.9": "AddAuxiliaryLoadToBoostButton",
    "7.10": "RemoveAuxiliaryLoadFromBoostButton",
    "7.11": "ReadBoostButtonDetails",
    "7.13": "SetAuxiliaryControllerState",
    "7.16": "LimitAPCLevel",
    "8.13": "ReturnLocalCommandResponse",
}
_SR = f"{{{documents.SR_NS}}}"
_LEVEL_BUILDERS = {"7.13": documents.set_auxiliary_controller_state, "7.16": documents.limit_apc_level}


MAX_REMEMBERED = 20_000  # answered requests / log entries kept (a long-running demo stays bounded)


def _trim(collection: list | dict) -> None:
    if len(collection) <= MAX_REMEMBERED:
        return
    if isinstance(collection, dict):
        for key in list(collection)[: MAX_REMEMBERED // 2]:
            del collection[key]
    else:
        del collection[: MAX_REMEMBERED // 2]


class DccSimulator:
    """An in-process or standalone DCC: ``start()`` it, use ``url``, ``stop()`` it."""

    def __init__(
        self,
        *,
        dcc_signer: DuisSigner,
        users: Iterable[SimulatedUser],
        rules: str = "secmp0046",
        callback_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_s: tuple[float, float] | Callable[[random.Random], float] = (0.01, 0.05),
        devices: Iterable[SimulatedDevice] = (),
        schema: SchemaValidator | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
        callback_timeout_s: float = 5.0,
        tls: ssl.SSLContext | None = None,
        spool_dir: str | os.PathLike | None = None,
        callback_retry_cap_s: float = 10.0,
    ) -> None:
        self.dcc_signer = dcc_signer
        self.users = {user.eui64: user for user in users}
        if not self.users:
            raise DccArgumentError("users", "the simulator needs at least one DCC user")
        self.user_verifier = DuisVerifier(certs=tuple(cert for user in self.users.values() for cert in user.xml_certs))
        check_eligibility(rules=rules, role=ELECTRICITY_DISTRIBUTOR, srv="7.7", device_has_eno_firmware=None)
        self.rules = rules
        self.callback_url = callback_url
        self.latency_s = latency_s
        self.schema = schema or SchemaValidator(None)
        self.faults = FaultConfig()
        self.devices = DeviceRegistry()
        for device in devices:
            self.devices.add(device)
        # The DCC's access-control-broker key: it MACs every command the DCC sends a device.
        self._acb_ka_key = ec.generate_private_key(ec.SECP256R1())
        self.callback_timeout_s = callback_timeout_s
        self.callback_retry_cap_s = callback_retry_cap_s
        self.spool_dir = Path(spool_dir) if spool_dir is not None else None
        if self.spool_dir is not None:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
        # Callbacks not yet accepted by the user's endpoint: name -> signed document.
        self._undelivered: dict[str, bytes] = {}
        self._clock = clock
        self._offset = 0.0
        self._random = random.Random(seed)
        self._lock = threading.RLock()
        self._highest: dict[tuple[str, str], int] = {}  # (originator, target) -> counter
        self._pending: dict[str, bytes] = {}  # RequestID -> pre-command issued, not yet sent
        self._issued: dict[str, str] = {}  # RequestID -> SRV, for commands that went to a device
        self._answered: dict[tuple[str, int], tuple[str, bytes]] = {}  # (RequestID, CV) -> (digest, ack)
        self._alert_counter = itertools.count(1)
        self._held: bytes | None = None  # response held back by the reorder fault
        self.received: list[tuple[str, int, str]] = []  # (RequestID, CV, response code) per DUIS request
        self.held_requests = 0  # requests the hold_cv fault has kept waiting
        self.deliveries: list[tuple[int | str | None, bytes]] = []  # (HTTP status or error, document)
        self._outbox: list[tuple[float, int, Callable[[], None]]] = []
        self._outbox_seq = itertools.count()
        self._outbox_cv = threading.Condition()
        self._stopping = False
        self._tls = tls
        self._scheme = "http" if tls is None else "https"
        self._httpd: ThreadingHTTPServer | None = None
        self._address = self._bind(host, port)  # bound now, so ``url`` is known before start()
        self._threads: list[threading.Thread] = []
        self._session = requests.Session()

    def _bind(self, host: str, port: int) -> tuple[str, int]:
        self._httpd = ThreadingHTTPServer((host, port), SimulatorHandler)
        self._httpd.daemon_threads = True
        if self._tls is not None:
            # HTTPS (with client certificates when the context requires them), as the DCC
            # serves its DUIS interface; the handshake happens in each handler thread.
            self._httpd.socket = self._tls.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._httpd.simulator = self  # type: ignore[attr-defined]
        return self._httpd.server_address[:2]

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        host, port = self._address
        return f"{self._scheme}://{host}:{port}"

    @property
    def running(self) -> bool:
        return bool(self._threads)

    def start(self) -> DccSimulator:
        """Serve and deliver callbacks; after :meth:`stop`, on the same address with the same state."""
        if self._httpd is None:
            self._bind(*self._address)
        with self._outbox_cv:
            self._stopping = False
        httpd = self._httpd
        # A short poll interval keeps stop() quick (shutdown waits for the next poll).
        serve = lambda: httpd.serve_forever(poll_interval=0.05)  # noqa: E731
        for target, name in ((serve, "dcc-sim-http"), (self._deliver_loop, "dcc-sim-callbacks")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self._spool_load()
        return self

    def stop(self) -> None:
        """Stop serving and delivering (a DCC outage); :meth:`start` resumes."""
        if self._httpd is not None:
            if self._threads:
                self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        with self._outbox_cv:
            self._stopping = True
            self._outbox_cv.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> DccSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ clock & admin

    def now(self) -> float:
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the simulated clock forward (device durations expire against it)."""
        with self._lock:
            self._offset += seconds

    def discard_pending_callbacks(self) -> int:
        """Drop responses and alerts not yet posted (a harness quiescing); returns how many."""
        with self._outbox_cv:
            dropped = len(self._outbox)
            self._outbox.clear()
            names, self._undelivered = list(self._undelivered), {}
        for name in names:
            self._spool_remove(name)
        return dropped + len(names)

    def reset(self) -> None:
        """A fresh DCC for the next test; anti-replay counters are kept, as a real DCC never forgets them."""
        with self._lock:
            self._offset = 0.0
            self.devices = DeviceRegistry()
            self.faults = FaultConfig()
            self.received.clear()
            self.deliveries.clear()
            self.held_requests = 0
        self.discard_pending_callbacks()

    def add_device(self, device: SimulatedDevice) -> None:
        self.devices.add(device)

    def device_state(self, eui64: str) -> dict[str, Any] | None:
        device = self.devices.get(parse_eui64(eui64))
        with self.devices.lock:
            return None if device is None else device.to_json(self.now())

    def set_rules(self, rules: str) -> None:
        check_eligibility(rules=rules, role=ELECTRICITY_DISTRIBUTOR, srv="7.7", device_has_eno_firmware=None)
        self.rules = rules

    def press_boost(self, eui64: str) -> list[int]:
        """Inject a boost press: restore boosted switches and raise the meter's alert 0x8161."""
        device = self.devices.get(parse_eui64(eui64))
        if device is None:
            raise KeyError(eui64)
        # Alerts go to every user the simulator serves (one callback URL stands in for each).
        user = next(iter(self.users.values()))
        with self.devices.lock:
            now = self.now()
            restored = device.press_boost(now)
            payload = device_gbcs.boost_alert(device=device, user=user, now=now)
        response_id = f"{device.eui64}:{user.eui64}:{device.alert_counter}"
        alert = documents.build_response(
            request_id=None,
            response_id=response_id,
            response_code="I0",
            alert_code=BOOST_ALERT_CODE,
            gbcs_payload=payload,
        )
        self._schedule(self._latency(), lambda: self._post(self._sign(alert)))
        return restored

    def device_certificates(self, eui64: str) -> dict[str, str]:
        """A device's GBCS certificates (PEM, ``"DS"`` and ``"KA"``), as SMKI publishes them."""
        device = self.devices.get(parse_eui64(eui64))
        if device is None:
            raise KeyError(eui64)
        return device.certificates_pem()

    # ------------------------------------------------------------------ DUIS requests

    def handle_duis(self, path: str, document: bytes) -> tuple[int, bytes, str]:
        """Process one DUIS POST; returns (HTTP status, body, content type)."""
        with self._lock:
            if self.faults.http_503 > 0:
                self.faults.http_503 -= 1
                return 503, b"service temporarily unavailable", "text/plain"
        try:
            root, signer_cert = self.user_verifier.verify_with_signer(document)
            self.schema.validate(root)
            request = documents.parse_request(root)
            user = self.users.get(request.request_id.originator)
            if user is None or signer_cert not in user.xml_certs:
                # The DCC checks the signer is the originator the RequestID names.
                raise DccSignatureError(f"signed by a certificate that is not {request.request_id.originator}'s")
        except DccSignatureError as exc:
            logger.warning("simulator refused a request: %s", exc)
            return 403, str(exc).encode(), "text/plain"
        except DccDocumentError as exc:
            logger.warning("simulator refused a request: %s", exc)
            return 400, str(exc).encode(), "text/plain"
        self._hold(request.command_variant)
        digest = hashlib.sha256(etree.tostring(root, method="c14n", exclusive=True)).hexdigest()
        with self._lock:
            key = (str(request.request_id), request.command_variant)
            if key in self._answered and self._answered[key][0] == digest:
                return 200, self._answered[key][1], "application/xml"
            try:
                code, ack = self._process(SERVICE_BY_PATH[path], request)
            except DccError as exc:  # e.g. a body the schema would have refused
                logger.warning("simulator refused %s: %s", request.request_id, exc)
                return 400, str(exc).encode(), "text/plain"
            self._answered[key] = (digest, ack)
            _trim(self._answered)
            self.received.append((str(request.request_id), request.command_variant, code))
            _trim(self.received)
        return 200, ack, "application/xml"

    def _hold(self, command_variant: int) -> None:
        """The ``hold_cv`` fault: keep this request waiting (counted in ``held_requests``)."""
        faults = self.faults
        if faults.hold_cv != command_variant or faults.hold_s <= 0:
            return
        with self._lock:
            self.held_requests += 1
        time.sleep(faults.hold_s)

    def _ack(self, request: documents.DuisRequest, code: str, **payload: bytes) -> tuple[str, bytes]:
        rid = request.request_id
        srv = request.srv if request.srv in _BODY_FOR_SRV else "7.7"
        root = documents.build_response(
            request_id=str(rid), response_id=rid.response_id(), response_code=code, srv=srv, **payload
        )
        return code, self._sign(root)

    def _process(self, service: str, request: documents.DuisRequest) -> tuple[str, bytes]:
        rid, cv, srv = request.request_id, request.command_variant, request.srv
        user = self.users.get(rid.originator)
        if user is None:
            return self._ack(request, UNKNOWN_USER_CODE)
        is_pre_command_send = cv in (5, 6, 7) and str(rid) in self._pending
        pair = (rid.originator, rid.target)
        if rid.counter <= self._highest.get(pair, -1) and not is_pre_command_send:
            return self._ack(request, REPLAY_RESPONSE_CODE)
        self._highest[pair] = max(rid.counter, self._highest.get(pair, -1))
        if _CV_SERVICE.get(cv) != service:
            return self._ack(request, WRONG_URL_CODE)
        if not self._cv_fits(srv, cv, request.body):
            return self._ack(request, WRONG_CV_CODE)
        device = None
        if srv != "8.13":
            device = self.devices.get(rid.target)
            if device is None:
                return self._ack(request, NO_DEVICE_CODE)
        decision = check_eligibility(
            rules=self.rules,
            role=user.role,
            srv=srv,
            device_has_eno_firmware=None if device is None else device.eno_firmware,
        )
        if decision.code:
            logger.info("simulator rejected %s: %s", rid, decision.reason)
            return self._ack(request, decision.code)
        if self.faults.force_code and self.faults.force_code_srv in (None, srv):
            return self._ack(request, self.faults.force_code)
        if cv == 4:
            return self._transform(request)
        if cv in (5, 6, 7):
            return self._send_pre_command(request, device, user)
        if cv == 8:
            return self._return_local_response(request)
        return self._send_non_critical(request, device)

    def _cv_fits(self, srv: str, cv: int, body: etree._Element) -> bool:
        tag = etree.QName(body).localname
        if srv in documents.CRITICAL_SRVS:
            return (cv == 4 and tag == _BODY_FOR_SRV[srv]) or (cv in (5, 6, 7) and tag == "SignedPreCommand")
        if srv in documents.NON_CRITICAL_SRVS:
            return cv in (1, 2, 3) and tag == _BODY_FOR_SRV[srv]
        return srv == "8.13" and cv == 8 and tag == _BODY_FOR_SRV[srv]

    def _transform(self, request: documents.DuisRequest) -> tuple[str, bytes]:
        pre_command = device_gbcs.pre_command_for(request, stretch=self.faults.stretch_pre_command)
        self._pending[str(request.request_id)] = pre_command
        return self._ack(request, "I0", pre_command=pre_command)

    def _send_pre_command(
        self, request: documents.DuisRequest, device: SimulatedDevice, user: SimulatedUser
    ) -> tuple[str, bytes]:
        rid = request.request_id
        signed = base64.b64decode(request.body.findtext(_SR + "GBCSPayload") or "")
        issued = self._pending.get(str(rid))
        try:
            if issued is None:
                raise DccSignatureError("no pre-command was issued for this request")
            device_gbcs.signed_command_check(signed, issued=issued, user=user)
        except DccSignatureError as exc:
            logger.info("simulator refused the signed pre-command of %s: %s", rid, exc)
            return self._ack(request, PRE_COMMAND_MISMATCH_CODE)
        del self._pending[str(rid)]
        command = device_gbcs.device_command(signed, acb_ka_key=self._acb_ka_key, device=device)
        body = documents.request_parameters(request.srv, self._transformed_body(request, issued))
        return self._dispatch(request, device, body, local_command=command)

    def _transformed_body(self, request: documents.DuisRequest, pre_command: bytes) -> etree._Element:
        """The DUIS body a pre-command came from, rebuilt from the pre-command itself."""
        from dcc import gbcs

        command = gbcs.parse_pre_command(pre_command)
        rid = request.request_id
        if command.service in _LEVEL_BUILDERS:
            return _LEVEL_BUILDERS[command.service](
                request_id=rid,
                index=command.switch_index,
                level=command.level,
                start=command.start,
                end=command.end,
                input_from_controlled_load=command.input_from_controlled_load,
            ).find(f"{_SR}Body")[0]
        if command.service == "7.6":
            return documents.deactivate_auxiliary_load(
                request_id=rid, index=command.switch_index, duration_minutes=command.duration_minutes
            ).find(f"{_SR}Body")[0]
        return documents.reset_auxiliary_load(request_id=rid, index=command.switch_index).find(f"{_SR}Body")[0]

    def _send_non_critical(self, request: documents.DuisRequest, device: SimulatedDevice) -> tuple[str, bytes]:
        body = documents.request_parameters(request.srv, request.body)
        command = device_gbcs.non_critical_command(request, acb_ka_key=self._acb_ka_key, device=device)
        return self._dispatch(request, device, body, local_command=command)

    def _dispatch(
        self, request: documents.DuisRequest, device: SimulatedDevice, body: dict[str, Any], *, local_command: bytes
    ) -> tuple[str, bytes]:
        cv = request.command_variant
        self._issued[str(request.request_id)] = request.srv
        _trim(self._issued)
        if cv in (1, 3, 5, 7) and device.wan == WAN_OK:
            # Poor-WAN comms hubs never answer over the WAN: no response is ever posted.
            rid, srv = request.request_id, request.srv
            self._schedule(self._latency(response=True), lambda: self._execute_and_respond(device, rid, srv, body))
        if cv in (2, 3, 6, 7):
            return self._ack(request, "I0", local_command=local_command)
        return self._ack(request, "I0")

    def _return_local_response(self, request: documents.DuisRequest) -> tuple[str, bytes]:
        from dcc import gbcs

        original = RequestId.parse(request.body.findtext(_SR + "OriginalRequestID"))
        device_response = base64.b64decode(request.body.findtext(_SR + "DeviceGBCSResponse") or "")
        srv = self._issued.get(str(original))
        try:
            answer = gbcs.parse_response(device_response)
        except gbcs.GbcsError:
            answer = None
        if (
            srv is None
            or answer is None
            or (answer.originator, answer.recipient, answer.counter)
            != (original.target, original.originator, original.counter)
        ):
            return self._ack(request, PRE_COMMAND_MISMATCH_CODE)
        # Like the DCC's own post-processing, forward the device's response for the original
        # request to the user's endpoint, so every outcome arrives the same way.
        response = documents.build_response(
            request_id=str(original),
            response_id=original.response_id(),
            response_code="I0",
            srv=srv,
            gbcs_payload=device_response,
        )
        self._schedule(self._latency(response=True), lambda: self._post_with_faults(self._sign(response)))
        return self._ack(request, "I0", gbcs_payload=device_response)

    # ------------------------------------------------------------------ devices

    def _run_on_device(
        self, device: SimulatedDevice, originator: str, counter: int, rid: str, srv: str, body: dict[str, Any]
    ) -> bytes:
        """The device runs the command (once per RequestID) and answers in GBCS."""
        user = self.users[originator]
        with self.devices.lock:
            now = self.now()
            result = device.execute(request_id=rid, srv=srv, body=body, now=now)
            return device_gbcs.device_response(
                device=device, user=user, srv=srv, counter=counter, body=body, result=result, now=now
            )

    def _execute_and_respond(self, device: SimulatedDevice, rid: RequestId, srv: str, body: dict[str, Any]) -> None:
        payload = self._run_on_device(device, rid.originator, rid.counter, str(rid), srv, body)
        response = documents.build_response(
            request_id=str(rid), response_id=rid.response_id(), response_code="I0", srv=srv, gbcs_payload=payload
        )
        self._post_with_faults(self._sign(response))

    def local_deliver(self, eui64: str, command: bytes) -> bytes:
        """What a PPMID/HHT achieves on the HAN: the device checks and runs the command."""
        device = self.devices.get(parse_eui64(eui64))
        if device is None:
            raise KeyError(eui64)
        read = device_gbcs.device_command_read(
            command, device=device, acb_ka_public_key=self._acb_ka_key.public_key(), users=self.users
        )
        rid = f"{read.originator}:{device.eui64}:{read.counter}"
        return self._run_on_device(device, read.originator, read.counter, rid, read.srv, read.body)

    # ------------------------------------------------------------------ callbacks

    def _latency(self, *, response: bool = False) -> float:
        if callable(self.latency_s):
            delay = float(self.latency_s(self._random))
        else:
            low, high = self.latency_s
            delay = self._random.uniform(low, high)
        return delay + (self.faults.delay_s if response else 0.0)

    def _sign(self, root: etree._Element) -> bytes:
        self.schema.validate(root)
        return self.dcc_signer.sign(root)

    def _schedule(self, delay: float, job: Callable[[], None]) -> None:
        with self._outbox_cv:
            heapq.heappush(self._outbox, (time.monotonic() + delay, next(self._outbox_seq), job))
            self._outbox_cv.notify()

    def _deliver_loop(self) -> None:
        while True:
            with self._outbox_cv:
                while not self._stopping and (not self._outbox or self._outbox[0][0] > time.monotonic()):
                    timeout = None if not self._outbox else max(0.0, self._outbox[0][0] - time.monotonic())
                    self._outbox_cv.wait(timeout)
                if self._stopping:
                    return
                _, _, job = heapq.heappop(self._outbox)
            try:
                job()
            except Exception:  # a bad callback must not stop the simulator
                logger.exception("simulator callback job failed")

    def _post_with_faults(self, document: bytes) -> None:
        if self._random.random() < self.faults.drop:
            self.deliveries.append(("dropped", document))
            return
        if self.faults.reorder:
            # Hold this response until the next one has gone out, so the next overtakes it;
            # a response left alone is released after REORDER_HOLD_S so none is lost.
            with self._lock:
                held, self._held = self._held, (None if self._held else document)
            if held is None:
                self._schedule(REORDER_HOLD_S, lambda: self._release_held(document))
                return
            self._post(document)
            document = held
        self._post(document)
        if self._random.random() < self.faults.duplicate:
            self._post(document)

    def _release_held(self, document: bytes) -> None:
        with self._lock:
            if self._held is not document:
                return
            self._held = None
        self._post(document)

    def _post(self, document: bytes) -> None:
        """Deliver a signed document to the callback URL, retrying with backoff until accepted; a 4xx is final."""
        if not self.callback_url:
            self.deliveries.append((None, document))
            return
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        with self._outbox_cv:
            self._undelivered[name] = document
        self._spool_write(name, document)
        self._try_delivery(name, 0)

    def _try_delivery(self, name: str, attempt: int) -> None:
        with self._outbox_cv:
            document = self._undelivered.get(name)
        if document is None:
            return  # discarded meanwhile
        try:
            reply = self._session.post(
                self.callback_url,
                data=document,
                headers={"Content-Type": "application/xml"},
                timeout=self.callback_timeout_s,
            )
            outcome: int | str = reply.status_code
        except requests.RequestException as exc:
            outcome = f"error: {exc}"
        if isinstance(outcome, int) and outcome < 500:
            with self._outbox_cv:
                self._undelivered.pop(name, None)
            self._spool_remove(name)
            self.deliveries.append((outcome, document))
            _trim(self.deliveries)
            return
        delay = backoff_seconds(attempt, base=0.2, cap=self.callback_retry_cap_s, rng=self._random)
        logger.info("callback %s not delivered (%s); trying again in %.1f s", name, outcome, delay)
        self._schedule(delay, lambda: self._try_delivery(name, attempt + 1))

    # ------------------------------------------------------------------ spool

    def _spool_write(self, name: str, document: bytes) -> None:
        if self.spool_dir is None:
            return
        tmp = self.spool_dir / f".{name}.tmp"
        tmp.write_bytes(document)
        tmp.replace(self.spool_dir / f"{name}.xml")

    def _spool_remove(self, name: str) -> None:
        if self.spool_dir is not None:
            (self.spool_dir / f"{name}.xml").unlink(missing_ok=True)

    def _spool_load(self) -> None:
        if self.spool_dir is None:
            return
        for path in sorted(self.spool_dir.glob("*.xml")):
            name = path.stem
            with self._outbox_cv:
                if name in self._undelivered:
                    continue
                self._undelivered[name] = path.read_bytes()
            self._schedule(0.0, lambda name=name: self._try_delivery(name, 0))

    def undelivered_callbacks(self) -> int:
        """How many device responses and alerts wait for the user's endpoint to accept them."""
        with self._outbox_cv:
            return len(self._undelivered)
