"""``manage.py dcc_device_certificates DIR``: load devices' GBCS certificates (``<eui64>-ds.pem``,
``<eui64>-ka.pem``), as SMKI would supply them in production. One bad file stores nothing."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dcc.duis import DccArgumentError
from dcc.services import device_certificates_store

_NAME = re.compile(r"^(?P<eui>[0-9a-fA-F]{16})-(?P<usage>ds|ka)\.(pem|crt|cer|der)$")


class Command(BaseCommand):
    help = "Load devices' GBCS certificates (<eui64>-ds.pem / <eui64>-ka.pem) from a folder."

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)
        parser.add_argument("--source", default="", help="where they came from (default: the folder)")

    def handle(self, *args, **options):
        folder: Path = options["folder"]
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        found: dict[str, dict[str, bytes]] = defaultdict(dict)
        for path in sorted(folder.iterdir()):
            match = _NAME.match(path.name)
            if match:
                found[match["eui"]][match["usage"].upper()] = path.read_bytes()
        if not found:
            raise CommandError(f"no <eui64>-ds.pem / <eui64>-ka.pem certificates in {folder}")
        try:
            stored = device_certificates_store(certificates=found, source=options["source"] or str(folder))
        except DccArgumentError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{stored} certificates for {len(found)} devices stored")
