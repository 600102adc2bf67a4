"""The embedded stack: everything ``make demo`` runs, in one process, with no servers. Each part
is started by a small function so a test can start the same entry point and stop it with a
signal."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command

from core.roles import ENGINEER, OPERATOR, VIEWER, role_grant, roles_ensure

logger = logging.getLogger(__name__)

# Demo logins, printed at start-up. The embedded mode is a laptop demo with synthetic data;
# production mode has no such users.
DEMO_USERS = {
    "operator": (OPERATOR, "operator-demo"),
    "viewer": (VIEWER, "viewer-demo"),
    "engineer": (ENGINEER, "engineer-demo"),
}


@dataclass
class EmbeddedOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    dcc_port: int = 0
    premises: int = 10_000
    feeders: int = 200
    substations: int = 20
    speed: float = 60.0
    telemetry: bool = True
    vtn_port: int = 0
    asp: bool = True
    asp_delivers: float = 0.6


def demo_users_ensure() -> None:
    roles_ensure()
    for username, (group, password) in DEMO_USERS.items():
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_password(password)
            user.save()
        role_grant(user=user, role=group)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_static_files() -> None:
    """Repeated at every start so an updated checkout never serves yesterday's files."""
    call_command("collectstatic", interactive=False, verbosity=0)


def prepare_database(options: EmbeddedOptions, stdout) -> None:
    call_command("migrate", interactive=False, verbosity=0)
    call_command(
        "seed_demo",
        premises=options.premises,
        feeders=options.feeders,
        substations=options.substations,
        stdout=stdout,
    )
    demo_users_ensure()


@contextlib.contextmanager
def dcc_simulator_running(options: EmbeddedOptions, web_url: str) -> Iterator[object]:
    from consent.models import Meter
    from dcc.config import build_simulator, ensure_dev_keys
    from dcc.services import device_certificates_store
    from dcc.simulator import SimulatedDevice

    ensure_dev_keys()
    callback = f"{web_url}/dcc/responses/"
    port = options.dcc_port or free_port()
    # settings.DCC is read on every use, so pointing it at the simulator here is enough
    # for the web views and the worker thread of this process.
    # The simulator's stand-in PPMID is the demo's local delivery channel for poor-WAN meters.
    settings.DCC.update(BASE_URL=f"http://127.0.0.1:{port}", CALLBACK_URL=callback, LOCAL_DELIVERY="simulator")
    devices = [
        SimulatedDevice(
            eui64=meter.esme_eui64,
            eno_firmware=meter.supports_eno_use_cases,
            switch_indexes=tuple(h.switch_index for h in meter.hcalcs.all()),
            # The demo's throttleable chargers follow their 7.16 level (as dcc_simulator --from-db).
            apc_indexes=tuple(h.switch_index for h in meter.hcalcs.all() if h.is_apc),
            apc_max_kw=max((h.rated_kw for h in meter.hcalcs.all() if h.is_apc), default=7.4),
        )
        for meter in Meter.objects.filter(hcalcs__isnull=False).distinct().prefetch_related("hcalcs")
    ]
    # What SMKI would publish: dnoctl authenticates each device's GBCS answers with these.
    device_certificates_store(
        certificates={device.eui64: device.certificates_pem() for device in devices}, source="simulator"
    )
    simulator = build_simulator(port=port, callback_url=callback, devices=devices, latency_s=(0.2, 1.5)).start()
    try:
        yield simulator
    finally:
        simulator.stop()


