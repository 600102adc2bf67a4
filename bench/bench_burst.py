"""An area-wide evening: every feeder of an area at risk within a minute, to the last 7.6.

    .venv/bin/python scripts/with_services.py -- .venv/bin/python bench/bench_burst.py
    .venv/bin/python scripts/with_services.py -- .venv/bin/python bench/bench_burst.py \\
        --feeders 20 --chargers-per-feeder 50 --spread 5 --workers 1,2 --no-results   # quick

Needs ``DATABASE_URL``/``REDIS_URL`` (the harness provides both). It migrates the throwaway
database and bulk-inserts ``--feeders`` high-risk feeders with ``--chargers-per-feeder``
eligible EV chargers each (premise, meter, MPAN, customer, tenancy, granted consent with
override, HCALCS already on the boost button as ``consent.boost`` leaves them before any
event: so each charger gets one 7.6). The DCC simulator runs on loopback in this process
with zero latency and real GBCS (every device has its own certificates, stored as SMKI would
publish them); the figure stops at the DCC's synchronous acknowledgement of each 7.6.

For each ``--workers`` count, real Celery worker processes (``--concurrency`` threads each)
are started and then, over ``--spread`` seconds, one reading per feeder at 100 % of its
rating is ingested through ``feeders.services.ingest.telemetry_ingest``, evenly spaced: the
real detection raises the alert and hands it to the engine on commit, which opens the event,
selects the chargers under the DCC command budget and dispatches one task per charger (CV 4
-> GBCS pre-command checked and signed -> CV 5). The run ends when every action of every
event has an acknowledged 7.6. Between worker counts the events are closed, the alerts
cleared and the actions and requests moved a month back, so each count starts with the same
chargers, a full allowance and an empty budget window.

The DCC budget (``--budget``, the ``DNOCTL_DCC_BUDGET`` format) is given to the workers.
The default is what a DNO would set for an area of this size: the 7.6 threshold per hour
above one command to every charger of the area plus a fifth (an area-wide evening must not
be quarantined), and per day three such evenings.

Baseline, same run: the same 7.6s sent by one bare ``DccClient`` in this process against
the same simulator, no database and no Celery (the cost of signing and verifying the same
DUIS and GBCS documents), over as many chargers as one worker process handles at the
largest ``--workers`` count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
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

AIM_SECONDS = 60.0
RATING_AMPS = 2900.0  # a reading of 2900 A per phase (2,000 kW) is 100 % and needs every charger
CHARGER_KW = 7.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeders", type=int, default=200)
    parser.add_argument("--chargers-per-feeder", type=int, default=100)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts to measure, comma-separated")
    parser.add_argument("--concurrency", type=int, default=4, help="threads per worker process")
    parser.add_argument("--pool", default="threads", choices=["threads", "prefork"])
    parser.add_argument("--spread", type=float, default=60.0, help="seconds over which the feeders go at risk")
    parser.add_argument(
        "--budget",
        default=None,
        help="DCC command budget (DNOCTL_DCC_BUDGET format); default: 7.6 per hour = 1.2 x the chargers,"
        " per day = 3 x that",
    )
    parser.add_argument("--baseline-requests", type=int, default=None, help="default: chargers / max(--workers)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up on a run after this many seconds")
    parser.add_argument("--no-results", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()
    args.worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    if not args.worker_counts or min(args.worker_counts) < 1:
        parser.error("--workers: give one or more positive counts, e.g. 1,2,4")
    if args.feeders < 1 or args.chargers_per_feeder < 1:
        parser.error("--feeders and --chargers-per-feeder must be at least 1")
    return args


def default_budget(chargers: int) -> str:
    hour = max(2000, int(chargers * 1.2))
    return ";".join(f"{srv}={hour}/h,{3 * hour}/d" for srv in ("7.6", "7.7", "7.8", "7.9"))


def setup_area(feeders: int, per_feeder: int) -> tuple[list, list[tuple[int, str, int]]]:
    """Bulk-insert the feeders and their chargers; returns the feeders and, per charger,
    (HCALCS id, meter EUI-64, switch index)."""
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from consent.choices import ConsentStatus, LoadLabel, MpanRole
    from consent.models import HCALCS, MPAN, Consent, Customer, Meter, Premise, Tenancy
    from feeders.models import Feeder, Substation
    from tests.consent.factories import eui64_from_int, mpan_from_int

    now = timezone.now()
    with transaction.atomic():
        substation = Substation.objects.create(
            code="BURST-SS", name="Burst", latitude=Decimal("52.5"), longitude=Decimal("-1.9"), licence_area="london"
        )
        rows = Feeder.objects.bulk_create(
            Feeder(
                code=f"BURST-{f:05d}",
                substation=substation,
                rating_amps=RATING_AMPS,
                at_risk_percent=90,
                clear_percent=60,
                high_risk=True,
                automatic_curtailment=True,
                status="normal",
            )
            for f in range(feeders)
        )
        n = feeders * per_feeder
        premises = Premise.objects.bulk_create(
            (
                Premise(
                    reference=f"BP{i:09d}", address=f"{i} Burst Road", postcode="B15 2TT", feeder=rows[i // per_feeder]
                )
                for i in range(n)
            ),
            batch_size=5000,
        )
        meters = Meter.objects.bulk_create(
            (
                Meter(
                    esme_eui64=eui64_from_int(i, prefix=0x0B11),
                    premise=p,
                    firmware_version="4.2.0",
                    supports_eno_use_cases=True,
                )
                for i, p in enumerate(premises)
            ),
            batch_size=5000,
        )
        MPAN.objects.bulk_create(
            (
                MPAN(core=mpan_from_int(900_000_000 + i), meter=m, role=MpanRole.IMPORT_PRIMARY)
                for i, m in enumerate(meters)
            ),
            batch_size=5000,
        )
        customers = Customer.objects.bulk_create(
            (Customer(name=f"Burst customer {i}", email=f"burst{i}@example.org") for i in range(n)), batch_size=5000
        )
        tenancies = Tenancy.objects.bulk_create(
            (
                Tenancy(premise=p, customer=c, start=now - dt.timedelta(days=365))
                for p, c in zip(premises, customers, strict=True)
            ),
            batch_size=5000,
        )
        Consent.objects.bulk_create(
            (
                Consent(
                    tenancy=t,
                    status=ConsentStatus.GRANTED,
                    override_allowed=True,
                    evidence_channel="web",
                    evidence_date=now.date(),
                    evidence_reference=f"BEV{i:08d}",
                )
                for i, t in enumerate(tenancies)
            ),
            batch_size=5000,
        )
        chargers = HCALCS.objects.bulk_create(
            (
                HCALCS(
                    eui64=eui64_from_int(i, prefix=0x0BDB),
                    meter=m,
                    switch_index=1,
                    label=LoadLabel.EV_CHARGER,
                    rated_kw=CHARGER_KW,
                    on_boost_button=True,
                )
                for i, m in enumerate(meters)
            ),
            batch_size=5000,
        )
    return rows, [(c.pk, m.esme_eui64, c.switch_index) for c, m in zip(chargers, meters, strict=True)]


def devices_add(simulator, chargers: list[tuple[int, str, int]], *, store: bool = True) -> None:
    """One simulated meter per charger, each with its own GBCS certificates, stored as SMKI
    would publish them. The keys are shared (generating 40,000 key pairs would only slow
    the set-up; each answer is still signed or MAC'd and checked against its certificate)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from dcc.services import device_certificates_store
    from dcc.simulator import SimulatedDevice

    ds_key, ka_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    certificates = {}
    for _, eui64, index in chargers:
        device = SimulatedDevice(eui64=eui64, switch_indexes=(index,), ds_key=ds_key, ka_key=ka_key)
        simulator.add_device(device)
        if store:
            certificates[device.eui64] = device.certificates_pem()
    if store:
        device_certificates_store(certificates=certificates, source="bench")


def harness_postgres() -> set[int]:
    """The process ids of this run's PostgreSQL (the postmaster and its children): other
    engineers' test databases on the machine are ``postgres`` too."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    postmaster = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    pids = {postmaster}  # the smallest id: its children start after it (ids wrap rarely)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    pids.add(int(entry.name))
            except OSError:
                continue
    return pids


def reaped_cpu(pids: set[int]) -> float:
    """CPU seconds of the postmaster's children that have ended (the kernel adds them to the
    parent's cutime/cstime): backends are replaced every ``DB_CONN_MAX_AGE`` seconds."""
    postmaster = min(pids)
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def transactions() -> int:
    """Committed transactions in the bench database so far (pg_stat_database)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def start_workers(env: dict[str, str], count: int, args, workdir: Path) -> list[subprocess.Popen]:
    from dnoctl.celery import app

    procs = []
    for i in range(count):
        argv = [
            sys.executable, "-m", "celery", "-A", "dnoctl", "worker", "--pool", args.pool,
            "--concurrency", str(args.concurrency), "--loglevel", "WARNING", "--without-gossip",
            "--without-mingle", "--without-heartbeat", "--hostname", f"burst{count}-{i}@%h",
        ]  # fmt: skip
        log = workdir / f"worker{count}-{i}.log"
        procs.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited:\n{Path(proc.args[-1]).name}")
        try:
            if len(app.control.ping(timeout=0.5)) >= count:
                return procs
        except Exception as exc:  # the broker connection may still be coming up
            print(f"waiting for the workers: {exc}", file=sys.stderr)
        time.sleep(0.2)
    raise RuntimeError(f"{count} workers did not all answer a ping within 90 s")


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def burst(feeders: list, token, spread: float) -> tuple[float, list[float]]:
    """Ingest one reading at 100 % per feeder, evenly over ``spread`` seconds; returns t0
    and each ingest's offset from t0 (when detection raised the alert and queued the engine)."""
    from django.utils import timezone

    from feeders.services.ingest import telemetry_ingest

    step = spread / len(feeders)
    offsets = []
    t0 = time.time()
    for i, feeder in enumerate(feeders):
        wait = t0 + i * step - time.time()
        if wait > 0:
            time.sleep(wait)
        now = timezone.now()
        row = {"feeder": feeder.code, "measured_at": now.isoformat(), "amps": [RATING_AMPS] * 3, "kw": 2000.0}
        result = telemetry_ingest(token=token, readings=[row], now=now)
        if len(result.alerts_raised) != 1:
            raise RuntimeError(f"{feeder.code}: detection raised {result.alerts_raised}, expected one alert")
        offsets.append(time.time() - t0)
    return t0, offsets


def wait_acknowledged(feeder_ids: list[int], since: dt.datetime, chargers: int, timeout: float) -> dict:
    """Poll until every feeder has its event and every action of those events has an
    acknowledged 7.6; returns the counts and the last acknowledgement time."""
    from django.db.models import Max

    from curtailment.models import CurtailmentAction, CurtailmentEvent
    from dcc.models import ServiceRequest

    deadline = time.monotonic() + timeout
    last_progress, last_acked = time.monotonic(), -1
    while True:
        events = CurtailmentEvent.objects.filter(feeder_id__in=feeder_ids, started_at__gte=since)
        actions = CurtailmentAction.objects.filter(event__in=events).count()
        requests = ServiceRequest.objects.filter(action__event__in=events, srv="7.6", acknowledged_at__isnull=False)
        acked = requests.count()
        opened = events.count()
        if opened == len(feeder_ids) and actions and acked >= actions:
            return {
                "late": CurtailmentAction.objects.filter(event__in=events, status="late").count(),
                "late_too_soon": late_before_timeout(since),
                "reads": ServiceRequest.objects.filter(srv="7.7", created_at__gte=since).count(),
                "events": opened,
                "actions": actions,
                "acked": acked,
                "deferred": chargers - actions,
                "last_ack": requests.aggregate(last=Max("acknowledged_at"))["last"].timestamp(),
                "first_ack": requests.order_by("acknowledged_at")
                .values_list("acknowledged_at", flat=True)[0]
                .timestamp(),
            }
        if acked != last_acked:
            last_acked, last_progress = acked, time.monotonic()
        if time.monotonic() > deadline or time.monotonic() - last_progress > 60:
            raise RuntimeError(f"run did not finish: {opened} events, {actions} actions, {acked} acknowledged 7.6")
        time.sleep(0.5)


def late_before_timeout(since: dt.datetime) -> int:
    """Actions marked late (their audit entry) before ``CONFIRMATION_TIMEOUT_S`` had passed
    since their 7.6 was sent, or with no 7.6 sent at all: must be none."""
    from django.conf import settings

    from core.models import AuditEntry
    from dcc.models import ServiceRequest

    timeout = dt.timedelta(seconds=int(settings.DNOCTL["CONFIRMATION_TIMEOUT_S"]))
    marked = dict(AuditEntry.objects.filter(action="action.late", at__gte=since).values_list("target_id", "at"))
    sent = dict(
        ServiceRequest.objects.filter(action_id__in=[int(pk) for pk in marked], srv="7.6", sent_at__isnull=False)
        .order_by("-sent_at")
        .values_list("action_id", "sent_at")
    )
    return sum(1 for pk, at in marked.items() if int(pk) not in sent or at - sent[int(pk)] < timeout)


def reset() -> None:
    """Close the events, clear the alerts and move actions and requests a month back: the
    next run has the same chargers with a full allowance and an empty budget window."""
    from django.db.models import F
    from django.utils import timezone

    from curtailment.models import CurtailmentAction, CurtailmentEvent
    from dcc.models import ServiceRequest
    from feeders.models import FeederAlert

    month = dt.timedelta(days=31)
    now = timezone.now()
    CurtailmentEvent.objects.filter(status__in=["active", "releasing"]).update(
        status="ended", ended_at=now, end_reason="cancelled"
    )
    CurtailmentAction.objects.update(
        status="ended",
        started_at=F("started_at") - month,
        expected_end_at=F("expected_end_at") - month,
        ended_at=F("expected_end_at") - month,
    )
    ServiceRequest.objects.update(created_at=F("created_at") - month)
    FeederAlert.objects.filter(cleared_at__isnull=True).update(cleared_at=now)


def baseline(simulator, paths: dict[str, str], chargers: list[tuple[int, str, int]]) -> float:
    """The same 7.6 per charger through one bare DccClient, no database: seconds."""
    client = bare_dcc_client(simulator, paths)
    start = time.perf_counter()
    for _, eui64, index in chargers:
        client.deactivate_auxiliary_load(target=eui64, index=index, duration_minutes=30)
    return time.perf_counter() - start


def main() -> None:
    args = parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        sys.exit("run under scripts/with_services.py: DATABASE_URL and REDIS_URL are needed")
    total = args.feeders * args.chargers_per_feeder
    budget = args.budget or default_budget(total)
    workdir = Path(tempfile.mkdtemp(prefix="bench-burst-"))
    # The workers and this process (it runs detection and the engine's on-commit hand-over)
    # plan under the same budget.
    os.environ.update(DCC_KEY_DIR=str(workdir), DNOCTL_DCC_BUDGET=budget)
    import django

    django.setup()

    from dnoctl.celery import app
    from feeders.models import MonitorToken
    from feeders.services.feeder import monitor_token_issue
    from tests.consent.factories import eui64_from_int

    paths, simulator = dcc_simulator_start(workdir)
    started = time.perf_counter()
    feeders, chargers = setup_area(args.feeders, args.chargers_per_feeder)
    made = time.perf_counter() - started
    devices_add(simulator, chargers)
    set_up = time.perf_counter() - started
    print(f"set-up: {total} chargers on {args.feeders} feeders inserted in {made:.1f} s, devices and certificates"
          f" {set_up - made:.1f} s; budget {budget}")  # fmt: skip
    monitor_token_issue(name="burst head-end")
    token = MonitorToken.objects.get(name="burst head-end")
    # Customers' notices go to an in-memory mailbox (no SMTP server on the machine).
    env = dict(
        os.environ,
        DCC_BASE_URL=simulator.url,
        DB_CONN_MAX_AGE="60",
        PYTHONUNBUFFERED="1",
        DJANGO_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    feeder_ids = [f.pk for f in feeders]
    results = []
    # The baseline's own meters: its commands would otherwise move the GBCS counters of the
    # engine's meters ahead of the engine's (a device refuses a counter it has seen passed).
    sample = [
        (0, eui64_from_int(i, prefix=0x0BBB), 1)
        for i in range(args.baseline_requests or max(1, total // max(args.worker_counts)))
    ]
    devices_add(simulator, sample, store=False)
    try:
        bare = baseline(simulator, paths, sample)
        bare_rate = len(sample) / bare
        print(f"baseline: {len(sample)} x 7.6 by one bare DccClient in {bare:.2f} s, {bare_rate:.1f}/s", flush=True)
        for count in args.worker_counts:
            if results:
                reset()
            app.control.purge()
            workers = start_workers(env, count, args, workdir)
            roles = {
                "workers": {w.pid for w in workers},
                "bench+simulator": {os.getpid()},
                "this run's postgres": harness_postgres(),
            }
            cpu_before = cpu_seconds_by_role(roles)
            reaped_before = reaped_cpu(roles["this run's postgres"])
            xacts_before = transactions()
            from django.utils import timezone

            since = timezone.now()
            try:
                t0, offsets = burst(feeders, token, args.spread)
                done = wait_acknowledged(feeder_ids, since, total, args.timeout)
            finally:
                roles["this run's postgres"] = harness_postgres()
                cpu = cpu_difference(cpu_before, cpu_seconds_by_role(roles), at_least=0.5)
                reaped = reaped_cpu(roles["this run's postgres"]) - reaped_before
                cpu += f"; this run's postgres backends ended during the run {reaped:.2f} s"
                xacts = transactions() - xacts_before
                stop_workers(workers)
            done.update(
                workers=count,
                to_last=done["last_ack"] - t0,
                after_last_alert=done["last_ack"] - t0 - offsets[-1],
                rate=done["acked"] / (done["last_ack"] - t0),
                cpu=cpu,
                xacts_per_charger=xacts / max(1, done["acked"]),
                load=os.getloadavg()[0],
            )
            results.append(done)
            print(
                f"{count} worker(s): {done['acked']} x 7.6 acknowledged, last {done['to_last']:.1f} s after the first"
                f" alert ({done['after_last_alert']:.1f} s after the last), {done['rate']:.1f} acks/s;"
                f" ({done['rate'] / bare_rate:.2f} of the bare client); deferred {done['deferred']};"
                f" {done['late']} actions marked late ({done['late_too_soon']} before the timeout after their 7.6),"
                f" {done['reads']} x 7.7 switch reads;"
                f" {done['xacts_per_charger']:.1f} transactions per charger; load {done['load']:.1f}; CPU: {cpu}",
                flush=True,
            )
        app.control.purge()
    finally:
        simulator.stop()
    one = results[0]["rate"] if results[0]["workers"] == 1 else None
    lines = [
        f"{args.feeders} feeders x {args.chargers_per_feeder} chargers = {total}, at risk over {args.spread:g} s"
        f" (readings through telemetry_ingest); chargers on the boost button (7.6 only), real GBCS;"
        f" workers --pool {args.pool} --concurrency {args.concurrency}; DCC budget {budget}",
        "| worker processes | 7.6 acknowledged | deferred by the budget | late at the end | 7.7 reads (one per action marked late) | first alert -> last ack s |"
        " after the last alert s | acks/s | scaling vs 1 | vs bare client | load at end |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        scaling = f"{r['rate'] / one:.2f}" if one else "-"
        lines.append(
            f"| {r['workers']} | {r['acked']} | {r['deferred']} | {r['late']} | {r['reads']} | {r['to_last']:.1f} | {r['after_last_alert']:.1f} |"
            f" {r['rate']:.1f} | {scaling} | {r['rate'] / bare_rate:.2f} | {r['load']:.1f} |"
        )
    lines += [
        f"baseline (same run): {len(sample)} x 7.6 by one bare DccClient, no DB/Celery: {bare:.2f} s,"
        f" {bare_rate:.1f} acks/s",
        *(
            f"{r['workers']}-worker run: {r['xacts_per_charger']:.1f} committed transactions per charger; CPU {r['cpu']}"
            for r in results
        ),
        f"aim: all acknowledged within {AIM_SECONDS:.0f} s; machine: {machine()},"
        f" load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
    ]
    print("\n".join(lines))
    if not args.no_results:
        with (ROOT / "bench" / "RESULTS.md").open("a") as out:
            out.write(f"\n## ENGINE: area-wide burst (`bench/bench_burst.py`), {dt.date.today()}\n\n")
            out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
