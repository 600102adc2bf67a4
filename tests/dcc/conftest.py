"""Fixtures for the DCC client and simulator tests: keys, schemas, a real callback server.

Documents are schema-checked against the DUIS XSD in the DCC's signing tool (installed by
``make test``) and, where ``../shared/reference/`` is present, against the DUIS 5.4 XSD too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from dcc.duis import (
    DccClient,
    DuisSigner,
    DuisVerifier,
    GbcsSigner,
    InMemoryCounterSource,
    SchemaValidator,
    generate_identity,
)
from dcc.duis.signing import load_certificate
from dcc.gbcs.certificates import identity_make as gbcs_identity_make
from dcc.services import device_certificates_store
from dcc.simulator import WAN_POOR, DccSimulator, HttpLocalDelivery, SimulatedDevice, SimulatedUser
from tests.judges import SHARED_REFERENCE, jar_duis_schema

ORIGINATOR = "90-B3-D5-1F-30-01-00-00"
HCALCS = "00-DB-12-34-56-78-90-A0"  # new firmware, good WAN, switches 1..3
OLD_FIRMWARE = "00-DB-12-34-56-78-90-B0"  # no ENO use cases
POOR_WAN = "00-DB-12-34-56-78-90-C0"  # comms hub never answers over the WAN
DUIS_5_4_XSD = SHARED_REFERENCE / "duis" / "schema" / "DUIS_Schema_V5.4.xsd"


class EverySchema(SchemaValidator):
    """Validates against several XSDs in turn (the signing tool's 5.1, and 5.4 when present)."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__(paths[0])
        self.validators = [SchemaValidator(path) for path in paths]

    def validate(self, root: etree._Element) -> None:
        for validator in self.validators:
            validator.validate(root)


@pytest.fixture(scope="session")
def duis_schema_paths(tmp_path_factory) -> list[Path]:
    """The DCC signing tool's DUIS XSD, then the DUIS 5.4 XSD when ``../shared`` has it."""
    paths = [jar_duis_schema(tmp_path_factory.mktemp("duis-xsd"))]
    if DUIS_5_4_XSD.is_file():
        paths.append(DUIS_5_4_XSD)
    return paths


@pytest.fixture(scope="session")
def schema(duis_schema_paths) -> SchemaValidator:
    return EverySchema(duis_schema_paths)


@pytest.fixture(scope="session")
def user_signer() -> DuisSigner:
    """Our XML-signing identity."""
    return DuisSigner.from_pem(*generate_identity("U1"))


@pytest.fixture(scope="session")
def user_gbcs_signer() -> GbcsSigner:
    """Our GBCS digital-signing identity: a different key from the XML one, as at the DCC, with
    a certificate naming our EUI-64 as SMKI's do (the DCC checks it is the originator's)."""
    return GbcsSigner.from_pem(*gbcs_identity_make(eui64=ORIGINATOR, usage="DS", device=False))


@pytest.fixture(scope="session")
def user_gbcs_ka() -> tuple[bytes, bytes]:
    """Our GBCS key-agreement identity ``(key PEM, certificate PEM)``: devices MAC their answers with it."""
    return gbcs_identity_make(eui64=ORIGINATOR, usage="KA", device=False)


@pytest.fixture(scope="session")
def dcc_signer() -> DuisSigner:
    return DuisSigner.from_pem(*generate_identity("Z1"))


def simulated_user(
    user_signer: DuisSigner, user_gbcs_signer: GbcsSigner, user_gbcs_ka: tuple[bytes, bytes], eui64: str = ORIGINATOR
) -> SimulatedUser:
    return SimulatedUser(
        eui64=eui64,
        xml_certs=(user_signer.cert,),
        gbcs_cert=user_gbcs_signer.cert,
        gbcs_ka_cert=load_certificate(user_gbcs_ka[1]),
    )


class CallbackReceiver:
    """A real HTTP endpoint standing in for ``POST /dcc/responses/``: it keeps every body."""

    def __init__(self) -> None:
        self.documents: list[bytes] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.documents.append(body)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/dcc/responses/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_in_threads(target: Callable[[], None], count: int) -> None:
    """Run ``target`` in ``count`` threads at once and wait for all of them."""
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def wait_until(condition: Callable[[], object], *, timeout: float = 10.0, poll_s: float = 0.01) -> object:
    """Poll ``condition`` until it is truthy (asynchronous deliveries); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError("condition not met in time")


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def simulator(user_signer, user_gbcs_signer, user_gbcs_ka, dcc_signer, receiver, schema) -> Iterator[DccSimulator]:
    devices = [
        SimulatedDevice(eui64=HCALCS, switch_indexes=(1, 2, 3)),
        SimulatedDevice(eui64=OLD_FIRMWARE, eno_firmware=False),
        SimulatedDevice(eui64=POOR_WAN, wan=WAN_POOR),
    ]
    sim = DccSimulator(
        dcc_signer=dcc_signer,
        users=[simulated_user(user_signer, user_gbcs_signer, user_gbcs_ka)],
        callback_url=receiver.url,
        devices=devices,
        schema=schema,  # the simulator checks everything it emits (and receives)
        latency_s=(0.0, 0.02),
        seed=7,
    )
    sim.start()
    yield sim
    sim.stop()


def client_for(
    url: str, user_signer: DuisSigner, dcc_signer: DuisSigner, gbcs_signer: GbcsSigner, **options
) -> DccClient:
    """A client of ``ORIGINATOR`` for the simulator at ``url`` (fresh in-memory counters
    unless ``options`` say otherwise; the rest of ``options`` as ``DccClient`` takes them)."""
    options.setdefault("counters", InMemoryCounterSource())
    return DccClient(
        url,
        user_signer,
        DuisVerifier.trusting(dcc_signer.cert),
        gbcs_signer=gbcs_signer,
        originator=ORIGINATOR,
        **options,
    )


@pytest.fixture
def dcc_client(simulator, user_signer, user_gbcs_signer, dcc_signer, schema) -> DccClient:
    return client_for(
        simulator.url,
        user_signer,
        dcc_signer,
        user_gbcs_signer,
        counters=InMemoryCounterSource(start=5000),
        timeout=5.0,
        schema=schema,
        local_delivery=HttpLocalDelivery(simulator.url),
        backoff_s=0.01,
    )


@pytest.fixture
def dcc_settings(
    settings, tmp_path, simulator, user_signer, user_gbcs_signer, user_gbcs_ka, dcc_signer, duis_schema_paths
):
    """Point ``settings.DCC`` at the simulator and at key files holding the test identities, and
    hold the simulated devices' certificates as SMKI would publish them (needs the database)."""

    def write(name: str, data: bytes) -> str:
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)

    def private(key) -> bytes:
        return key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    pem = serialization.Encoding.PEM
    settings.DCC = {
        **settings.DCC,
        "BASE_URL": simulator.url,
        "ORIGINATOR_EUI64": ORIGINATOR,
        "XML_KEY_PATH": write("user-xml.key.pem", private(user_signer.key)),
        "XML_CERT_PATH": write("user-xml.cert.pem", user_signer.cert.public_bytes(pem)),
        "GBCS_KEY_PATH": write("user-gbcs.key.pem", private(user_gbcs_signer.key)),
        "GBCS_CERT_PATH": write("user-gbcs.cert.pem", user_gbcs_signer.cert.public_bytes(pem)),
        "GBCS_KA_KEY_PATH": write("user-gbcs-ka.key.pem", user_gbcs_ka[0]),
        "GBCS_KA_CERT_PATH": write("user-gbcs-ka.cert.pem", user_gbcs_ka[1]),
        "DCC_CERT_PATHS": [write("dcc.cert.pem", dcc_signer.cert.public_bytes(pem))],
        "LOCAL_DELIVERY": "simulator",
        "SCHEMA_PATH": str(duis_schema_paths[-1]),
        "TIMEOUT_S": 5.0,
    }
    device_certificates_store(
        certificates={device.eui64: device.certificates_pem() for device in simulator.devices.all()}, source="test"
    )
    return settings.DCC
