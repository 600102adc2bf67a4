"""``manage.py dcc_request --srv 7.6 --target EUI64 ...``: build, store and send one request. With
``--print`` only build, sign and print it (for critical SRVs the CV 4 request), with the next
database counter so the DCC would accept it."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from dcc import config as dcc_config
from dcc.duis import DccError, RequestId, documents
from dcc.services import SUPPORTED_SRVS, _build, service_request_send


def _aware(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Command(BaseCommand):
    help = "Build, sign and print (--print) or send a DUIS service request."

    def add_arguments(self, parser):
        parser.add_argument("--srv", required=True, choices=SUPPORTED_SRVS)
        parser.add_argument("--target", required=True, help="Device EUI-64 (the ESME controlling the HCALCS)")
        parser.add_argument("--index", type=int, help="auxiliary controller index 1..5 (7.6, 7.8, 7.13, 7.16)")
        parser.add_argument("--indexes", type=int, nargs="+", help="switch indexes (7.9, 7.10)")
        parser.add_argument("--duration", type=int, help="minutes (7.6)")
        parser.add_argument("--level", type=int, help="CommandedStateLevel 0..100 %% (7.13, 7.16)")
        parser.add_argument("--start", type=_aware, help="ISO datetime (7.11, 7.13, 7.16)")
        parser.add_argument("--end", type=_aware, help="ISO datetime (7.11, 7.13, 7.16)")
        parser.add_argument("--cv", type=int, help="command variant (default 4 with --print for 7.6/7.8, else 5 or 1)")
        parser.add_argument("--counter", type=int, help="with --print: use this counter instead of the database's")
        parser.add_argument("--print", action="store_true", dest="print_only", help="sign and print; do not send")

    def handle(self, *args, **options):
        params = {
            "index": options["index"],
            "duration_minutes": options["duration"],
            "indexes": options["indexes"],
            "start": options["start"],
            "end": options["end"],
            "level": options["level"],
        }
        try:
            if options["print_only"]:
                self.stdout.write(self._signed(options, params).decode())
                return
            service_request = service_request_send(
                srv=options["srv"], target=options["target"], command_variant=options["cv"], **params
            )
        except DccError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:  # key files missing or unreadable
            raise CommandError(f"{exc} (run manage.py dcc_keys for development keys)") from exc
        self.stdout.write(
            f"{service_request.request_id} {service_request.srv} CV {service_request.command_variant}: "
            f"{service_request.state} ack={service_request.ack_code or '-'} {service_request.error}".rstrip()
        )

    def _signed(self, options, params) -> bytes:
        srv = options["srv"]
        critical = srv in documents.CRITICAL_SRVS
        cv = options["cv"] or (4 if critical else 1)
        if critical and cv != 4:
            raise CommandError(
                "--print of a critical SRV shows the CV 4 transform request (the DCC makes the pre-command)"
            )
        client = dcc_config.build_client()
        _build(srv, RequestId(client.originator, client.originator, 0), 1 if critical else cv, params)
        if options["counter"] is not None:
            request_id = RequestId.build(
                originator=client.originator, target=options["target"], counter=options["counter"]
            )
        else:
            request_id = client.new_request_id(options["target"])
        return client.sign(_build(srv, request_id, 1 if critical else cv, params))
