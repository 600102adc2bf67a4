"""Runs the demo's synthetic LV monitors against ``--url``; without ``--token`` it issues a
head-end token."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from dnoctl.telemetry_simulator import (
    DEFAULT_START_LOCAL,
    MAX_RAMP_PERCENT_PER_MINUTE,
    TelemetrySimulator,
    hot_feeders,
)


class Command(BaseCommand):
    help = "Post synthetic feeder telemetry to the ingest API until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of the dnoctl web server")
        parser.add_argument("--token", help="monitor token (default: issue a new head-end token)")
        parser.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second")
        parser.add_argument("--interval", type=float, default=5.0, help="real seconds between readings")
        parser.add_argument("--start", default=DEFAULT_START_LOCAL, help="simulated London time to start at (HH:MM)")
        parser.add_argument(
            "--max-ramp",
            type=float,
            default=MAX_RAMP_PERCENT_PER_MINUTE,
            help="fastest load change the clock allows, in %% of rating per real minute (0: no limit)",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--once", action="store_true", help="post one round and exit")

    def handle(self, *args, **options):
        if options["speed"] <= 0 or options["interval"] <= 0 or options["max_ramp"] < 0:
            raise CommandError("--speed and --interval must be positive, --max-ramp positive or 0")
        token = options["token"]
        if not token:
            from feeders.services import monitor_token_issue

            token = monitor_token_issue(name=f"telemetry-simulator-{int(time.time())}")
            self.stdout.write(f"issued monitor token: {token}")
        simulator = TelemetrySimulator(
            base_url=options["url"],
            token=token,
            speed=options["speed"],
            max_ramp_percent_per_minute=options["max_ramp"] or None,
            interval_s=options["interval"],
            start_local=options["start"],
            seed=options["seed"],
        )
        if options["once"]:
            answers = simulator.tick()
            self.stdout.write(f"posted {simulator.posted} readings: {answers}")
            return
        simulator.batches()  # builds the models, so the hot feeders can be listed
        hot = hot_feeders(simulator.models)
        self.stdout.write(
            f"telemetry simulator: {len(simulator.models)} feeders to {simulator.url} at {options['speed']:g}x; "
            f"evening peak above rating on {len(hot)}: {', '.join(hot[:10])}{' ...' if len(hot) > 10 else ''}"
        )
        try:
            simulator.run()
        except KeyboardInterrupt:
            self.stdout.write("telemetry simulator stopped.")
