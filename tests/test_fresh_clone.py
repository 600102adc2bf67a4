"""A newcomer's fresh clone: the demo's own start-up works with nothing beside the
repository and nothing made before it (no ``var/``, no collected static files, no
``../shared``, no environment variables).

The committed HEAD of this checkout is cloned into an empty temporary folder. Uncommitted
changes are not in the clone, on purpose: a file that exists only on a developer's disk is
one a newcomer will not have. The clone runs on this virtualenv's python: installing
``requirements.txt`` is ``make``'s job, and the list it installs is the one this
virtualenv was made from.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import ROOT, free_port, wait_for_http
from tests.test_processes import login

pytestmark = pytest.mark.processes

# A newcomer's shell sets none of the project's variables; the harness's own (test
# database, Redis, DCC keys, static root) must not leak into the clone's start-up.
PROJECT_ENV_PREFIXES = ("DATABASE_URL", "REDIS_URL", "DJANGO_", "DNOCTL_", "DCC_", "PYTHONPATH")
DEMO_COMMAND = [sys.executable, "manage.py", "run_embedded"]  # `make demo`, with this venv's python


@dataclass
class FreshDemo:
    url: str
    clone: Path
    proc: subprocess.Popen
    log: Path


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def clone_committed_head(workspace: Path) -> Path:
    """``git clone`` this checkout into ``workspace/dnoctl``, at this checkout's HEAD."""
    head = _git("rev-parse", "HEAD", cwd=ROOT)
    clone = workspace / "dnoctl"
    _git("clone", "--quiet", str(ROOT), str(clone), cwd=workspace)
    if _git("rev-parse", "HEAD", cwd=clone) != head:  # e.g. a detached HEAD in CI
        _git("checkout", "--quiet", "--detach", head, cwd=clone)
    return clone


def _stop(proc: subprocess.Popen) -> None:
    """Ctrl-C to the demo's process group; SIGKILL if it has not stopped in a minute."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def fresh_demo(tmp_path) -> Iterator[FreshDemo]:
    workspace = tmp_path / "newcomer"
    workspace.mkdir()
    clone = clone_committed_head(workspace)
    assert sorted(p.name for p in workspace.iterdir()) == ["dnoctl"]  # nothing beside it
    assert not (clone / "var").exists()

    env = {k: v for k, v in os.environ.items() if not k.startswith(PROJECT_ENV_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as handle:
        proc = subprocess.Popen(
            # What `make demo` runs, on a smaller area so the seed is quick.
            [*DEMO_COMMAND, "--port", str(port), "--premises", "400", "--feeders", "12", "--substations", "3"],
            cwd=clone,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
        )
    try:
        yield FreshDemo(f"http://127.0.0.1:{port}", clone, proc, log)
    finally:
        _stop(proc)


def test_the_demo_starts_from_a_fresh_clone_and_serves_the_overview(fresh_demo):
    url, clone, proc, log = fresh_demo.url, fresh_demo.clone, fresh_demo.proc, fresh_demo.log
    # Migrate, collectstatic and the seed all run before the server listens.
    wait_for_http(f"{url}/accounts/login/", proc, log, timeout=300)

    session = login(url, "operator", "operator-demo")
    overview = session.get(f"{url}/", timeout=30)
    assert overview.status_code == 200, overview.text[:2000]
    assert "SS000-F0000" in overview.text  # the seeded area is there

    # Every static file the overview and a feeder page (the chart: Plotly) link, and every
    # module their scripts import, is served under its hashed name.
    feeder_page = session.get(url + re.search(r'href="(/feeders/\d+/)"', overview.text).group(1), timeout=30)
    assert feeder_page.status_code == 200, feeder_page.text[:2000]
    linked = re.findall(r'(?:href|src)="(/static/[^"]+)"', overview.text + feeder_page.text)
    assert any(path.endswith(".css") for path in linked) and any("plotly" in path for path in linked), linked
    seen = set()
    while linked:
        path = linked.pop()
        if path in seen:
            continue
        seen.add(path)
        assert re.search(r"\.[0-9a-f]{12}\.(css|js|svg)$", path), path
        served = session.get(f"{url}{path}", timeout=30)
        assert served.status_code == 200, path
        if path.endswith(".js"):
            folder = path.rsplit("/", 1)[0]
            linked += [f"{folder}/{name}" for name in re.findall(r'from "\./([^"]+)"', served.text)]

    # What it made, it made inside the clone.
    assert (clone / "var" / "dnoctl.sqlite3").is_file()
    assert (clone / "var" / "static" / "staticfiles.json").is_file()

    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
