"""``manage.py dcc_keys``: development key pairs and certificates for unconfigured paths. Idempotent; a
configured path is never written."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from dcc import config as dcc_config


class Command(BaseCommand):
    help = "Generate development DCC keys and certificates for us (XML and GBCS) and the DCC simulator (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--dir", help="Directory for the PEM files (default: settings.DCC['KEY_DIR'])")

    def handle(self, *args, **options):
        paths = dcc_config.ensure_dev_keys(options.get("dir"))
        for name, path in paths.items():
            self.stdout.write(f"{name}: {path}")
