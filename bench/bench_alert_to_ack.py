"""Alert to the last 7.6 acknowledged, for a feeder with 100 eligible chargers.

    .venv/bin/python scripts/with_services.py -- .venv/bin/python bench/bench_alert_to_ack.py

Needs ``DATABASE_URL``/``REDIS_URL`` (the harness provides both). It migrates the throwaway
database, makes one high-risk feeder with ``--chargers`` eligible EV chargers (override
allowed, so each gets 7.9 then 7.6; with ``--boost-set`` they are already on the boost
button, as ``consent.boost`` leaves them before any event, and get 7.6 alone), starts the
DCC simulator on loopback in this process with zero latency (device responses are not
needed: the figure stops at the DCC's synchronous acknowledgement), and real Celery worker
processes (``--workers``, default one per core) against the same database and Redis. Each
run:

1. stores a reading at 100 % of rating and an open ``FeederAlert`` (what detection does);
2. t0: queues ``curtailment.tasks.event_open_for_alert`` exactly as detection does;
3. the worker opens the event (selection of all chargers, audit, ASP check), queues one
   dispatch task per charger; each sends 7.9 (CV 1, unless on the boost button) then 7.6
   (CV 4 -> sign -> CV 5);
4. t1: the latest ``acknowledged_at`` of the event's 7.6 requests.

Between runs the event is closed and its actions moved 31 days back, so every run has the
same 100 chargers with a full allowance, and the bench waits for the previous run's customer
notices to be sent, so each run is an alert on a quiet worker. The first run is a warm-up
and not counted.

Baseline, same run: the same requests (7.9 + 7.6, or 7.6) sent by one ``DccClient`` in a
loop in this process, with no database, no Celery and no selection (the bare DUIS cost).
``BENCH_TIMELINE=1`` also prints when the 7.6s were made and the CPU each process used.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dnoctl.settings")

from bench.common import (  # noqa: E402 - needs ROOT on sys.path
    bare_dcc_client,
    cpu_difference,
    cpu_seconds_by_role,
    dcc_simulator_start,
    machine,
)

NF13_SECONDS = 30.0
DCC_TARGET_SECONDS = 5.0
AIM_SECONDS = 0.5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chargers", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pool", default="threads", choices=["threads", "prefork"])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="worker processes (each --concurrency threads): one per core, as the README recommends",
    )
    parser.add_argument(
        "--boost-set",
        action="store_true",
        help="chargers already on the boost button (the steady state: consent.boost prepares them"
        " ahead of any event): 7.6 only",
    )
    parser.add_argument("--no-results", action="store_true", help="do not append to bench/RESULTS.md")
    return parser.parse_args()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (with 20 runs, p99 is the slowest run)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def setup_feeder(chargers: int):
    from decimal import Decimal

    from consent.models import HCALCS
    from feeders.models import Feeder, Substation
    from tests.consent.factories import eligible_charger

    substation, _ = Substation.objects.get_or_create(
        code="BENCH-SS",
        defaults={"name": "Bench", "latitude": Decimal("52.5"), "longitude": Decimal("-1.9"), "licence_area": "london"},
    )
    feeder = Feeder.objects.create(
        code=f"BENCH-A2A-{int(time.time())}",
        substation=substation,
        rating_amps=2900,
        at_risk_percent=90,
        clear_percent=60,
        high_risk=True,
        automatic_curtailment=True,
        status="normal",
    )
    for _ in range(chargers):
        eligible_charger(feeder=feeder)
    return feeder, list(HCALCS.objects.filter(meter__premise__feeder=feeder).select_related("meter"))


def start_worker(
    env: dict[str, str], pool: str, concurrency: int, log: Path, *, index: int = 0, expect: int = 1
) -> subprocess.Popen:
    argv = [
        sys.executable, "-m", "celery", "-A", "dnoctl", "worker", "--pool", pool, "--concurrency", str(concurrency),
        "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--hostname", f"bench{index}@%h",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    from dnoctl.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited:\n{log.read_text()[-3000:]}")
        try:
            if len(app.control.ping(timeout=0.5)) >= expect:
                return proc
        except Exception as exc:  # the broker connection may still be coming up
            print(f"waiting for the worker: {exc}", file=sys.stderr)
        time.sleep(0.2)
    raise RuntimeError("worker did not answer a ping within 60 s")


def one_run(feeder, chargers: int, workers: list | None = None) -> tuple[float, float, int, int]:
    from django.utils import timezone

    from curtailment.models import CurtailmentEvent
    from dcc.models import ServiceRequest
    from dnoctl.celery import app
    from feeders.models import FeederAlert, FeederReading

    now = timezone.now()
    FeederReading.objects.create(
        feeder=feeder, measured_at=now, received_at=now, amps_l1=2900, amps_l2=2900, amps_l3=2900, kw=2000.0
    )
    alert = FeederAlert.objects.create(
        feeder=feeder, kind="threshold", raised_at=now, measured_at=now, load_percent=100
    )
    roles = {"worker": {w.pid for w in workers or []}, "bench+simulator": {os.getpid()}}
    cpu_before = cpu_seconds_by_role(roles)
    t0 = time.time()
    app.send_task("curtailment.tasks.event_open_for_alert", kwargs={"alert_id": alert.pk})
    deadline = time.monotonic() + 120
    event = None
    while time.monotonic() < deadline:
        event = event or CurtailmentEvent.objects.filter(alert=alert).first()
        if event is not None:
            acked = ServiceRequest.objects.filter(action__event=event, srv="7.6", acknowledged_at__isnull=False)
            if acked.count() >= chargers:
                last = max(acked.values_list("acknowledged_at", flat=True))
                opened = event.started_at.timestamp() - t0
                if os.environ.get("BENCH_TIMELINE"):
                    timeline(event, t0)
                    print(f"  CPU during the run: {cpu_difference(cpu_before, cpu_seconds_by_role(roles))}")
                return last.timestamp() - t0, opened, acked.count(), event.pk
        # The figure is the acknowledgement times the worker wrote, not when this loop sees
        # them: polling more often would only take CPU from the simulator in this process.
        time.sleep(0.05)
    raise RuntimeError(f"run did not finish: event {event and event.pk}")


def timeline(event, t0: float) -> None:
    """Where the time of one run went (set BENCH_TIMELINE=1): per 7.6, when it was made,
    sent and acknowledged, relative to the alert."""
    from dcc.models import ServiceRequest

    rows = ServiceRequest.objects.filter(action__event=event, srv="7.6").values_list(
        "created_at", "sent_at", "acknowledged_at"
    )
    made = sorted(r[0].timestamp() - t0 for r in rows)
    sending = sorted((r[2] - r[1]).total_seconds() for r in rows)
    print(
        f"  7.6 made: first {made[0]:.3f} s, median {statistics.median(made):.3f} s, last {made[-1]:.3f} s;"
        f" sent->acknowledged median {statistics.median(sending):.3f} s, max {sending[-1]:.3f} s"
    )


def wait_quiet(event_id: int, chargers: int, timeout: float = 90.0) -> None:
    """Let the run's tail work finish (its customers' notices, queued 10 s after the event),
    so every run measures an alert on a quiet worker."""
    from consent.models import Notification

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        notices = Notification.objects.filter(event_id=event_id)
        if notices.count() >= chargers and not notices.filter(status="pending").exists():
            time.sleep(0.5)
            return
        time.sleep(0.2)
    print(f"  (notices of event {event_id} still pending after {timeout:.0f} s)", file=sys.stderr)


def reset(feeder) -> None:
    """Close the event and move its actions and requests a month back so the next run starts
    afresh: a full allowance and an empty DCC budget window (21 runs of 100 would pass the
    default 2,000 7.6s an hour)."""
    from django.db.models import F
    from django.utils import timezone

    from curtailment.models import CurtailmentAction, CurtailmentEvent
    from dcc.models import ServiceRequest
    from feeders.models import FeederAlert

    month = dt.timedelta(days=31)
    CurtailmentEvent.objects.filter(feeder=feeder, status__in=["active", "releasing"]).update(
        status="ended", ended_at=timezone.now(), end_reason="cancelled"
    )
    CurtailmentAction.objects.filter(event__feeder=feeder).update(
        status="ended",
        started_at=F("started_at") - month,
        expected_end_at=F("expected_end_at") - month,
        ended_at=F("expected_end_at") - month,
    )
    ServiceRequest.objects.filter(action__event__feeder=feeder).update(created_at=F("created_at") - month)
    FeederAlert.objects.filter(feeder=feeder, cleared_at__isnull=True).update(cleared_at=timezone.now())


def baseline(simulator, paths: dict[str, str], hcalcs: list, *, boost: bool = True) -> float:
    """The same requests per charger (7.9 unless ``boost`` is off, then 7.6) through one
    bare DccClient, no database."""
    client = bare_dcc_client(simulator, paths)
    start = time.perf_counter()
    for charger in hcalcs:
        if boost:
            client.add_auxiliary_load_to_boost_button(target=charger.meter.esme_eui64, indexes=[charger.switch_index])
        client.deactivate_auxiliary_load(
            target=charger.meter.esme_eui64, index=charger.switch_index, duration_minutes=30
        )
    return time.perf_counter() - start


def main() -> None:
    args = parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        sys.exit("run under scripts/with_services.py: DATABASE_URL and REDIS_URL are needed")
    workdir = Path(tempfile.mkdtemp(prefix="bench-a2a-"))
    os.environ.update(DCC_KEY_DIR=str(workdir))  # development identities, written below
    import django

    django.setup()

    from dcc.services import device_certificates_store
    from dcc.simulator import SimulatedDevice
    from dnoctl.celery import app

    paths, simulator = dcc_simulator_start(workdir)
    feeder, hcalcs = setup_feeder(args.chargers)
    if args.boost_set:
        from consent.models import HCALCS

        HCALCS.objects.filter(pk__in=[h.pk for h in hcalcs]).update(on_boost_button=True)
    for charger in hcalcs:
        device = SimulatedDevice(
            eui64=charger.meter.esme_eui64, eno_firmware=True, switch_indexes=(charger.switch_index,)
        )
        simulator.add_device(device)
        # What SMKI would publish: the engine authenticates each meter's GBCS answer with these.
        device_certificates_store(certificates={device.eui64: device.certificates_pem()}, source="bench")
    # Customers' notices go to an in-memory mailbox: with no SMTP server on the machine each
    # one would retry for minutes and load the worker between runs.
    env = dict(
        os.environ,
        DCC_BASE_URL=simulator.url,
        DB_CONN_MAX_AGE="60",
        PYTHONUNBUFFERED="1",
        DJANGO_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    app.control.purge()
    workers = [
        start_worker(env, args.pool, args.concurrency, workdir / f"worker{i}.log", index=i, expect=i + 1)
        for i in range(args.workers)
    ]
    latencies, opens, loads = [], [], []
    try:
        for run in range(args.runs + 1):
            latency, opened, acked, event_id = one_run(feeder, args.chargers, workers)
            # The notices first: queued 10 s after the event, they tell of live actions, and
            # the reset ends them (then nothing is told and the wait only times out).
            wait_quiet(event_id, args.chargers)
            reset(feeder)
            if run == 0:
                print(f"warm-up: {latency:.3f} s ({acked} x 7.6 acknowledged)")
                continue
            latencies.append(latency)
            opens.append(opened)
            loads.append(os.getloadavg()[0])
            print(f"run {run:2d}: alert -> last 7.6 acknowledged {latency:.3f} s (event open after {opened:.3f} s)")
        bare = baseline(simulator, paths, hcalcs, boost=not args.boost_set)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        simulator.stop()
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    lines = [
        f"chargers {args.chargers}, runs {args.runs}, {args.workers} x worker --pool {args.pool}"
        f" --concurrency {args.concurrency}"
        + (", already on the boost button (7.6 only)" if args.boost_set else ", 7.9 then 7.6 each"),
        f"alert -> last 7.6 acknowledged: p50 {p50:.3f} s, p99 {p99:.3f} s, mean {statistics.mean(latencies):.3f} s",
        f"  alert -> event open (selection + audit), p50: {percentile(opens, 0.5):.3f} s",
        f"  vs NF13 30 s rule: p50 {p50 / NF13_SECONDS:.4f}, p99 {p99 / NF13_SECONDS:.4f} of the budget",
        f"  vs DCC 5 s target: p50 {p50 / DCC_TARGET_SECONDS:.3f}, p99 {p99 / DCC_TARGET_SECONDS:.3f}",
        f"  vs aim 0.5 s: p50 {p50 / AIM_SECONDS:.2f}x",
        f"baseline (same run): {args.chargers} x ({'7.6' if args.boost_set else '7.9 + 7.6'}) by one bare DccClient,"
        f" no DB/Celery: {bare:.3f} s;"
        f" engine p50 / baseline = {p50 / bare:.2f}",
        f"machine: {machine()}, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())};"
        f" 1-min load average at the end of each run: median"
        f" {statistics.median(loads):.1f}, max {max(loads):.1f}",
    ]
    print("\n".join(lines))
    if not args.no_results:
        with (ROOT / "bench" / "RESULTS.md").open("a") as results:
            results.write(
                f"\n## ENGINE: alert -> last 7.6 acknowledged (`bench/bench_alert_to_ack.py`), {dt.date.today()}\n\n"
            )
            results.write("```\n" + "\n".join(lines) + "\n```\n")


if __name__ == "__main__":
    main()
