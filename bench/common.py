"""Helpers the benchmarks share: what machine a figure was measured on."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "unknown CPU"."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def machine() -> str:
    """One line for bench/RESULTS.md: cores, CPU model, Python version."""
    return f"nproc={os.cpu_count()}, {cpu_model()}, Python {platform.python_version()}"


def cpu_seconds_by_role(roles: dict[str, set[int]]) -> dict[str, float]:
    """CPU seconds (user + system) used so far, summed per role.

    ``roles`` maps a role name to process ids; every other process is counted under its
    command name (``postgres``, ``redis-server``...), so a benchmark can say which side of
    a flow the CPU went to. Differences of two calls give a run's share.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    by_pid = {pid: role for role, pids in roles.items() for pid in pids}
    totals: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        # The command name is in parentheses and may contain spaces: split after it.
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        used = (int(fields[11]) + int(fields[12])) / ticks
        role = by_pid.get(int(entry.name), name)
        totals[role] = totals.get(role, 0.0) + used
    return totals


def cpu_difference(before: dict[str, float], after: dict[str, float], *, at_least: float = 0.05) -> str:
    """``role 1.23 s, role 0.45 s`` for the roles that used at least ``at_least`` seconds."""
    used = {role: after[role] - before.get(role, 0.0) for role in after}
    shown = sorted(((s, r) for r, s in used.items() if s >= at_least), reverse=True)
    return ", ".join(f"{role} {seconds:.2f} s" for seconds, role in shown)


def dcc_simulator_start(workdir: Path):
    """Write the development DCC identities into ``workdir``, migrate the throwaway database
    and start the DCC simulator on loopback (no latency, no callback: the benches stop at
    the DCC's synchronous acknowledgement). Returns the key paths and the simulator. Call
    after ``django.setup()`` with ``DCC_KEY_DIR=workdir`` in the environment."""
    from django.conf import settings
    from django.core.management import call_command

    from dcc.config import ensure_dev_keys
    from dcc.duis import DuisSigner
    from dcc.duis.signing import load_certificate
    from dcc.simulator import DccSimulator, SimulatedUser

    paths = {name: str(path) for name, path in ensure_dev_keys(workdir).items()}
    call_command("migrate", interactive=False, verbosity=0)
    us = SimulatedUser(
        eui64=settings.DCC["ORIGINATOR_EUI64"],
        xml_certs=(load_certificate(Path(paths["XML_CERT_PATH"]).read_bytes()),),
        gbcs_cert=load_certificate(Path(paths["GBCS_CERT_PATH"]).read_bytes()),
        gbcs_ka_cert=load_certificate(Path(paths["GBCS_KA_CERT_PATH"]).read_bytes()),
    )
    simulator = DccSimulator(
        dcc_signer=DuisSigner.from_files(paths["SIMULATOR_KEY_PATH"], paths["SIMULATOR_CERT_PATH"]),
        users=[us],
        callback_url=None,
        latency_s=(0.0, 0.0),
    ).start()
    return paths, simulator


def bare_dcc_client(simulator, paths: dict[str, str]):
    """A DccClient with the development identities and no database (an in-memory counter far
    ahead of the engine's): the same-run baseline the engine benches compare against."""
    import time

    from django.conf import settings

    from dcc.config import get_schema
    from dcc.duis import DccClient, DuisSigner, DuisVerifier, GbcsSigner, InMemoryCounterSource

    return DccClient(
        simulator.url,
        DuisSigner.from_files(paths["XML_KEY_PATH"], paths["XML_CERT_PATH"]),
        DuisVerifier.from_files(paths["SIMULATOR_CERT_PATH"]),
        gbcs_signer=GbcsSigner.from_files(paths["GBCS_KEY_PATH"], paths["GBCS_CERT_PATH"]),
        originator=settings.DCC["ORIGINATOR_EUI64"],
        counters=InMemoryCounterSource(start=int(time.time() * 1000) + 10**9),
        schema=get_schema(),
    )
