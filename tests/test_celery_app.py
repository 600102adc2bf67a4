"""A worker loads every task module, as a fresh process would."""

import json
import subprocess
import sys

from tests.processes import ROOT

PROBE = (
    "import django, json; django.setup(); from dnoctl.celery import app; "
    "app.loader.import_default_modules(); print(json.dumps(sorted(app.tasks)))"
)


def test_a_fresh_worker_process_registers_the_tasks_of_every_area():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    names = set(json.loads(done.stdout.strip().splitlines()[-1]))
    # one task per area, each defined in a different module the worker must import
    for expected in (
        "curtailment.reports.export",
        "curtailment.tasks.event_open_for_alert",
        "feeders.tasks.feeders_offline_sweep",
    ):
        assert expected in names, (
            f"{expected} not registered: {sorted(n for n in names if not n.startswith('celery.'))}"
        )
    assert any(name.startswith("consent.tasks.") for name in names)
