"""The one percentile of the project: the bot's /stats and every benchmark table use it, so their p50 and
p99 mean the same thing."""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(samples: Iterable[float], percent: float) -> float:
    """Nearest-rank percentile, a value that was observed (p50 of [1, 2, 3, 4] is 2); NaN for no samples."""
    ordered = sorted(samples)
    if not ordered:
        return math.nan
    return ordered[max(1, math.ceil(len(ordered) * percent / 100)) - 1]
