"""Fixtures for the DCC client and simulator tests: keys, schema, a real callback server.

These tests read the DCC's reference documents and XSD from ``../shared/reference/``
(never copied into the repository).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from dcc.duis import (
    DccClient,
    DuisSigner,
    DuisVerifier,
    InMemoryCounterSource,
    SchemaValidator,
    default_schema_path,
    generate_identity,
)
from dcc.simulator import WAN_POOR, DccSimulator, HttpLocalDelivery, SimulatedDevice

REFERENCE_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "duis"
ORIGINATOR = "90-B3-D5-1F-30-01-00-00"
HCALCS = "00-DB-12-34-56-78-90-A0"  # new firmware, good WAN, switches 1..3
OLD_FIRMWARE = "00-DB-12-34-56-78-90-B0"  # no ENO use cases
POOR_WAN = "00-DB-12-34-56-78-90-C0"  # comms hub never answers over the WAN


def reference_path(name: str) -> Path:
    path = (REFERENCE_DIR / name).resolve()
    assert path.is_file(), f"reference document missing: {path}"
    return path


@pytest.fixture(scope="session")
def schema() -> SchemaValidator:
    path = default_schema_path()
    assert path is not None, "the DUIS 5.4 XSD must be at ../shared/reference/duis/schema/"
    return SchemaValidator(path)


@pytest.fixture(scope="session")
def user_signer() -> DuisSigner:
    return DuisSigner.from_pem(*generate_identity("U1"))


@pytest.fixture(scope="session")
def dcc_signer() -> DuisSigner:
    return DuisSigner.from_pem(*generate_identity("Z1"))


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
def simulator(user_signer, dcc_signer, receiver, schema) -> Iterator[DccSimulator]:
    devices = [
        SimulatedDevice(eui64=HCALCS, switch_indexes=(1, 2, 3)),
        SimulatedDevice(eui64=OLD_FIRMWARE, eno_firmware=False),
        SimulatedDevice(eui64=POOR_WAN, wan=WAN_POOR),
    ]
    sim = DccSimulator(
        dcc_signer=dcc_signer,
        user_verifier=DuisVerifier(cert=user_signer.cert),
        user_eui64=ORIGINATOR,
        callback_url=receiver.url,
        devices=devices,
        schema=schema,  # the simulator checks everything it emits (and receives)
        latency_s=(0.0, 0.02),
        seed=7,
    )
    sim.start()
    yield sim
    sim.stop()


def client_for(url: str, user_signer: DuisSigner, dcc_signer: DuisSigner, **options) -> DccClient:
    """A client of ``ORIGINATOR`` for the simulator at ``url`` (fresh in-memory counters
    unless ``options`` say otherwise; the rest of ``options`` as ``DccClient`` takes them)."""
    options.setdefault("counters", InMemoryCounterSource())
    return DccClient(url, user_signer, DuisVerifier(cert=dcc_signer.cert), originator=ORIGINATOR, **options)


@pytest.fixture
def dcc_client(simulator, user_signer, dcc_signer, schema) -> DccClient:
    return client_for(
        simulator.url,
        user_signer,
        dcc_signer,
        counters=InMemoryCounterSource(start=5000),
        timeout=5.0,
        schema=schema,
        local_delivery=HttpLocalDelivery(simulator.url),
        backoff_s=0.01,
    )


@pytest.fixture
def dcc_settings(settings, tmp_path, simulator, user_signer, dcc_signer):
    """Point ``settings.DCC`` at the simulator and at key files holding the test identities."""

    def write(name: str, data: bytes) -> str:
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)

    pem = serialization.Encoding.PEM
    settings.DCC = {
        **settings.DCC,
        "BASE_URL": simulator.url,
        "ORIGINATOR_EUI64": ORIGINATOR,
        "USER_KEY_PATH": write(
            "user.key.pem",
            user_signer.key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        ),
        "USER_CERT_PATH": write("user.cert.pem", user_signer.cert.public_bytes(pem)),
        "DCC_CERT_PATH": write("dcc.cert.pem", dcc_signer.cert.public_bytes(pem)),
        "SCHEMA_PATH": str(default_schema_path()),
        "TIMEOUT_S": 5.0,
    }
    return settings.DCC
