"""Real processes for end-to-end and browser tests: a uvicorn web server and a Celery worker
(with beat) as subprocesses against the test database and the harness's Redis, and the DCC
simulator on loopback HTTP.

Use the function fixture ``live_stack`` in a ``@pytest.mark.django_db(transaction=True)``
test: data the test writes is committed, so the web server and the worker see it.

* ``live_stack.web_url``: the uvicorn server (HTTP + WebSocket); the DCC simulator posts
  its asynchronous device responses and alerts to ``<web_url>/dcc/responses/``.
* ``live_stack.simulator``: the :class:`~dcc.simulator.DccSimulator`, running
  in this test process (its ``received`` list and ``device_state()`` are the DCC's view).
* ``live_stack.register_meters()``: tells the simulator about every meter in the database.
  DUIS addresses 7.6/7.8/7.9/7.10/7.11 to the **ESME** (``Meter.esme_eui64``) with the
  HCALCS's ``switch_index``, so the simulated device is the meter with its switch indexes.
* ``live_stack.kill_worker()`` / ``start_worker()``: SIGKILL and restart the worker.
* ``live_stack.stop_web()`` / ``start_web()``: stop and restart uvicorn on the same port
  (the simulator keeps the device responses it could not deliver and retries them).
* ``live_stack_without_beat``: the same, with a worker that runs no beat, for tests that
  play beat's part themselves at the moments they simulate.

The web server and simulator start once per session. Each test gets a purged task queue,
a simulator with no devices and no faults, and a freshly started worker, which is stopped
when the test ends so nothing writes while pytest-django empties the tables.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited ({proc.returncode}); log:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not up within {timeout} s; log:\n{log.read_text()[-4000:]}")


def wait_for_log_line(log: Path, needle: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited ({proc.returncode}); log:\n{log.read_text()[-4000:]}")
        if log.exists() and needle in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{needle!r} not in {log} within {timeout} s:\n{log.read_text()[-4000:]}")


@dataclass
class ManagedProcess:
    """A subprocess with its log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        handle = self.log.open("a")
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass
class LiveStack:
    """The running web server, worker and DCC simulator (see the module docstring)."""

    web_url: str
    simulator: object
    env: dict[str, str]
    dcc_settings: dict
    web: ManagedProcess
    worker: ManagedProcess
    workdir: Path
    extra: dict = field(default_factory=dict)

    def register_meters(self, meters: Iterable | None = None, *, poor_wan: Iterable[str] = ()) -> int:
        """Add every meter (or the given ones) to the simulator as a device with its HCALCS
        switch indexes (and APC indexes); ``poor_wan`` lists ESME EUI-64s whose WAN never answers."""
        from consent.models import Meter
        from dcc.services import device_certificates_store
        from dcc.simulator import WAN_OK, WAN_POOR, SimulatedDevice

        poor = set(poor_wan)
        meters = Meter.objects.prefetch_related("hcalcs") if meters is None else meters
        certificates = {}
        for meter in meters:
            indexes = tuple(h.switch_index for h in meter.hcalcs.all()) or (1,)
            apcs = [h for h in meter.hcalcs.all() if h.is_apc]
            device = SimulatedDevice(
                eui64=meter.esme_eui64,
                eno_firmware=meter.supports_eno_use_cases,
                wan=WAN_POOR if meter.esme_eui64 in poor else WAN_OK,
                switch_indexes=indexes,
                # An APC's charger draws its rated kW at 100 % (one maximum per device).
                apc_indexes=tuple(h.switch_index for h in apcs),
                **({"apc_max_kw": max(h.rated_kw for h in apcs)} if apcs else {}),
            )
            self.simulator.add_device(device)
            certificates[device.eui64] = device.certificates_pem()
        # What SMKI would publish: dnoctl authenticates each device's answers with these.
        device_certificates_store(certificates=certificates, source="simulator")
        return len(certificates)

    def kill_worker(self) -> None:
        """SIGKILL the worker (and its pool): a crash, not a shutdown."""
        self.worker.stop(signal.SIGKILL)

    def stop_web(self) -> None:
        self.web.stop()

    def start_web(self) -> None:
        if self.web.proc is not None and self.web.proc.poll() is None:
            return
        self.web.start()
        wait_for_http(f"{self.web_url}/healthz/web", self.web.proc, self.web.log)

    def start_worker(self) -> None:
        """Start the worker unless it is running; wait until it consumes tasks."""
        if self.worker.proc is not None and self.worker.proc.poll() is None:
            return
        self.worker.log.write_text("")  # "ready." must come from this start
        self.worker.start()
        wait_for_log_line(self.worker.log, "ready.", self.worker.proc)


def _database_url(settings_dict: dict) -> str:
    user = quote(settings_dict.get("USER") or "")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{quote(password)}@" if password else f"{user}@"
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


