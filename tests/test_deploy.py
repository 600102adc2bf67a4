"""The systemd units in deploy/ run what the Procfile runs, and restart a dead process."""

import configparser
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(DEPLOY / name)
    return parser


@pytest.mark.parametrize(
    ("process", "unit_name"),
    [
        ("web", "dnoctl-web.service"),
        ("vtn", "dnoctl-vtn.service"),
        ("worker", "dnoctl-worker@.service"),
        ("beat", "dnoctl-beat.service"),
    ],
)
def test_each_process_type_has_a_unit_that_restarts_it(process, unit_name):
    service = unit(unit_name)["Service"]
    assert service["Restart"] == "always"
    # The unit runs the Procfile's program with the same subcommand and options that matter.
    command = procfile()[process].replace("${PORT:-8000}", "8000").replace("${VTN_PORT:-8081}", "8081").split()
    exec_start = service["ExecStart"].split()
    assert Path(exec_start[0]).name == command[0]
    for word in command[1:]:
        if word == "0.0.0.0":  # noqa: S104 - the unit binds loopback behind the TLS proxy
            continue
        assert word in exec_start, (word, exec_start)


def test_the_target_starts_web_vtn_workers_and_beat():
    wants = unit("dnoctl.target")["Unit"]["Wants"].split()
    assert {"dnoctl-web.service", "dnoctl-vtn.service", "dnoctl-beat.service"} <= set(wants)
    assert any(re.fullmatch(r"dnoctl-worker@\d+\.service", name) for name in wants)
