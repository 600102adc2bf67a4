"""Stop and restart the harness's PostgreSQL and Redis on their own ports, for fault tests.

``scripts/with_services.py`` starts both servers and describes them in
``$DNOCTL_SERVICES_DIR/services.json`` (the command that starts each, its port, log, stop
signal and current pid). :func:`stop` signals the recorded process and waits until the port
is closed; :func:`start` runs the recorded command again (same port, same data directory)
and waits until it serves; both keep the file's pid current, so ``with_services.py`` stops
the right process when the run ends.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

_started: list[subprocess.Popen] = []  # kept so the children are reaped


def available() -> bool:
    """True when the servers come from ``with_services.py`` (so they can be restarted)."""
    directory = os.environ.get("DNOCTL_SERVICES_DIR")
    return bool(directory) and (Path(directory) / "services.json").exists()


@dataclass(frozen=True)
class Service:
    name: str
    argv: list[str]
    port: int
    log: str
    pid: int
    stop_signal: int


def _state_path() -> Path:
    directory = os.environ.get("DNOCTL_SERVICES_DIR")
    if not directory:
        raise RuntimeError("DNOCTL_SERVICES_DIR is not set: run the tests through scripts/with_services.py")
    return Path(directory) / "services.json"


def _load() -> dict[str, dict]:
    return json.loads(_state_path().read_text())


def service(name: str) -> Service:
    return Service(name=name, **_load()[name])


def _record_pid(name: str, pid: int) -> None:
    state = _load()
    state[name]["pid"] = pid
    tmp = _state_path().with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(_state_path())


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def stop(name: str, *, sig: int | None = None, timeout: float = 30) -> None:
    """Stop the server (its fast shutdown unless ``sig``: SIGKILL crashes Redis, SIGQUIT
    crashes PostgreSQL without a checkpoint) and wait until it has exited and its port is
    closed."""
    svc = service(name)
    try:
        os.kill(svc.pid, sig if sig is not None else svc.stop_signal)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while (_alive(svc.pid) or _port_open(svc.port)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(svc.pid):
        raise RuntimeError(f"{name} (pid {svc.pid}) did not stop within {timeout} s")
    for proc in _started:
        proc.poll()  # reap a server this process had started


def start(name: str, *, timeout: float = 60) -> None:
    """Start the server again with its recorded command and wait until it serves."""
    svc = service(name)
    if _alive(svc.pid):
        return
    with open(svc.log, "a") as log:
        proc = subprocess.Popen(svc.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    _started.append(proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited at once ({proc.returncode}); see {svc.log}")
        if _port_open(svc.port) and _serves(name, svc):
            break
        time.sleep(0.1)
    else:
        raise RuntimeError(f"{name} did not serve on port {svc.port} within {timeout} s; see {svc.log}")
    _record_pid(name, _server_pid(name, svc, proc))


def restart(name: str, *, down_for: float = 0.0, sig: int | None = None) -> None:
    """Stop the server, leave it down for ``down_for`` seconds, start it again."""
    stop(name, sig=sig)
    time.sleep(down_for)
    start(name)


def _serves(name: str, svc: Service) -> bool:
    if name == "redis":
        try:
            with socket.create_connection(("127.0.0.1", svc.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False
    import psycopg

    try:
        with psycopg.connect(host="127.0.0.1", port=svc.port, user="dnoctl", dbname="postgres", connect_timeout=1):
            return True
    except psycopg.OperationalError:
        return False


def _server_pid(name: str, svc: Service, proc: subprocess.Popen) -> int:
    if name != "postgres":
        return proc.pid
    # As root the command is runuser's: signal the postmaster itself.
    datadir = svc.argv[svc.argv.index("-D") + 1]
    with open(os.path.join(datadir, "postmaster.pid")) as pidfile:
        return int(pidfile.readline())
