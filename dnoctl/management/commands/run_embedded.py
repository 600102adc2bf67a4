from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dnoctl.embedded import EmbeddedOptions, run


class Command(BaseCommand):
    help = "Migrate, seed and run the embedded demo: web, worker, beat, DCC and telemetry simulators."

    def add_arguments(self, parser):
        defaults = EmbeddedOptions()
        parser.add_argument("--host", default=defaults.host)
        parser.add_argument("--port", type=int, default=defaults.port)
        parser.add_argument("--dcc-port", type=int, default=defaults.dcc_port, help="0 = any free port")
        parser.add_argument("--premises", type=int, default=defaults.premises)
        parser.add_argument("--feeders", type=int, default=defaults.feeders)
        parser.add_argument("--substations", type=int, default=defaults.substations)
        parser.add_argument("--speed", type=float, default=defaults.speed, help="telemetry time compression")
        parser.add_argument("--no-telemetry", action="store_true", help="do not start the telemetry simulator")
        parser.add_argument("--vtn-port", type=int, default=defaults.vtn_port, help="OpenADR 3 VTN; 0 = any free port")
        parser.add_argument("--no-asp", action="store_true", help="no VTN and no stand-in aggregator")
        parser.add_argument(
            "--asp-delivers",
            type=float,
            default=defaults.asp_delivers,
            help="share of each call-off the aggregator delivers",
        )

    def handle(self, *args, **options):
        if settings.RUN_MODE != "embedded":
            raise CommandError("run_embedded is for the embedded mode: unset DATABASE_URL and REDIS_URL")
        run(
            EmbeddedOptions(
                host=options["host"],
                port=options["port"],
                dcc_port=options["dcc_port"],
                premises=options["premises"],
                feeders=options["feeders"],
                substations=options["substations"],
                speed=options["speed"],
                telemetry=not options["no_telemetry"],
                vtn_port=options["vtn_port"],
                asp=not options["no_asp"],
                asp_delivers=options["asp_delivers"],
            ),
            self.stdout,
        )
