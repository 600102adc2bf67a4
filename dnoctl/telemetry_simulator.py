"""Synthetic LV monitors posting to the real ingest API, for the demo.

Time is compressed only where detection cannot see it: readings carry the real time, so the
simulated clock slows (never below real time) wherever a faster pace would make a feeder's load
ramp faster than ``MAX_RAMP_PERCENT_PER_MINUTE`` per real minute. Curtailment is read from the
engine's confirmed actions in the database, so it works in the embedded demo and against
PostgreSQL alike."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.times import LONDON

logger = logging.getLogger(__name__)

# Small batches, as a pole-top monitor fleet sends them: the overview page then gets one
# ``feeder.reading`` per feeder (bigger batches send it one ``feeder.readings`` list).
BATCH_ROWS = 50
# Where the simulated day starts: late afternoon, as the evening ramp begins.
DEFAULT_START_LOCAL = "17:30"
# The fastest the simulated load of any feeder may move, in % of its rating per real minute:
# about the fastest a real LV feeder's load rises when an EV cluster plugs in together.
MAX_RAMP_PERCENT_PER_MINUTE = 5.0
# Share of high-risk feeders whose evening peak exceeds the rating.
HOT_SHARE = 0.4


@dataclass(frozen=True)
class FeederSpec:
    code: str
    rating_amps: float
    phases: int = 3
    nominal_voltage: float = 230.0
    high_risk: bool = False
    ev_capacity_kw: float = 0.0  # sum of the rated kW of its EV chargers

    @property
    def rating_kw(self) -> float:
        return self.rating_amps * self.nominal_voltage * self.phases / 1000.0


def _gauss(hour: float, centre: float, width: float) -> float:
    # Distance on the 24-hour circle, so the shape wraps smoothly past midnight.
    distance = min(abs(hour - centre), 24 - abs(hour - centre))
    return math.exp(-0.5 * (distance / width) ** 2)


def domestic_shape(hour: float) -> float:
    """Diversified domestic demand through the day, 1.0 at the evening peak (~18:30)."""
    return 0.28 + 0.22 * _gauss(hour, 7.8, 1.3) + 0.72 * _gauss(hour, 18.5, 1.6)


def ev_charging_share(hour: float) -> float:
    """Plug-in after work, tailing off by 01:00."""
    if 17.0 <= hour < 19.0:
        return (hour - 17.0) / 2.0
    if 19.0 <= hour < 22.0:
        return 1.0
    if hour >= 22.0:
        return 1.0 - (hour - 22.0) / 3.0 * 0.9
    if hour < 1.0:
        return 0.4 - hour * 0.3
    return 0.1 if hour < 6.0 else 0.05


@dataclass
class FeederModel:
    spec: FeederSpec
    base_peak_kw: float
    ev_peak_kw: float
    phase_split: tuple[float, ...]
    hot: bool
    rng: random.Random
    controllable_kw: float = 0.0  # rated kW of the feeder's real chargers
    noise: float = 0.0

    @classmethod
    def build(cls, spec: FeederSpec, seed: int = 0) -> FeederModel:
        digest = hashlib.sha256(f"{seed}:{spec.code}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        rating = spec.rating_kw
        hot = spec.high_risk and rng.random() < HOT_SHARE
        # EV clusters of the demo: the feeder's real chargers, but at least a few, since a
        # feeder without chargers would be dull to watch.
        ev_capacity = max(spec.ev_capacity_kw, rating * 0.12)
        coincidence = rng.uniform(0.75, 0.95) if hot else rng.uniform(0.35, 0.6)
        ev_peak = ev_capacity * coincidence
        target_peak = rating * (rng.uniform(1.03, 1.15) if hot else rng.uniform(0.45, 0.82))
        # The base stays well under the clear level on hot feeders, so switching the EV
        # cluster off actually brings the feeder back (the demo's point).
        base_peak = max(rating * 0.25, target_peak - ev_peak)
        if hot:
            base_peak = min(base_peak, rating * 0.62)
            ev_peak = max(ev_peak, target_peak - base_peak)
        split = [rng.uniform(0.92, 1.08) for _ in range(spec.phases)]
        mean = sum(split) / len(split)
        return cls(spec, base_peak, ev_peak, tuple(s / mean for s in split), hot, rng, spec.ev_capacity_kw)

    def load_kw(self, local_hour: float, chargers_off_kw: float = 0.0) -> tuple[float, float]:
        self.noise = max(-0.04, min(0.04, self.noise + self.rng.gauss(0, 0.006)))
        base = self.base_peak_kw * domestic_shape(local_hour) * (1 + self.noise)
        share = ev_charging_share(local_hour)
        ev = self.ev_peak_kw * share
        # The cluster stands for the feeder's real chargers: the share of their rated kW
        # that is switched off takes the same share of the cluster's load.
        fraction_off = min(1.0, chargers_off_kw / self.controllable_kw) if self.controllable_kw > 0 else 0.0
        reduced = ev * fraction_off
        return max(0.0, base + ev - reduced), ev - reduced

    def shape_percent(self, local_hour: float) -> float:
        """Without noise or curtailment: what the simulated clock's pace is judged on."""
        kw = self.base_peak_kw * domestic_shape(local_hour) + self.ev_peak_kw * ev_charging_share(local_hour)
        return kw / self.spec.rating_kw * max(self.phase_split) * 100.0

    def reading(self, measured_at: datetime, local_hour: float, chargers_off_kw: float = 0.0) -> dict:
        kw, _ = self.load_kw(local_hour, chargers_off_kw)
        per_phase = kw * 1000.0 / (self.spec.nominal_voltage * self.spec.phases)
        amps = [round(per_phase * share, 1) for share in self.phase_split]
        return {
            "feeder": self.spec.code,
            "measured_at": measured_at.isoformat(),
            "amps": amps,
            "kw": round(kw, 2),
        }


