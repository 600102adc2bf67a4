"""The one retry delay. Plain Python (no Django), so the DUIS client and the DCC simulator use it too."""

from __future__ import annotations

import math
import random


def backoff_seconds(
    retries: int, *, base: float, cap: float = math.inf, jitter: bool = True, rng: random.Random | None = None
) -> float:
    """Exponential, capped, with jitter that scales with the delay so workers that failed together spread out."""
    delay = min(cap, base * 2 ** max(0, retries))
    if not jitter:
        return delay
    return delay * (0.5 + (rng or random).random())
