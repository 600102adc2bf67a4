"""``manage.py readings_partitions [--retention]`` makes the reading partitions of the
retention window and the coming week ready now (what the hourly beat task does), and with
``--retention`` also drops the days older than the retention (audited)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from feeders.services.retention import readings_partitions_maintain, readings_retention_apply


class Command(BaseCommand):
    help = "Create the readings' day partitions ahead now; with --retention, also apply the readings retention."

    def add_arguments(self, parser):
        parser.add_argument("--retention", action="store_true", help="also drop readings older than the retention")

    def handle(self, *args, **options):
        now = timezone.now()
        created = readings_partitions_maintain(now=now)
        self.stdout.write(f"partitions created: {', '.join(map(str, created)) or 'none needed'}")
        if options["retention"]:
            result = readings_retention_apply(now=now)
            self.stdout.write(
                f"retention (keeping from {result.cutoff}): {len(result.partitions_dropped)} partition(s) dropped"
                f" holding {result.rows_in_dropped_partitions} reading(s), {result.rows_deleted} reading(s) deleted"
            )