@pytest.fixture(scope="session")
def dcc_identities(tmp_path_factory) -> dict[str, Path]:
    """Development identities in a fresh key directory: our XML-signing and GBCS keys, and
    the simulated DCC's key (``dcc.config.KEY_FILES`` names them)."""
    from dcc.config import ensure_dev_keys

    keydir = tmp_path_factory.mktemp("keys")
    return {**ensure_dev_keys(keydir), "dir": keydir}


@pytest.fixture(scope="session")
def live_processes(django_db_setup, django_db_blocker, dcc_identities, collected_static, tmp_path_factory):
    """Start the simulator, web server and worker once for the session."""
    from django.conf import settings
    from django.db import connection

    from dcc.duis.signing import DuisSigner, load_certificate
    from dcc.simulator import DccSimulator, SimulatedUser

    workdir = tmp_path_factory.mktemp("live")
    web_port = free_port()
    web_url = f"http://127.0.0.1:{web_port}"
    us = SimulatedUser(
        eui64=settings.DCC["ORIGINATOR_EUI64"],
        xml_certs=(load_certificate(dcc_identities["XML_CERT_PATH"].read_bytes()),),
        gbcs_cert=load_certificate(dcc_identities["GBCS_CERT_PATH"].read_bytes()),
        gbcs_ka_cert=load_certificate(dcc_identities["GBCS_KA_CERT_PATH"].read_bytes()),
    )
    simulator = DccSimulator(
        dcc_signer=DuisSigner.from_files(dcc_identities["SIMULATOR_KEY_PATH"], dcc_identities["SIMULATOR_CERT_PATH"]),
        users=[us],
        callback_url=f"{web_url}/dcc/responses/",
        latency_s=(0.01, 0.05),
        # As the DCC does, undelivered device responses are kept (on disk, across a restart
        # of the simulator) and retried; fault tests stop the web server or the simulator.
        spool_dir=workdir / "dcc-spool",
        callback_retry_cap_s=2.0,
    ).start()

    dcc_settings = {
        **settings.DCC,
        "BASE_URL": simulator.url,
        "CALLBACK_URL": f"{web_url}/dcc/responses/",
        "KEY_DIR": dcc_identities["dir"],
        "LOCAL_DELIVERY": "simulator",  # the simulator's stand-in PPMID reaches poor-WAN meters
    }
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_database_url(connection.settings_dict),
        DB_CONN_MAX_AGE="0",
        DCC_BASE_URL=simulator.url,
        DCC_CALLBACK_URL=dcc_settings["CALLBACK_URL"],
        DCC_KEY_DIR=str(dcc_identities["dir"]),
        DCC_LOCAL_DELIVERY=dcc_settings["LOCAL_DELIVERY"],
        DJANGO_STATIC_ROOT=str(collected_static),
        PYTHONUNBUFFERED="1",
    )
    web = ManagedProcess(
        "web",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "dnoctl.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(web_port),
            "--log-level",
            "warning",
        ],
        env,
        workdir / "web.log",
    )
    worker = ManagedProcess(
        "worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dnoctl",
            "worker",
            "--beat",
            "--schedule",
            str(workdir / "beat"),
            "--pool",
            "threads",
            "--concurrency",
            "8",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        env,
        workdir / "worker.log",
    )
    stack = LiveStack(web_url, simulator, env, dcc_settings, web, worker, workdir)
    try:
        web.start()
        wait_for_http(f"{web_url}/healthz/web", web.proc, web.log)
        yield stack  # the worker is started per test by ``live_stack``
    finally:
        worker.stop()
        web.stop()
        simulator.stop()


@pytest.fixture
def live_stack(live_processes, transactional_db, settings):
    """A clean view of the session's processes for one test (see the module docstring)."""
    from dnoctl.celery import app as celery_app

    settings.DCC = live_processes.dcc_settings
    celery_app.control.purge()
    simulator = live_processes.simulator
    simulator.reset()
    live_processes.start_worker()
    yield live_processes
    # Quiesce before pytest-django truncates the tables: a worker (or its beat) still
    # writing while TRUNCATE takes its locks deadlocks the flush. So the worker runs only
    # during live tests, and callbacks the simulator has not delivered yet are dropped.
    live_processes.worker.stop()
    simulator.discard_pending_callbacks()
    celery_app.control.purge()


@pytest.fixture
def live_stack_without_beat(live_stack):
    """``live_stack`` with a worker that runs no beat: periodic checks run only when the test
    runs them, so a test moving the world's clock is never raced by one."""
    original = live_stack.worker
    original.stop()
    argv = list(original.argv)
    argv.remove("--beat")
    del argv[argv.index("--schedule") : argv.index("--schedule") + 2]
    live_stack.worker = ManagedProcess("worker", argv, original.env, original.log.with_name("worker-no-beat.log"))
    live_stack.start_worker()
    yield live_stack
    live_stack.worker.stop()
    live_stack.worker = original
