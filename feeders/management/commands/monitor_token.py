"""Issue a token for an LV monitor (bound to its feeder) or a head-end (unbound); the plaintext
is printed once."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from feeders.models import MonitorToken
from feeders.services import monitor_token_issue


class Command(BaseCommand):
    help = "Issue (or revoke) a telemetry token for an LV monitor or a monitoring head-end."

    def add_arguments(self, parser):
        parser.add_argument("--name", help="a unique name for the new token")
        parser.add_argument("--monitor-device-id", help="bind the token to the feeder with this monitor id")
        parser.add_argument("--revoke", metavar="NAME", help="deactivate the token with this name")

    def handle(self, *args, **options):
        if options["revoke"]:
            changed = MonitorToken.objects.filter(name=options["revoke"], active=True).update(active=False)
            if not changed:
                raise CommandError(f"no active token named {options['revoke']!r}")
            self.stdout.write(f"revoked {options['revoke']}")
            return
        if not options["name"]:
            raise CommandError("give --name (or --revoke NAME)")
        try:
            token = monitor_token_issue(name=options["name"], monitor_device_id=options["monitor_device_id"])
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(token)
