"""Live-push benchmark: with 200 WebSocket clients on the overview socket, the time from a
reading POSTed to the telemetry API to its ``feeder.reading`` frame arriving at every client,
against a same-run Redis publish/subscribe round trip to as many subscribers; and the
overview page with 5,000 feeders (server time and payload size) against ``/healthz/web``.

    .venv/bin/python scripts/with_services.py -- .venv/bin/python bench/bench_ws.py

Needs ``DATABASE_URL``/``REDIS_URL`` (production settings: PostgreSQL, Redis channel layer).
It migrates the throwaway database, creates the feeders, a viewer and a head-end token,
starts a real uvicorn server on loopback and then:

1. **baseline**: ``--clients`` redis-py asyncio subscribers on one channel; ``--messages``
   publishes, each timed from just before ``PUBLISH`` to its arrival at each subscriber;
2. **WebSocket**: ``--clients`` logged-in sockets on ``/ws/feeders/`` (group
   ``feeders.all``); ``--messages`` readings POSTed one at a time (each one row for one
   feeder), each timed from just before the POST to the frame's arrival at each client.
   That span includes the ingest itself (validation, insert, detection, summary update,
   commit) before the push, so it is what an operator's screen lags a monitor by;
3. **overview**: ``GET /`` with ``--overview-feeders`` feeders (logged in, the first page of
   50 rows plus the map of every substation), ``--page-requests`` times, against ``GET
   /healthz/web`` on the same connection.

Clients, publisher and server share the machine's cores, so absolute figures are noisy;
the ratios are what to compare between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402 - needs ROOT on sys.path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dnoctl.settings")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between readings")
    parser.add_argument("--overview-feeders", type=int, default=5000)
    parser.add_argument("--page-requests", type=int, default=20)
    parser.add_argument("--no-results", action="store_true", help="do not append to bench/RESULTS.md")
    parser.add_argument(
        "--uvicorn-option",
        action="append",
        default=[],
        help="extra uvicorn option, e.g. --uvicorn-option=--ws-per-message-deflate=false (repeatable)",
    )
    return parser.parse_args()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def setup_database(feeder_count: int) -> dict:
    """Migrate and collect the static files; create ``feeder_count`` feeders over 250
    substations, a viewer and a head-end token; return what the clients need (session
    cookie, token, a feeder code)."""
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.test import Client

    from core.roles import VIEWER, roles_ensure
    from feeders.models import Feeder, Substation
    from feeders.services import monitor_token_issue

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # the overview links the manifest's names
    roles_ensure()
    Feeder.objects.filter(code__startswith="WSB-").delete()
    Substation.objects.filter(code__startswith="WSB-").delete()
    substations = Substation.objects.bulk_create(
        [
            Substation(
                code=f"WSB-SS{i:04d}",
                name=f"Bench {i}",
                latitude=50.5 + (i % 25) * 0.1,
                longitude=-4.0 + (i // 25) * 0.3,
                licence_area="west_midlands",
            )
            for i in range(250)
        ]
    )
    statuses = ["normal"] * 17 + ["at_risk", "curtailing", "offline"]
    Feeder.objects.bulk_create(
        [
            Feeder(
                code=f"WSB-{i:06d}",
                substation=substations[i % len(substations)],
                rating_amps=400.0,
                status=statuses[i % len(statuses)],
                last_load_percent=(i * 37) % 100,
                # The feeder the readings go to has none yet: only a reading newer than the
                # last one advances the summary and is pushed.
                last_reading_at=datetime.now(UTC) - timedelta(minutes=1) if i else None,
            )
            for i in range(feeder_count)
        ],
        batch_size=5000,
    )
    user, _ = User.objects.get_or_create(username="bench-viewer")
    user.groups.add(Group.objects.get(name=VIEWER))
    client = Client()
    client.force_login(user)
    from django.conf import settings

    return {
        "session": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "cookie_name": settings.SESSION_COOKIE_NAME,
        "token": monitor_token_issue(name=f"bench-ws-{time.time_ns()}"),
        "feeder": "WSB-000000",
    }


def start_server(options: list[str]) -> tuple[subprocess.Popen, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (ROOT / "var").mkdir(exist_ok=True)
    log = open(ROOT / "var" / "bench_ws_uvicorn.log", "w")  # noqa: SIM115 - lives as long as the server
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
            "--log-level",
            "warning",
            "--no-access-log",
            "--lifespan",
            "off",
            *options,
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz/web")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"uvicorn did not come up; see {log.name}")


async def redis_baseline(clients: int, messages: int, interval: float) -> list[float]:
    """Publish -> arrival at each of ``clients`` subscribers, in ms."""
    import redis.asyncio as aioredis

    url = os.environ["REDIS_URL"]
    channel = "bench-ws-baseline"
    sent: dict[int, float] = {}
    latencies: list[float] = []
    subscribers = []
    for _ in range(clients):
        connection = aioredis.from_url(url)
        pubsub = connection.pubsub()
        await pubsub.subscribe(channel)
        await pubsub.get_message(timeout=1)  # the subscribe confirmation
        subscribers.append((connection, pubsub))

    async def listen(pubsub) -> None:
        got = 0
        while got < messages:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            if message is None:
                continue
            arrived = time.perf_counter()
            latencies.append((arrived - sent[int(message["data"])]) * 1000)
            got += 1

    listeners = [asyncio.create_task(listen(pubsub)) for _, pubsub in subscribers]
    publisher = aioredis.from_url(url)
    for seq in range(messages):
        sent[seq] = time.perf_counter()
        await publisher.publish(channel, str(seq))
        await asyncio.sleep(interval)
    await asyncio.wait_for(asyncio.gather(*listeners), timeout=60)
    await publisher.aclose()
    for connection, pubsub in subscribers:
        await pubsub.aclose()
        await connection.aclose()
    return latencies


def post_reading(port: int, token: str, feeder: str, measured_at: datetime) -> int:
    body = json.dumps(
        {
            "readings": [
                {"feeder": feeder, "measured_at": measured_at.isoformat(), "amps": [200.0, 190.0, 180.0], "kw": 130.0}
            ]
        }
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(
        "POST",
        "/api/v1/telemetry/",
        body=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    status = conn.getresponse().status
    conn.close()
    return status


async def websocket_run(
    port: int, setup: dict, clients: int, messages: int, interval: float
) -> tuple[list[float], list[float], int, list[float]]:
    """POST -> ``feeder.reading`` frame at each of ``clients`` sockets, in ms; then the push
    alone: a ``group_send`` of the same message from this process -> the frame at each."""
    import websockets
    from channels.layers import get_channel_layer

    from core.push import FEEDERS_ALL

    headers = {"Cookie": f"{setup['cookie_name']}={setup['session']}", "Origin": f"http://127.0.0.1:{port}"}
    sockets = []
    for _ in range(clients):
        sockets.append(await websockets.connect(f"ws://127.0.0.1:{port}/ws/feeders/", additional_headers=headers))
    sent: dict[str, float] = {}
    latencies: list[float] = []
    push_latencies: list[float] = []
    pushes_from = "push:"  # a code no real feeder has marks the push-only frames

    pushes_arrived: dict[str, int] = {}
    all_arrived: dict[str, asyncio.Event] = {}

    async def listen(ws) -> None:
        got = 0
        while got < 2 * messages:
            frame = json.loads(await ws.recv())
            if frame.get("type") != "feeder.reading":
                continue
            arrived = time.perf_counter()
            payload = frame["payload"]
            key = payload["measured_at"]
            if payload["code"].startswith(pushes_from):
                push_latencies.append((arrived - sent[key]) * 1000)
                pushes_arrived[key] = pushes_arrived.get(key, 0) + 1
                if pushes_arrived[key] == clients:
                    all_arrived[key].set()
            else:
                latencies.append((arrived - sent[key]) * 1000)
            got += 1

    listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
    rejected = 0
    post_times: list[float] = []
    for _ in range(messages):
        measured_at = datetime.now(UTC)
        started = sent[measured_at.isoformat()] = time.perf_counter()
        status = await asyncio.to_thread(post_reading, port, setup["token"], setup["feeder"], measured_at)
        post_times.append((time.perf_counter() - started) * 1000)
        rejected += status != 202
        await asyncio.sleep(interval)
    layer = get_channel_layer()
    for seq in range(messages):
        measured_at = datetime.now(UTC).isoformat()
        payload = {
            "feeder_id": 0,
            "code": f"{pushes_from}{seq}",
            "measured_at": measured_at,
            "amps": [200.0, 190.0, 180.0],
            "kw": 130.0,
            "load_percent": 50.0,
            "status": "normal",
        }
        all_arrived[measured_at] = asyncio.Event()
        sent[measured_at] = time.perf_counter()
        await layer.group_send(FEEDERS_ALL, {"type": "feeder.reading", "payload": payload})
        # Paced like the POSTs (each waits for its reply): the next push goes once this one
        # has reached every socket, so this times one push, not the server's throughput.
        await asyncio.wait_for(all_arrived[measured_at].wait(), timeout=30)
        await asyncio.sleep(interval)
    await asyncio.wait_for(asyncio.gather(*listeners), timeout=120)
    for ws in sockets:
        await ws.close()
    return latencies, post_times, rejected, push_latencies


def timed_gets(port: int, path: str, cookie: str, count: int) -> tuple[list[float], int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times, size = [], 0
    for _ in range(count):
        started = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read()
        times.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status}")
        size = len(body)
    conn.close()
    return times, size


def main() -> int:
    args = parse_args()
    print(f"machine: {machine()}")
    setup = setup_database(args.overview_feeders)
    server, port = start_server(args.uvicorn_option)
    try:
        baseline = asyncio.run(redis_baseline(args.clients, args.messages, args.interval))
        ws_latencies, post_times, rejected, push_latencies = asyncio.run(
            websocket_run(port, setup, args.clients, args.messages, args.interval)
        )
        cookie = f"{setup['cookie_name']}={setup['session']}"
        timed_gets(port, "/", cookie, 2)  # warm up templates and connections
        page_times, page_size = timed_gets(port, "/", cookie, args.page_requests)
        health_times, _ = timed_gets(port, "/healthz/web", cookie, args.page_requests)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    if rejected:
        print(f"warning: {rejected} readings were not accepted (see var/bench_ws_uvicorn.log)")
    expected = args.clients * args.messages
    base_p50, base_p95 = percentile(baseline, 50), percentile(baseline, 95)
    ws_p50, ws_p95 = percentile(ws_latencies, 50), percentile(ws_latencies, 95)
    push_p50, push_p95 = percentile(push_latencies, 50), percentile(push_latencies, 95)
    page_median, health_median = statistics.median(page_times), statistics.median(health_times)
    load = os.getloadavg()
    lines = [
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}",
        f"redis pub/sub to {args.clients} subscribers: p50 {base_p50:.1f} ms, p95 {base_p95:.1f} ms ({len(baseline)} deliveries)",
        f"reading POST -> frame at {args.clients} sockets: p50 {ws_p50:.1f} ms, p95 {ws_p95:.1f} ms "
        f"({len(ws_latencies)}/{expected} frames)",
        f"ratio websocket/redis: p50 x{ws_p50 / base_p50:.1f}, p95 x{ws_p95 / base_p95:.1f}",
        f"the push alone (group_send -> frame at {args.clients} sockets): p50 {push_p50:.1f} ms, "
        f"p95 {push_p95:.1f} ms ({len(push_latencies)}/{expected} frames), "
        f"x{push_p50 / base_p50:.1f} / x{push_p95 / base_p95:.1f} of redis",
        f"of which the POST itself (ingest, 202 received): p50 {percentile(post_times, 50):.1f} ms, "
        f"p95 {percentile(post_times, 95):.1f} ms",
        f"overview with {args.overview_feeders} feeders: median {page_median:.1f} ms, {page_size / 1024:.1f} KiB; "
        f"/healthz/web median {health_median:.1f} ms; ratio x{page_median / health_median:.1f}",
    ]
    for line in lines:
        print(line)
    if not args.no_results:
        results = ROOT / "bench" / "RESULTS.md"
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        with results.open("a") as handle:
            handle.write(
                f"\n## Dashboard: live push and overview (`bench/bench_ws.py`), {stamp}\n\n"
                f"Machine: {machine()}. One uvicorn process, production settings (PostgreSQL, Redis "
                f"channel layer); clients, publisher and server on the same 2 cores; load average "
                f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the end. "
                f"`--clients {args.clients} --messages {args.messages} --interval {args.interval}"
                f"{''.join(' --uvicorn-option=' + option for option in args.uvicorn_option)}`.\n\n"
                "| measure | p50 | p95 | baseline p50 | baseline p95 | ratio p50 / p95 |\n|---|---|---|---|---|---|\n"
                f"| reading POST -> `feeder.reading` frame at each of {args.clients} sockets vs Redis PUBLISH -> "
                f"each of {args.clients} subscribers | {ws_p50:.1f} ms | {ws_p95:.1f} ms | {base_p50:.1f} ms | "
                f"{base_p95:.1f} ms | x{ws_p50 / base_p50:.1f} / x{ws_p95 / base_p95:.1f} |\n"
                f"| of which the POST round trip (ingest, 202 received) | {percentile(post_times, 50):.1f} ms | "
                f"{percentile(post_times, 95):.1f} ms | | | |\n"
                f"| the push alone: `group_send` to `feeders.all` -> frame at each of {args.clients} sockets | "
                f"{push_p50:.1f} ms | {push_p95:.1f} ms | {base_p50:.1f} ms | {base_p95:.1f} ms | "
                f"x{push_p50 / base_p50:.1f} / x{push_p95 / base_p95:.1f} |\n\n"
                f"Overview `GET /` with {args.overview_feeders} feeders (first page of 50 rows, map of all "
                f"substations): median {page_median:.1f} ms server round trip, {page_size / 1024:.1f} KiB; "
                f"`/healthz/web` median {health_median:.1f} ms (x{page_median / health_median:.1f}).\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