class WorkerSupervisor:
    """Restarts the embedded worker whenever it stops unasked, as systemd restarts a production
    one: a demo left running must not lose its worker silently."""

    RESTART_DELAY_S = 1.0

    def __init__(self, app, *, concurrency: int = 4, loglevel: str = "WARNING") -> None:
        self.app = app
        self.concurrency = concurrency
        self.loglevel = loglevel
        self.starts = 0  # how many workers it has started (restarts + 1)
        self.worker = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="embedded-celery-worker", daemon=True)

    def start(self) -> WorkerSupervisor:
        from celery.contrib.testing.worker import setup_app_for_worker

        setup_app_for_worker(self.app, self.loglevel, None)
        self._thread.start()
        return self

    def _run(self) -> None:
        from celery.contrib.testing.worker import TestWorkController
        from celery.utils.nodenames import anon_nodename

        while not self._stopping.is_set():
            self.worker = TestWorkController(
                app=self.app,
                concurrency=self.concurrency,
                hostname=anon_nodename(),
                pool="threads",
                loglevel=self.loglevel,
                ready_callback=None,
                without_heartbeat=True,
                without_mingle=True,
                without_gossip=True,
            )
            self.starts += 1
            try:
                self.worker.start()
            except BaseException:
                logger.exception("the embedded Celery worker crashed")
            if self._stopping.is_set():
                return
            logger.error("the embedded Celery worker stopped; starting a new one")
            self._stopping.wait(self.RESTART_DELAY_S)

    def wait_until_consuming(self, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            worker = self.worker
            if worker is not None and worker._on_started.wait(0.1):
                return True
            time.sleep(0.05)
        return False

    def stop(self, timeout: float = 10) -> None:
        from celery.worker import state

        self._stopping.set()
        # How celery's own embedded test worker stops: the consumer loop sees it and exits.
        state.should_terminate = 0
        try:
            self._thread.join(timeout)
        finally:
            state.should_terminate = None


@contextlib.contextmanager
def celery_running() -> Iterator[None]:
    from celery.beat import EmbeddedService

    from dnoctl.celery import app

    schedule = settings.BASE_DIR / "var" / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    # The scheduler is named: celery's embedded service ignores CELERY_BEAT_SCHEDULER, and
    # this one writes beat's heartbeat (dnoctl.liveness).
    beat = EmbeddedService(app, thread=True, schedule_filename=str(schedule), scheduler_cls=app.conf.beat_scheduler)
    supervisor = WorkerSupervisor(app).start()
    supervisor.wait_until_consuming()
    beat.start()
    try:
        yield
    finally:
        beat.stop()
        supervisor.stop()


@contextlib.contextmanager
def telemetry_running(options: EmbeddedOptions, web_url: str) -> Iterator[None]:
    if not options.telemetry:
        yield
        return
    from dnoctl.telemetry_simulator import TelemetrySimulator
    from feeders.services import monitor_token_issue

    token = monitor_token_issue(name=f"embedded-demo-{threading.get_ident()}-{free_port()}")
    simulator = TelemetrySimulator(base_url=web_url, token=token, speed=options.speed)
    stopping = threading.Event()

    def start_when_web_is_up() -> None:
        # The web server starts after this context is entered; posting before it listens
        # would only log connection errors.
        while not stopping.is_set():
            try:
                with urllib.request.urlopen(f"{web_url}/healthz/web", timeout=2):  # noqa: S310 - loopback URL
                    break
            except OSError:
                stopping.wait(0.2)
        if not stopping.is_set():
            simulator.start()

    starter = threading.Thread(target=start_when_web_is_up, name="telemetry-starter", daemon=True)
    starter.start()
    try:
        yield
    finally:
        stopping.set()
        starter.join(timeout=5)
        simulator.stop()


DEMO_VEN = "demo-aggregator"
DEMO_CONTRACT = "ASP-DEMO-1"


def demo_asp_ensure() -> tuple[object, str]:
    """A fresh secret each run: the demo keeps no secrets across runs."""
    import datetime as dt

    from django.utils import timezone

    from curtailment.models import AspContract, AspVen
    from curtailment.services.asp import asp_ven_register, secret_sha256
    from feeders.models import Feeder

    ven = AspVen.objects.filter(ven_name=DEMO_VEN).first()
    if ven is None:
        ven, secret = asp_ven_register(ven_name=DEMO_VEN, provider="Demo Flex Ltd")
    else:
        import secrets as secrets_module

        secret = secrets_module.token_urlsafe(32)
        AspVen.objects.filter(pk=ven.pk).update(secret_sha256=secret_sha256(secret), active=True)
    now = timezone.now()
    contract, _ = AspContract.objects.update_or_create(
        reference=DEMO_CONTRACT,
        defaults={
            "provider": ven.provider,
            "ven": ven,
            "starts_at": now - dt.timedelta(days=1),
            "ends_at": now + dt.timedelta(days=365),
            "available_kw": 40.0,
            "active": True,
        },
    )
    contract.feeders.set(Feeder.objects.filter(high_risk=True))
    return ven, secret


@contextlib.contextmanager
def asp_running(options: EmbeddedOptions) -> Iterator[str | None]:
    if not options.asp:
        yield None
        return
    import uvicorn

    from curtailment.openadr.api import BASE_PATH
    from curtailment.openadr.asgi import application as vtn_application
    from curtailment.openadr.ven import StandInAggregator

    ven, secret = demo_asp_ensure()
    port = options.vtn_port or free_port()
    vtn_url = f"http://{options.host}:{port}/{BASE_PATH.rstrip('/')}"
    config = uvicorn.Config(vtn_application, host=options.host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="embedded-vtn", daemon=True)
    thread.start()
    aggregator = StandInAggregator(
        vtn_url=vtn_url,
        client_id=ven.client_id,
        client_secret=secret,
        ven_name=ven.ven_name,
        delivers=options.asp_delivers,
        poll_s=2.0,
        report_s=10.0,
    )
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    aggregator.start()
    try:
        yield vtn_url
    finally:
        aggregator.stop()
        server.should_exit = True
        thread.join(timeout=10)


def run(options: EmbeddedOptions, stdout) -> None:
    import uvicorn

    prepare_static_files()
    prepare_database(options, stdout)
    # Imported after collectstatic: WhiteNoise lists STATIC_ROOT once, when the
    # application's middleware is built.
    from dnoctl.asgi import application

    web_url = f"http://{options.host}:{options.port}"
    with (
        dcc_simulator_running(options, web_url),
        celery_running(),
        telemetry_running(options, web_url),
        asp_running(options) as vtn_url,
    ):
        banner = [f"\ndnoctl embedded demo: {web_url}/"]
        if vtn_url:
            banner.append(f"  OpenADR 3 VTN (ASP call-offs): {vtn_url}/ (VEN {DEMO_VEN})")
        banner += [f"  {name} login: {name} / {password}" for name, (_role, password) in DEMO_USERS.items()]
        stdout.write("\n".join([*banner, "  Ctrl-C stops it.\n"]))
        stdout.flush()
        config = uvicorn.Config(application, host=options.host, port=options.port, log_level="warning", lifespan="off")
        # uvicorn handles SIGINT/SIGTERM itself, shuts down gracefully, then re-raises the
        # interrupt; by then the stack is stopping on purpose, so it is a clean exit.
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run()
        stdout.write("dnoctl embedded demo stopped.\n")
