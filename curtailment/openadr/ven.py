"""A VEN standing in for an aggregator in the demo and tests: it fetches its call-offs, "delivers"
``delivers`` of each and reports it (``silent`` never reports). Built on toadr3, so a VTN reply the
client library cannot read stops it. Run as ``python -m curtailment.openadr.ven`` or in a thread
(:meth:`StandInAggregator.start`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import toadr3
from toadr3.models import Event, Interval, Report, ReportPayloadDescriptor, ValuesMap
from toadr3.models.reportdata import ReportData

logger = logging.getLogger("curtailment.openadr.ven")

DISPATCH = "DISPATCH_SETPOINT_RELATIVE"
DELIVERY = "DELTA_USAGE"
AGGREGATED = "AGGREGATED_REPORT"


def asked_kw(event: Event) -> float:
    """The load reduction an event asks for: minus its ``DISPATCH_SETPOINT_RELATIVE`` value."""
    for interval in event.intervals:
        for payload in interval.payloads:
            if payload.type == DISPATCH and payload.values:
                return max(0.0, -float(payload.values[0]))
    return 0.0


def feeder_of(event: Event) -> str | None:
    for target in event.targets or []:
        if target.type == "POWER_SERVICE_LOCATION" and target.values:
            return str(target.values[0])
    return None


def delivery_report(*, event: Event, ven_name: str, kw: float, sequence: int, now: dt.datetime) -> Report:
    """A ``DELTA_USAGE`` report of ``kw`` less load, as one aggregated interval."""
    return Report(
        program_id=event.program_id,
        event_id=event.id,
        client_name=ven_name,
        report_name=f"{event.id}-delivery-{sequence}",
        payload_descriptors=[ReportPayloadDescriptor(payload_type=DELIVERY, reading_type="DIRECT_READ", units="KW")],
        resources=[
            ReportData(
                resource_name=AGGREGATED,
                interval_period={"start": now, "duration": "PT0S"},
                intervals=[Interval(id=sequence, payloads=[ValuesMap(type=DELIVERY, values=[-round(kw, 3)])])],
            )
        ],
    )


@dataclass
class Delivery:
    """What the aggregator is doing for one call-off."""

    event: Event
    kw: float
    reports: int = 0
    last_report: float = 0.0


@dataclass
class StandInAggregator:
    """Polls the VTN for call-offs, delivers ``delivers`` of each, reports every ``report_s``."""

    vtn_url: str
    client_id: str
    client_secret: str
    ven_name: str
    delivers: float = 1.0
    silent: bool = False
    poll_s: float = 2.0
    report_s: float = 5.0
    on_delivery: Callable[[str | None, float], None] | None = None
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    polls: int = 0
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    # --- running ----------------------------------------------------------------------------

    def start(self) -> StandInAggregator:
        self._thread = threading.Thread(target=lambda: asyncio.run(self.run()), name="asp-ven", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.poll_s + 10)

    async def run(self) -> None:
        oauth = toadr3.OAuthScopeConfig(
            token_url=f"{self.vtn_url.rstrip('/')}/auth/token",
            grant_type="client_credentials",
            scope="read_all write_reports",
            client_id=self.client_id,
            client_secret=self.client_secret,
        )
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            client = toadr3.ToadrClient(self.vtn_url, oauth, session=session)
            while not self._stop.is_set():
                try:
                    await self.tick(client)
                except (aiohttp.ClientError, toadr3.ToadrError, TimeoutError, ValueError) as exc:
                    # The VTN restarting, or a reply toadr3 cannot read: say so, try again.
                    self.errors += 1
                    logger.warning("VEN %s: %s", self.ven_name, exc)
                await asyncio.sleep(self.poll_s)

    async def tick(self, client: toadr3.ToadrClient) -> None:
        """One poll: start delivering new call-offs, stop those that left the list, report."""
        events = await client.get_events()
        self.polls += 1
        live = {event.id: event for event in events}
        for event_id in [known for known in self.deliveries if known not in live]:
            delivery = self.deliveries.pop(event_id)
            logger.info("VEN %s: call-off %s released, load restored", self.ven_name, event_id)
            self._tell(delivery.event, 0.0)
        loop = asyncio.get_running_loop()
        for event_id, event in live.items():
            if event_id not in self.deliveries:
                kw = asked_kw(event) * self.delivers
                self.deliveries[event_id] = Delivery(event=event, kw=kw)
                logger.info(
                    "VEN %s: call-off %s for %.1f kW, delivering %.1f", self.ven_name, event_id, asked_kw(event), kw
                )
                self._tell(event, kw)
            delivery = self.deliveries[event_id]
            if self.silent or (delivery.reports and loop.time() - delivery.last_report < self.report_s):
                continue
            report = delivery_report(
                event=event,
                ven_name=self.ven_name,
                kw=delivery.kw,
                sequence=delivery.reports,
                now=dt.datetime.now(dt.UTC),
            )
            await client.post_report(report)
            delivery.reports += 1
            delivery.last_report = loop.time()

    def _tell(self, event: Event, kw: float) -> None:
        if self.on_delivery is not None:
            self.on_delivery(feeder_of(event), kw)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vtn-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", default=os.environ.get("VEN_CLIENT_SECRET"))
    parser.add_argument("--ven-name", required=True)
    parser.add_argument("--delivers", type=float, default=1.0, help="share of the asked kW delivered (0-1)")
    parser.add_argument("--silent", action="store_true", help="fetch call-offs, never report")
    parser.add_argument("--poll-s", type=float, default=2.0)
    parser.add_argument("--report-s", type=float, default=5.0)
    args = parser.parse_args(argv)
    if not args.client_secret:
        parser.error("--client-secret (or VEN_CLIENT_SECRET) is required")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    aggregator = StandInAggregator(
        vtn_url=args.vtn_url,
        client_id=args.client_id,
        client_secret=args.client_secret,
        ven_name=args.ven_name,
        delivers=args.delivers,
        silent=args.silent,
        poll_s=args.poll_s,
        report_s=args.report_s,
    )
    signal.signal(signal.SIGTERM, lambda *_: aggregator._stop.set())
    logger.info("VEN %s polling %s", args.ven_name, args.vtn_url)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(aggregator.run())


if __name__ == "__main__":
    main()
