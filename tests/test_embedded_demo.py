"""The embedded demo boots from the same entry point ``make demo`` uses, serves the
dashboard to a logged-in operator and shuts down cleanly."""

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.processes import ROOT, free_port, wait_for_http
from tests.test_processes import login

EMBEDDED_ENV_DROPS = {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "DNOCTL_HTTPS"}


@pytest.fixture
def embedded_demo(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in EMBEDDED_ENV_DROPS}
    env.update(
        DNOCTL_SQLITE_PATH=str(tmp_path / "demo.sqlite3"),
        DCC_KEY_DIR=str(tmp_path / "keys"),
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "demo.log"
    with log.open("w") as handle:
        proc = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "run_embedded",
                "--port",
                str(port),
                "--premises",
                "400",
                "--feeders",
                "12",
                "--substations",
                "3",
            ],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", proc, log, timeout=120)
        yield f"http://127.0.0.1:{port}", proc, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_embedded_demo_serves_the_dashboard_to_the_demo_operator(embedded_demo):
    url, proc, log = embedded_demo
    assert "operator login: operator / operator-demo" in log.read_text()
    anonymous = requests.get(f"{url}/", timeout=10, allow_redirects=False)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous.headers["Location"]
    session = login(url, "operator", "operator-demo")
    page = session.get(f"{url}/", timeout=10)
    assert page.status_code == 200
    assert "SS000-F0000" in page.text  # a seeded feeder is listed
    # The OpenADR 3 VTN runs beside it, on its own port, and wants a VEN's token.
    vtn_url = re.search(r"OpenADR 3 VTN \(ASP call-offs\): (\S+)/ ", log.read_text()).group(1)
    assert requests.get(f"{vtn_url.split('/openadr3')[0]}/healthz/vtn", timeout=10).status_code == 200
    assert requests.get(f"{vtn_url}/events", timeout=10).status_code == 401
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]


def _readings_in(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return connection.execute("SELECT count(*) FROM feeders_feederreading").fetchone()[0]


def test_embedded_demo_feeds_live_telemetry_into_sqlite_and_the_overview(embedded_demo, tmp_path):
    url, proc, log = embedded_demo
    database = tmp_path / "demo.sqlite3"
    session = login(url, "viewer", "viewer-demo")
    # The telemetry simulator posts through the real ingest API every few seconds; wait
    # (bounded) for the first readings rather than asserting how soon they come.
    deadline = time.monotonic() + 90
    while _readings_in(database) == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(1)
    assert _readings_in(database) > 0, log.read_text()[-3000:]
    page = session.get(f"{url}/", timeout=10).text
    # Feeders with readings are no longer offline on the overview.
    assert re.search(r'<tr data-feeder-id="\d+"[^>]* class="status-(normal|at_risk|curtailing)', page)