class SimulatedClock:
    """Simulated London time, at most ``speed`` times real time and slowed to keep every
    feeder's ramp within ``max_ramp`` % per real minute (see the module docstring)."""

    def __init__(self, *, speed: float, start_local: str = DEFAULT_START_LOCAL, real_start: datetime | None = None):
        self.speed = speed
        self.real_start = real_start or datetime.now(UTC)
        hours, minutes = (int(part) for part in start_local.split(":"))
        today = self.real_start.astimezone(LONDON)
        self.sim_start = today.replace(hour=hours, minute=minutes, second=0, microsecond=0)
        # In UTC: aware arithmetic in a named zone would add wall-clock time, and be an hour
        # out across a clock change.
        self._simulated = self.sim_start.astimezone(UTC)
        self._real = self.real_start

    def advance(
        self,
        real_now: datetime,
        *,
        steepest_change: Callable[[datetime, datetime], float] | None = None,
        max_ramp: float = MAX_RAMP_PERCENT_PER_MINUTE,
    ) -> float:
        elapsed = real_now - self._real
        if elapsed > timedelta(0):
            step = elapsed * self.speed
            allowed = max_ramp * elapsed.total_seconds() / 60.0
            # The daily shapes are smooth, so a few proportional corrections find the step.
            for _ in range(4):
                if steepest_change is None or step <= elapsed:
                    break
                moved = steepest_change(self._simulated, self._simulated + step)
                if moved <= allowed:
                    break
                step = max(elapsed, step * allowed / moved * 0.98)
            self._simulated += step
            self._real = real_now
        return self.local_hour_of(self._simulated)

    @property
    def simulated(self) -> datetime:
        return self._simulated

    def local_hour(self, real_now: datetime) -> float:
        return self.advance(real_now)

    @staticmethod
    def local_hour_of(simulated: datetime) -> float:
        # Wall-clock hour in London (clock-change days simply show their 23 or 25 hours).
        local = simulated.astimezone(LONDON)
        return local.hour + local.minute / 60.0 + local.second / 3600.0 + local.microsecond / 3.6e9


def django_feeder_specs() -> list[FeederSpec]:
    from django.db.models import Sum

    from consent.choices import LoadLabel
    from consent.models import HCALCS
    from feeders.models import Feeder

    ev_kw = dict(
        HCALCS.objects.filter(label=LoadLabel.EV_CHARGER, meter__premise__feeder__isnull=False)
        .values("meter__premise__feeder_id")
        .annotate(total=Sum("rated_kw"))
        .values_list("meter__premise__feeder_id", "total")
    )
    return [
        FeederSpec(code, rating, phases, voltage, high_risk, float(ev_kw.get(feeder_id) or 0.0))
        for feeder_id, code, rating, phases, voltage, high_risk in Feeder.objects.order_by("code").values_list(
            "id", "code", "rating_amps", "phases", "nominal_voltage", "high_risk"
        )
    ]


