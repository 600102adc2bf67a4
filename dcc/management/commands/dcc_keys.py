"""``manage.py dcc_keys [--dir DIR]``: development key pairs and self-signed certificates.

Writes ``user.key.pem``/``user.cert.pem`` (dnoctl, the ENO user) and ``dcc.key.pem``/
``dcc.cert.pem`` (the simulated DCC) into ``settings.DCC["KEY_DIR"]`` (default
``var/keys/``). Idempotent: existing pairs are kept.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from dcc import config as dcc_config


class Command(BaseCommand):
    help = "Generate development DUIS signing keys and certificates for us and the DCC simulator (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--dir", help="Directory for the PEM files (default: settings.DCC['KEY_DIR'])")

    def handle(self, *args, **options):
        paths = dcc_config.ensure_dev_keys(options.get("dir"))
        for name, path in paths.items():
            self.stdout.write(f"{name}: {path}")
