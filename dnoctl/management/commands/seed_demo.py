import time

from django.core.management.base import BaseCommand, CommandError

from dnoctl.demo_seed import DemoSize, demo_seed


class Command(BaseCommand):
    help = "Create a deterministic synthetic DNO area for the demo (idempotent)."

    def add_arguments(self, parser):
        defaults = DemoSize()
        parser.add_argument("--substations", type=int, default=defaults.substations)
        parser.add_argument("--feeders", type=int, default=defaults.feeders)
        parser.add_argument("--premises", type=int, default=defaults.premises)
        parser.add_argument(
            "--ev-share", type=float, default=defaults.ev_share, help="share of premises with a charger"
        )
        parser.add_argument("--seed", type=int, default=defaults.seed)

    def handle(self, *args, **options):
        size = DemoSize(
            substations=options["substations"],
            feeders=options["feeders"],
            premises=options["premises"],
            ev_share=options["ev_share"],
            seed=options["seed"],
        )
        if min(size.substations, size.feeders, size.premises) < 1:
            raise CommandError("--substations, --feeders and --premises must be at least 1")
        if size.substations > 1000:
            raise CommandError("--substations: at most 1000")
        if not 0 <= size.ev_share <= 1:
            raise CommandError("--ev-share must be between 0 and 1")
        started = time.monotonic()
        result = demo_seed(size=size)
        verb = "created" if result.created else "already present, nothing written"
        self.stdout.write(f"demo area {size.tag}: {verb} in {time.monotonic() - started:.1f} s")
        for label, count in result.counts.items():
            self.stdout.write(f"  {label}: {count}")
