"""``manage.py dcc_keys [--dir DIR]``: development key pairs and self-signed certificates.

Writes, into ``settings.DCC["KEY_DIR"]`` (default ``var/keys/``), the identities whose paths
are not configured: ``user-xml.*`` (dnoctl's DUIS XML-signing key), ``user-gbcs.*`` (its GBCS
pre-command key) and ``dcc.*`` (the simulated DCC). Idempotent: existing pairs are kept, and
a configured key or certificate is never written.
"""

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
