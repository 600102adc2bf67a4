#!/usr/bin/env python3
"""Run a command against throwaway PostgreSQL and Redis servers on loopback.

    python scripts/with_services.py -- pytest -q

Starts both in a temporary directory on free ports, exports ``DATABASE_URL``,
``REDIS_URL`` and a test ``DJANGO_SECRET_KEY`` to the command, and stops and deletes them
afterwards whatever the command's outcome. ``initdb`` and ``postgres`` refuse to run as
root, so as root they run as the ``postgres`` account the Debian package creates.
Stdlib only: it runs before the virtualenv's packages matter.

Fault tests stop and restart the servers on the same ports (``tests/services_control.py``).
For them the temporary directory (``DNOCTL_SERVICES_DIR``, exported) holds
``services.json``: for each of ``postgres`` and ``redis`` the command that starts it, its
port, log file, the signal that stops it quickly and its current process id. Whoever
restarts a server writes the new process id there; on exit this script stops the process
the file names, so a server a test restarted is stopped too.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_file(path: str):
    """A log file the child process inherits; it lives as long as the process."""
    return open(path, "a")


def postgres_bin_dir() -> str:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    for candidate in reversed(candidates):
        if os.path.exists(os.path.join(candidate, "initdb")):
            return candidate
    sys.exit("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: run scripts/ensure_system_packages.sh")


def as_postgres_user(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def wait_for_port(port: int, what: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not start listening on port {port} within {timeout} s")


def start_postgres(workdir: str) -> tuple[subprocess.Popen, int]:
    bindir = postgres_bin_dir()
    datadir = os.path.join(workdir, "pg")
    sockdir = os.path.join(workdir, "sock")
    os.makedirs(sockdir)
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        shutil.chown(sockdir, "postgres")
    subprocess.run(
        as_postgres_user(
            [f"{bindir}/initdb", "-D", datadir, "-U", "dnoctl", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    # Durability off: the data is thrown away, and fsync only slows the suite down.
    argv = as_postgres_user(
        [
            f"{bindir}/postgres",
            "-D",
            datadir,
            "-p",
            str(port),
            "-k",
            sockdir,
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=300",
            "-c",
            "shared_buffers=256MB",
        ]
    )
    log = os.path.join(workdir, "postgres.log")
    proc = subprocess.Popen(argv, stdout=log_file(log), stderr=subprocess.STDOUT)
    wait_for_port(port, "postgres", proc)
    # Accepting TCP is not yet accepting logins; createdb retries until the server is ready.
    deadline = time.monotonic() + 60
    while True:
        done = subprocess.run(
            [f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "dnoctl", "dnoctl"],
            capture_output=True,
            text=True,
        )
        if done.returncode == 0:
            break
        if time.monotonic() > deadline:
            sys.exit(f"createdb failed: {done.stderr}")
        time.sleep(0.2)
    # The postmaster's own pid (as root, ``proc`` is runuser's): what a restart signals.
    with open(os.path.join(datadir, "postmaster.pid")) as pidfile:
        pid = int(pidfile.readline())
    # SIGINT is PostgreSQL's fast shutdown.
    record_service(workdir, "postgres", argv=argv, port=port, log=log, pid=pid, stop_signal=int(signal.SIGINT))
    return proc, port


def start_redis(workdir: str) -> tuple[subprocess.Popen, int]:
    server = shutil.which("redis-server")
    if not server:
        sys.exit("redis-server not found: run scripts/ensure_system_packages.sh")
    port = free_port()
    # No persistence: a restart loses every queued message, the worst case for the fault tests.
    argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir]
    log = os.path.join(workdir, "redis.log")
    proc = subprocess.Popen(argv, stdout=log_file(log), stderr=subprocess.STDOUT)
    wait_for_port(port, "redis-server", proc)
    record_service(workdir, "redis", argv=argv, port=port, log=log, pid=proc.pid, stop_signal=int(signal.SIGTERM))
    return proc, port


def record_service(workdir: str, name: str, **entry) -> None:
    """Write (or replace) one server's entry in ``services.json`` (see the module docstring)."""
    path = os.path.join(workdir, "services.json")
    services = {}
    if os.path.exists(path):
        with open(path) as handle:
            services = json.load(handle)
    services[name] = entry
    with open(path + ".tmp", "w") as handle:
        json.dump(services, handle, indent=2)
    os.replace(path + ".tmp", path)


def stop_recorded(workdir: str) -> None:
    """Stop the servers ``services.json`` names: a test may have restarted them, so they
    are not necessarily the processes this script started."""
    path = os.path.join(workdir, "services.json")
    if not os.path.exists(path):
        return
    with open(path) as handle:
        services = json.load(handle)
    for entry in services.values():
        try:
            os.kill(entry["pid"], entry["stop_signal"])
        except (ProcessLookupError, PermissionError):
            continue
        deadline = time.monotonic() + 20
        while process_alive(entry["pid"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        if process_alive(entry["pid"]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(entry["pid"], signal.SIGKILL)


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def stop(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        sys.exit("usage: with_services.py -- COMMAND [ARGS...]")
    workdir = tempfile.mkdtemp(prefix="dnoctl-services-")
    os.chmod(workdir, 0o755)  # noqa: S103 - the postgres account must enter it
    procs: list[tuple[subprocess.Popen, int]] = []
    try:
        pg, pg_port = start_postgres(workdir)
        procs.append((pg, signal.SIGINT))  # SIGINT = PostgreSQL's fast shutdown
        redis, redis_port = start_redis(workdir)
        procs.append((redis, signal.SIGTERM))
        env = dict(os.environ)
        env.update(
            DATABASE_URL=f"postgres://dnoctl@127.0.0.1:{pg_port}/dnoctl",
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            DNOCTL_HTTPS="false",
            DNOCTL_SERVICES_DIR=workdir,
        )
        print(f"with_services: PostgreSQL on {pg_port}, Redis on {redis_port}", flush=True)
        return subprocess.call(argv, env=env)
    finally:
        stop_recorded(workdir)
        for proc, sig in reversed(procs):
            stop(proc, sig)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
