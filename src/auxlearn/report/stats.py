"""Summary statistics of per-seed scores: mean ± std and a paired bootstrap interval of a gain."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from scipy import stats


MIN_SEEDS = 3  # below this, a percentile bootstrap interval is no more than the range of the per-seed gains


@dataclass(frozen=True)
class Gain:
    """The mean of per-seed differences (final - baseline) and its paired bootstrap interval.

    ``low``/``high`` are None with fewer than two paired seeds (no interval can be drawn).
    """

    per_seed: dict[str, float]
    mean: float
    std: float
    low: Optional[float]
    high: Optional[float]
    confidence: float
    n_resamples: int

    @property
    def n(self) -> int:
        return len(self.per_seed)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value)."""
    array = np.asarray(list(values), dtype=float)
    if array.size == 0:
        return math.nan, math.nan
    return float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else 0.0


def paired_bootstrap(baseline: dict[str, float], final: dict[str, float], *, confidence: float = 0.95,
                     n_resamples: int = 10_000, seed: int = 0) -> Gain:
    """Gain of ``final`` over ``baseline`` on the seeds both have, with a percentile bootstrap interval.

    The seeds are resampled in pairs (scipy.stats.bootstrap, ``paired=True``), so seed-to-seed variation
    shared by both stages cancels. Seeded: the same scores always give the same interval. With few seeds the
    interval is crude (with two it spans the two per-seed gains at most).
    """
    seeds = [s for s in baseline if s in final]
    diffs = {s: float(final[s]) - float(baseline[s]) for s in seeds}
    mean, std = mean_std(diffs.values())
    low = high = None
    if len(seeds) >= 2:
        b = np.array([baseline[s] for s in seeds], dtype=float)
        f = np.array([final[s] for s in seeds], dtype=float)
        if np.ptp(f - b) == 0:  # every resample gives the same gain: the interval is that point
            low = high = mean
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # DegenerateDataWarning for tiny samples
                result = stats.bootstrap((f, b), lambda x, y, axis: np.mean(x - y, axis=axis), paired=True,
                                         vectorized=True, confidence_level=confidence, n_resamples=n_resamples,
                                         method="percentile", rng=np.random.default_rng(seed))
            low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return Gain(diffs, mean, std, low, high, confidence, n_resamples)


def verdict_word(gain: Gain, higher_is_better: bool = True) -> str:
    """"helped", "hurt", "made no clear difference", or with fewer than ``MIN_SEEDS`` paired seeds (where a
    bootstrap interval only spans the observed gains) the tentative "seemed to help" / "seemed to hurt"."""
    tentative = gain.low is None or gain.high is None or gain.n < MIN_SEEDS
    if tentative:
        return "made no clear difference" if gain.mean == 0 or math.isnan(gain.mean) else (
            "seemed to help" if (gain.mean > 0) == higher_is_better else "seemed to hurt")
    if gain.low > 0 or gain.high < 0:
        return "helped" if (gain.low > 0) == higher_is_better else "hurt"
    return "made no clear difference"
