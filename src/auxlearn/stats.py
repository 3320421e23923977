"""Summary statistics of per-seed scores: mean ± std, and a paired Student-t comparison of two arms.

Two arms trained on the same seeds (same data order, same initial head) are compared seed by seed: the
per-seed differences cancel the seed-to-seed variation both arms share. Their mean gets a Student-t interval
(``scipy.stats.ttest_rel``, ``confidence_interval``). Why t and not a bootstrap: a run has about five seeds,
and a percentile bootstrap of five numbers can never reach past their range, so its "95 %" interval covers
the true mean far less often than 95 % of the time (with two seeds it is just the two gains). The t interval
widens with few seeds as it should (t quantile 2.78 for five seeds, 12.7 for two), and is the standard,
honest choice for a handful of paired differences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
# Below this many paired seeds a gain whose interval covers zero is still reported, tentatively, by its sign.
FIRM_SEEDS = 5


@dataclass(frozen=True)
class Comparison:
    """A candidate arm against a reference arm on the seeds both have: ``per_seed`` = candidate − reference.

    ``improved`` is the share of seeds (0–1) on which the candidate was better in the metric's direction.
    ``low``/``high`` bound the ``confidence`` t-interval of the mean difference: None with fewer than two
    seeds, a point when every difference is the same. ``p_value`` is the two-sided paired t-test's, None where
    the t statistic is undefined (fewer than two seeds, or no spread in the differences).
    """

    per_seed: dict[str, float]
    mean: float
    median: float
    std: float
    improved: float
    low: Optional[float]
    high: Optional[float]
    p_value: Optional[float]
    confidence: float

    @property
    def n(self) -> int:
        return len(self.per_seed)

    @property
    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value)."""
    array = np.asarray(list(values), dtype=float)
    if array.size == 0:
        return math.nan, math.nan
    return float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else 0.0


def paired_t(reference: dict[str, float], candidate: dict[str, float], *, higher_is_better: bool = True,
             confidence: float = CONFIDENCE) -> Comparison:
    """``candidate`` − ``reference`` on the seeds both have, with a paired Student-t interval and p-value."""
    seeds = [s for s in reference if s in candidate]
    diffs = {s: float(candidate[s]) - float(reference[s]) for s in seeds}
    values = np.array(list(diffs.values()), dtype=float)
    mean, std = mean_std(values)
    median = float(np.median(values)) if values.size else math.nan
    better = values > 0 if higher_is_better else values < 0
    improved = float(better.mean()) if values.size else math.nan
    low = high = p_value = None
    if values.size >= 2 and np.ptp(values) == 0:  # no spread: the interval is the point, no t statistic
        low = high = mean
    elif values.size >= 2:
        result = stats.ttest_rel([candidate[s] for s in seeds], [reference[s] for s in seeds])
        interval = result.confidence_interval(confidence)
        low, high, p_value = _finite(interval.low), _finite(interval.high), _finite(result.pvalue)
    return Comparison(diffs, mean, median, std, improved, low, high, p_value, confidence)


def _finite(value: float) -> Optional[float]:
    return float(value) if math.isfinite(value) else None


def verdict_word(comparison: Comparison, higher_is_better: bool = True) -> str:
    """"helped" / "hurt" only when the interval excludes zero; with fewer than ``FIRM_SEEDS`` paired seeds
    and no such interval the tentative "seemed to help" / "seemed to hurt" (by the mean's sign); otherwise
    "made no clear difference"."""
    if comparison.excludes_zero:
        return "helped" if (comparison.low > 0) == higher_is_better else "hurt"
    mean = comparison.mean
    if comparison.n < FIRM_SEEDS and not math.isnan(mean) and mean != 0:
        return "seemed to help" if (mean > 0) == higher_is_better else "seemed to hurt"
    return "made no clear difference"
