"""How long sharing a feeder group's reduction between 1,000 chargers takes (``curtailment.allocation``).

    .venv/bin/python bench/bench_allocation.py [--chargers 1000] [--apc-share 0.7] [--repeats 200]

A synthetic feeder group: ``--chargers`` chargers, ``--apc-share`` of them APC (3.7, 7.4,
11 or 22 kW, drawing 0 to their maximum), the rest HCALCS (drawing 0 to 7.4 kW, with 0-480
minutes used in 30 days). Three reductions are timed, each the median of ``--repeats``:

* ``throttle``: a third of the APC headroom, met by throttling alone;
* ``switch-off``: the APC headroom plus a quarter of the HCALCS load, so the fewest
  HCALCS are chosen too (the slower path);
* ``short``: more than everything, so every charger is at its minimum or off.

Baseline, measured in the same run on the same lists: ``sorted()`` of the 1,000 chargers by
their kW, the least any allocation must do (look at every charger, order them). The ratio
says how many sorts one allocation costs. Aim: well under 10 ms per allocation.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine
from curtailment.allocation import ApcCharger, HcalcsCandidate, allocation_plan


def fleet(chargers: int, apc_share: float, seed: int = 17) -> tuple[list[ApcCharger], list[HcalcsCandidate]]:
    rng = random.Random(seed)
    apc_count = round(chargers * apc_share)
    apc = []
    for charger_id in range(apc_count):
        max_kw = rng.choice([3.7, 7.4, 7.4, 7.4, 11.0, 22.0])
        apc.append(ApcCharger(charger_id=charger_id, max_kw=max_kw, demand_kw=round(rng.uniform(0, max_kw), 3)))
    hcalcs = [
        HcalcsCandidate(
            charger_id=100_000 + i,
            kw=round(rng.uniform(0, 7.4), 3),
            used_minutes_30d=rng.randrange(0, 481),
            used_minutes_24h=rng.randrange(0, 121),
        )
        for i in range(chargers - apc_count)
    ]
    return apc, hcalcs


def median_ms(run: Callable[[], object], repeats: int) -> float:
    run()  # warm up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--apc-share", type=float, default=0.7)
    parser.add_argument("--repeats", type=int, default=200)
    options = parser.parse_args()

    apc, hcalcs = fleet(options.chargers, options.apc_share)
    headroom = allocation_plan(required_kw=0, apc=apc).throttle_capacity_kw
    hcalcs_kw = sum(c.kw for c in hcalcs)
    cases = {
        "throttle": headroom / 3,
        "switch-off": headroom + hcalcs_kw / 4,
        "short": headroom + hcalcs_kw + 100,
    }
    # The baseline first and last, averaged: the machine is shared, so load drifts.
    everything = [*apc, *hcalcs]

    def sort_everyone() -> object:
        return sorted(everything, key=lambda c: c.demand_kw if isinstance(c, ApcCharger) else c.kw)

    before = median_ms(sort_everyone, options.repeats)
    rows = []
    for name, required_kw in cases.items():
        allocation = allocation_plan(required_kw=required_kw, apc=apc, hcalcs=hcalcs)
        elapsed = median_ms(
            lambda kw=required_kw: allocation_plan(required_kw=kw, apc=apc, hcalcs=hcalcs), options.repeats
        )
        rows.append((name, required_kw, allocation, elapsed))
    baseline = (before + median_ms(sort_everyone, options.repeats)) / 2

    print(f"Machine: {machine()}")
    print(
        f"{options.chargers} chargers: {len(apc)} APC ({headroom:.0f} kW headroom above their minimums), "
        f"{len(hcalcs)} HCALCS ({hcalcs_kw:.0f} kW); median of {options.repeats}\n"
    )
    print("| reduction | required kW | APC limited | HCALCS off | allocation ms | sort ms (baseline) | ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, required_kw, allocation, elapsed in rows:
        print(
            f"| {name} | {required_kw:.0f} | {len(allocation.limits)} | {len(allocation.switched_off)} "
            f"| {elapsed:.2f} | {baseline:.3f} | {elapsed / baseline:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
