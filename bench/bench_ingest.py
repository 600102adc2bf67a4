"""Ingest benchmark: sustained readings/s through ``POST /api/v1/telemetry/`` against a
same-run raw ``COPY`` of the same rows into the same table.

    .venv/bin/python scripts/with_services.py -- .venv/bin/python bench/bench_ingest.py

Needs ``DATABASE_URL``/``REDIS_URL`` (the harness provides both). It migrates the throwaway
database, creates ``--feeders`` feeders and a head-end token, starts a real uvicorn server
(``--workers`` processes) on loopback, and then:

1. **baseline**: ``COPY feeders_feederreading FROM STDIN`` of all rows (psycopg 3
   ``cursor.copy``, pre-formatted text, one transaction), then ``TRUNCATE``;
2. **API**: ``--clients`` threads POST the same rows as pre-serialised JSON batches of
   ``--batch`` over keep-alive HTTP; every batch is validated, inserted, judged by the
   at-risk detection, moves the feeders' summaries and pushes ``feeder.reading`` to Redis.

Rows: ``--rounds`` readings per feeder, 10 s apart and ending now (a live 10-second
resolution feed, so every reading goes through detection, none is backfill). Each client
owns a disjoint slice of the feeders, as monitors or head-ends do. Loads are a random walk
between 20 % and 85 % of rating, so about half the feeders are above the trend floor and
need the trend query, and none raises an alert (alerts are rare events, not throughput).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402 - needs ROOT on sys.path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dnoctl.settings")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeders", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=10, help="readings per feeder, 10 s apart")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (2 cores: PostgreSQL needs one)"
    )
    parser.add_argument(
        "--watch-overview",
        action="store_true",
        help="subscribe a channel to feeders.all, as an open overview page does (every reading is then pushed)",
    )
    parser.add_argument("--no-results", action="store_true", help="do not append to bench/RESULTS.md")
    return parser.parse_args()


def setup_database(feeder_count: int) -> tuple[list[tuple[int, str, float]], str]:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from feeders.models import Feeder, FeederReading, Substation
    from feeders.services import monitor_token_issue

    FeederReading.objects.all().delete()
    Feeder.objects.filter(code__startswith="BENCH-").delete()
    substation, _ = Substation.objects.get_or_create(
        code="BENCH-SS",
        defaults={"name": "Bench", "latitude": 52.5, "longitude": -1.9, "licence_area": "west_midlands"},
    )
    Feeder.objects.bulk_create(
        [
            Feeder(
                code=f"BENCH-{i:06d}",
                substation=substation,
                phases=3,
                rating_amps=400.0,
                status="normal",
                monitor_device_id=f"BENCH-MON-{i:06d}",
            )
            for i in range(feeder_count)
        ],
        batch_size=5000,
    )
    from django.db import connection

    with connection.cursor() as cursor:  # as autovacuum would have, on a table in service
        cursor.execute("ANALYZE feeders_feeder")
    feeders = list(
        Feeder.objects.filter(code__startswith="BENCH-").order_by("code").values_list("id", "code", "rating_amps")
    )
    token = monitor_token_issue(name=f"bench-{time.time_ns()}")
    return feeders, token


def build_rows(feeders, rounds: int, clients: int, batch: int) -> tuple[list[list[bytes]], list[tuple]]:
    """Per client, its JSON batch bodies in time order; plus the same rows for COPY."""
    rng = random.Random(46)
    now = datetime.now(UTC).replace(microsecond=0)
    times = [now - timedelta(seconds=10 * (rounds - 1 - r)) for r in range(rounds)]
    loads = {feeder_id: rng.uniform(20, 85) for feeder_id, _, _ in feeders}
    slices = [feeders[c::clients] for c in range(clients)]
    bodies: list[list[bytes]] = [[] for _ in range(clients)]
    copy_rows: list[tuple] = []
    for client, owned in enumerate(slices):
        for moment in times:
            stamp = moment.isoformat()
            rows = []
            for feeder_id, code, rating in owned:
                load = min(85.0, max(20.0, loads[feeder_id] + rng.uniform(-1.5, 1.5)))
                loads[feeder_id] = load
                amps = [round(load / 100 * rating * share, 1) for share in (1.0, 0.95, 0.9)]
                kw = round(sum(amps) * 0.23, 2)
                rows.append({"feeder": code, "measured_at": stamp, "amps": amps, "kw": kw})
                copy_rows.append((feeder_id, moment, *amps, kw))
            for i in range(0, len(rows), batch):
                bodies[client].append(json.dumps({"readings": rows[i : i + batch]}).encode())
    return bodies, copy_rows


def copy_baseline(copy_rows: list[tuple]) -> float:
    """Seconds to COPY the rows (pre-formatted text) into the table, in one transaction."""
    import psycopg

    received = datetime.now(UTC).isoformat()
    text = io.StringIO()
    for feeder_id, moment, a1, a2, a3, kw in copy_rows:
        text.write(f"{feeder_id}\t{moment.isoformat()}\t{received}\t{a1}\t{a2}\t{a3}\t{kw}\n")
    payload = text.getvalue().encode()
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        conn.execute("TRUNCATE feeders_feederreading")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor:
            columns = "feeder_id, measured_at, received_at, amps_l1, amps_l2, amps_l3, kw"
            with cursor.copy(f"COPY feeders_feederreading ({columns}) FROM STDIN") as copy:
                for i in range(0, len(payload), 1 << 20):
                    copy.write(payload[i : i + (1 << 20)])
        conn.commit()
        elapsed = time.perf_counter() - started
        count = conn.execute("SELECT count(*) FROM feeders_feederreading").fetchone()[0]
        assert count == len(copy_rows), (count, len(copy_rows))
        conn.execute("TRUNCATE feeders_feederreading")
        conn.execute("UPDATE feeders_feeder SET last_reading_at = NULL, status = 'normal' WHERE code LIKE 'BENCH-%'")
        conn.commit()
    return elapsed


def start_server(workers: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(ROOT / "var" / "bench_ingest_uvicorn.log", "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "dnoctl.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
            "--lifespan",
            "off",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz/web")  # /healthz also wants a worker and beat, not run here
            if conn.getresponse().status == 200:
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"uvicorn did not come up; see {log.name}")


def post_all(url: str, token: str, bodies: list[list[bytes]]) -> tuple[float, int, list[str]]:
    """POST every client's batches concurrently; returns (seconds, accepted, errors)."""
    parsed = urlparse(url)
    accepted = [0] * len(bodies)
    errors: list[str] = []
    barrier = threading.Barrier(len(bodies) + 1)

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
        conn.connect()
        # http.client sends headers and a large body in two writes; without TCP_NODELAY
        # Nagle's algorithm holds the body until the server's delayed ACK (~40 ms a batch).
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        barrier.wait()
        for body in bodies[index]:
            conn.request("POST", "/api/v1/telemetry/", body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            if response.status != 202:
                errors.append(f"{response.status}: {answer[:300]!r}")
                continue
            accepted[index] += json.loads(answer)["accepted"]
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sum(accepted), errors


def process_cpu_seconds(pid: int, *, children: bool = False) -> float:
    """CPU seconds (user + system) of a process from ``/proc`` (Linux); with ``children``,
    those of its children already waited for too."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU seconds of the harness PostgreSQL: its postmaster's children, live and exited."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        status = Path(f"/proc/{backend}/status").read_text()
        postmaster = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
    total = process_cpu_seconds(postmaster, children=True)
    for child in Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split():
        with contextlib.suppress(FileNotFoundError):  # exited meanwhile: counted with the postmaster
            total += process_cpu_seconds(int(child))
    return total


RESULTS_HEADING = "## Telemetry ingest: POST /api/v1/telemetry/ vs raw COPY (`bench/bench_ingest.py`)"


def _results_row_append(row: str, results: Path) -> None:
    """Add ``row`` to the last table of this benchmark's section in RESULTS.md, wherever
    the section is (other benchmarks append sections after it); start the section at the
    end of the file if there is none yet."""
    lines = results.read_text().splitlines(keepends=True) if results.exists() else []
    if RESULTS_HEADING + "\n" not in lines:
        lines.append(
            f"\n{RESULTS_HEADING}\n\nMachine: {machine()}. Harness PostgreSQL (fsync off) and Redis on loopback; "
            "real uvicorn; clients in one process (threads, keep-alive, TCP_NODELAY, pre-serialised bodies).\n\n"
            "| when (UTC) | run | API readings/s | raw COPY readings/s | ratio | load avg |\n|---|---|---|---|---|---|\n"
        )
        results.write_text("".join(lines) + row)
        return
    start = lines.index(RESULTS_HEADING + "\n")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    last_row = max(i for i in range(start, end) if lines[i].startswith("|"))
    lines.insert(last_row + 1, row)
    results.write_text("".join(lines))


def main() -> int:
    args = parse_args()
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("run under scripts/with_services.py (needs DATABASE_URL and REDIS_URL)")
    (ROOT / "var").mkdir(exist_ok=True)
    feeders, token = setup_database(args.feeders)
    bodies, copy_rows = build_rows(feeders, args.rounds, args.clients, args.batch)
    total = len(copy_rows)
    print(
        f"{total:,} readings: {args.feeders:,} feeders x {args.rounds} rounds; batches of {args.batch}; "
        f"{args.clients} clients; uvicorn x{args.workers}"
    )

    copy_seconds = copy_baseline(copy_rows)
    copy_rate = total / copy_seconds
    print(f"raw COPY:  {copy_rate:12,.0f} readings/s ({copy_seconds:.2f} s)")

    if args.watch_overview:
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        async_to_sync(layer.group_add)("feeders.all", async_to_sync(layer.new_channel)())
    proc, url = start_server(args.workers)
    try:
        # CPU per batch on each side (Linux /proc): says which side caps the rate on a
        # machine whose cores other work shares. One uvicorn process: --workers 1.
        cpu_before = (process_cpu_seconds(proc.pid), postgres_cpu_seconds(), time.process_time())
        api_seconds, accepted, errors = post_all(url, token, bodies)
        cpu_after = (process_cpu_seconds(proc.pid), postgres_cpu_seconds(), time.process_time())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if errors:
        print(f"{len(errors)} batch(es) failed, first: {errors[0]}")
        return 1
    assert accepted == total, (accepted, total)
    api_rate = total / api_seconds
    ratio = api_rate / copy_rate
    print(
        f"API:       {api_rate:12,.0f} readings/s ({api_seconds:.2f} s, {total / args.batch / api_seconds:.0f} batches/s)"
    )
    print(f"ratio API/COPY: {ratio:.2f}  (target: >= 50,000 readings/s, about 0.25 of COPY)")
    batches = total / args.batch
    server, postgres, client = (
        1000 * (after - before) / batches for before, after in zip(cpu_before, cpu_after, strict=True)
    )
    which = "uvicorn" if args.workers == 1 else "uvicorn's supervisor only (use --workers 1)"
    print(f"CPU per batch: {which} {server:.1f} ms, PostgreSQL {postgres:.1f} ms, clients {client:.1f} ms")

    if not args.no_results:
        load = os.getloadavg()[0]
        line = (
            f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | `--feeders {args.feeders} --rounds {args.rounds} --batch "
            f"{args.batch} --clients {args.clients} --workers {args.workers}"
            f"{' --watch-overview' if args.watch_overview else ''}` | {api_rate:,.0f} | {copy_rate:,.0f} "
            f"| {ratio:.2f} | {load:.1f} |\n"
        )
        _results_row_append(line, ROOT / "bench" / "RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