def django_chargers_off_kw() -> dict[str, float]:
    """The engine's own view of what is off: confirmed actions not yet ended."""
    from django.db.models import Sum

    from curtailment.choices import ActionStatus
    from curtailment.models import CurtailmentAction

    rows = (
        CurtailmentAction.objects.filter(status=ActionStatus.CONFIRMED, ended_at__isnull=True)
        .values("hcalcs__meter__premise__feeder__code")
        .annotate(total=Sum("hcalcs__rated_kw"))
        .values_list("hcalcs__meter__premise__feeder__code", "total")
    )
    return {code: float(total) for code, total in rows if code}


class TelemetrySimulator:
    """Posts a reading per feeder every ``interval_s``: ``start()``/``stop()`` in a thread, or ``run()``."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        speed: float = 60.0,
        max_ramp_percent_per_minute: float | None = MAX_RAMP_PERCENT_PER_MINUTE,
        interval_s: float = 5.0,
        start_local: str = DEFAULT_START_LOCAL,
        seed: int = 0,
        feeder_specs: Callable[[], list[FeederSpec]] | None = None,
        chargers_off_kw: Callable[[], dict[str, float]] | None = None,
        timeout_s: float = 10.0,
    ):
        self.url = base_url.rstrip("/") + "/api/v1/telemetry/"
        self.token = token
        self.interval_s = interval_s
        self.clock = SimulatedClock(speed=speed, start_local=start_local)
        self.max_ramp = max_ramp_percent_per_minute  # None: the full speed throughout
        self.seed = seed
        self._feeder_specs = feeder_specs or django_feeder_specs
        self._chargers_off_kw = chargers_off_kw or django_chargers_off_kw
        self.timeout_s = timeout_s
        self.models: dict[str, FeederModel] = {}
        self.posted = 0
        self.failures = 0
        self._uses_django = feeder_specs is None or chargers_off_kw is None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> TelemetrySimulator:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="telemetry-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 5)
            self._thread = None

    def run(self) -> None:
        """A failed tick is logged and retried, so the simulator may start before the web server."""
        try:
            while not self._stop.is_set():
                try:
                    self.tick()
                except Exception:
                    self.failures += 1
                    logger.exception("telemetry simulator tick failed")
                self._django_housekeeping(final=False)
                self._stop.wait(self.interval_s)
        finally:
            self._django_housekeeping(final=True)

    def _django_housekeeping(self, *, final: bool) -> None:
        if not self._uses_django:
            return
        from django.db import close_old_connections, connection

        if final:
            connection.close()
        else:
            close_old_connections()

    # --- one round --------------------------------------------------------------------

    def _ensure_models(self) -> None:
        if not self.models:
            self.models = {spec.code: FeederModel.build(spec, self.seed) for spec in self._feeder_specs()}

    def batches(self, real_now: datetime | None = None) -> list[list[dict]]:
        self._ensure_models()
        real_now = (real_now or datetime.now(UTC)).replace(microsecond=0)
        if self.max_ramp is None:
            hour = self.clock.advance(real_now)
        else:
            hour = self.clock.advance(real_now, steepest_change=self._steepest_change, max_ramp=self.max_ramp)
        off = self._chargers_off_kw()
        rows = [model.reading(real_now, hour, off.get(code, 0.0)) for code, model in self.models.items()]
        return [rows[i : i + BATCH_ROWS] for i in range(0, len(rows), BATCH_ROWS)]

    def _steepest_change(self, simulated_from: datetime, simulated_to: datetime) -> float:
        before = self.clock.local_hour_of(simulated_from)
        after = self.clock.local_hour_of(simulated_to)
        return max(
            (abs(model.shape_percent(after) - model.shape_percent(before)) for model in self.models.values()),
            default=0.0,
        )

    def tick(self, real_now: datetime | None = None) -> list[dict]:
        answers = []
        for batch in self.batches(real_now):
            answers.append(self._post(batch))
        return answers

    def _post(self, rows: list[dict]) -> dict:
        body = json.dumps({"readings": rows}).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is our own ingest endpoint
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            detail = error.read()[:2000].decode(errors="replace")
            raise RuntimeError(f"ingest answered {error.code}: {detail}") from None
        self.posted += len(rows)
        return answer


def hot_feeders(models: dict[str, FeederModel]) -> list[str]:
    return sorted(code for code, model in models.items() if model.hot)
