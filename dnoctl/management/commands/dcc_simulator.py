"""Runs the DCC simulator standalone on loopback until interrupted. ``--devices FILE`` is a JSON
list of {eui64, eno_firmware, wan, switch_indexes}; ``--spool DIR`` keeps undelivered device
responses across restarts, as the DCC keeps retrying."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dcc import config as dcc_config
from dcc.duis import DccError
from dcc.duis.signing import load_certificate
from dcc.services import device_certificates_store
from dcc.simulator import SimulatedDevice, SimulatedUser


class Command(BaseCommand):
    help = "Run the DCC simulator on loopback."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8079)
        parser.add_argument("--callback", help="URL for device responses (default settings.DCC['CALLBACK_URL'])")
        parser.add_argument("--rules", choices=["secmp0046", "today"], default="secmp0046")
        parser.add_argument("--latency", type=float, nargs=2, default=(0.05, 0.5), metavar=("MIN_S", "MAX_S"))
        parser.add_argument("--devices", type=Path, help="JSON file with a list of devices")
        parser.add_argument("--from-db", action="store_true", help="register every meter in the database")
        parser.add_argument("--spool", type=Path, help="folder keeping undelivered callbacks across restarts")
        parser.add_argument(
            "--user",
            nargs=5,
            action="append",
            default=[],
            metavar=("EUI64", "ROLE", "XML_CERT", "GBCS_DS_CERT", "GBCS_KA_CERT"),
            help="serve another DCC user too (certificates PEM or DER)",
        )

    def handle(self, *args, **options):
        dcc_config.ensure_dev_keys()
        devices = (
            [SimulatedDevice.from_json(item) for item in json.loads(options["devices"].read_text())]
            if options["devices"]
            else []
        )
        if options["from_db"]:
            devices += self._devices_from_db()
            # What SMKI would publish: the simulated meters' certificates, for dnoctl's checks.
            device_certificates_store(
                certificates={device.eui64: device.certificates_pem() for device in devices}, source="simulator"
            )
        simulator = dcc_config.build_simulator(
            host=options["host"],
            port=options["port"],
            callback_url=options["callback"],
            rules=options["rules"],
            devices=devices,
            latency_s=tuple(options["latency"]),
            extra_users=tuple(self._user(*user) for user in options["user"]),
            spool_dir=options["spool"],
        ).start()
        self.stdout.write(
            f"DCC simulator on {simulator.url} ({options['rules']} rules, {len(devices)} devices); Ctrl-C stops it"
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            simulator.stop()

    def _user(self, eui64: str, role: str, xml_cert: str, gbcs_cert: str, gbcs_ka_cert: str) -> SimulatedUser:
        try:
            return SimulatedUser(
                eui64=eui64,
                role=role,
                xml_certs=(load_certificate(Path(xml_cert).read_bytes()),),
                gbcs_cert=load_certificate(Path(gbcs_cert).read_bytes()),
                gbcs_ka_cert=load_certificate(Path(gbcs_ka_cert).read_bytes()),
            )
        except (OSError, DccError) as exc:
            raise CommandError(f"--user {eui64}: {exc}") from exc

    def _devices_from_db(self) -> list[SimulatedDevice]:
        from consent.models import Meter

        devices = []
        for meter in Meter.objects.prefetch_related("hcalcs"):
            controllers = list(meter.hcalcs.all())
            apcs = [c for c in controllers if c.is_apc]
            devices.append(
                SimulatedDevice(
                    eui64=meter.esme_eui64,
                    eno_firmware=meter.supports_eno_use_cases,
                    switch_indexes=tuple(c.switch_index for c in controllers) or (1,),
                    apc_indexes=tuple(c.switch_index for c in apcs),
                    apc_max_kw=max((c.rated_kw for c in apcs), default=7.4),  # one charger per meter in practice
                )
            )
        return devices
