"""A selection scored against an atlas row: how far its top pick falls short of the best candidate (regret@1), the
kept candidates the atlas measured as harmful, and the rank correlation of its scores with the measured gains.

Regret@1 is the best candidate's gain minus the gain of the selector's first pick. An empty selection ("none")
regrets nothing when no candidate's gain is above zero, and the best gain otherwise. A harmful pick is a kept
candidate whose whole 95 % interval lies below zero. Only candidates the atlas measured count.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping, Optional

from scipy import stats

from auxlearn.atlas.table import Pair


@dataclass(frozen=True)
class SelectionScore:
    regret: float
    top_pick: Optional[str]
    best: str
    best_gain: float
    harmful: list[str]
    spearman: Optional[float]  # None below 3 candidates with scores, or when either side is constant
    candidates: int

    def to_json(self) -> dict:
        return asdict(self)


def score_selection(row: Mapping[str, Pair], selected: list[str], scores: Mapping[str, float]) -> SelectionScore:
    """``row``: the atlas's pairs of the primary (candidate -> measured gain); ``selected``: kept, best first."""
    if not row:
        raise ValueError("the atlas row holds no measured pair")
    best = max(row, key=lambda c: (row[c].gain, c))
    best_gain = row[best].gain
    picks = [c for c in selected if c in row]
    if picks:
        regret = best_gain - row[picks[0]].gain
    else:
        regret = max(best_gain, 0.0)
    harmful = [c for c in selected if c in row and row[c].harmful]
    return SelectionScore(regret, picks[0] if picks else None, best, best_gain, harmful,
                          spearman(row, scores), len(row))


def spearman(row: Mapping[str, Pair], scores: Mapping[str, float]) -> Optional[float]:
    common = sorted(c for c in row if c in scores)
    if len(common) < 3:
        return None
    x, y = [scores[c] for c in common], [row[c].gain for c in common]
    if len(set(x)) < 2 or len(set(y)) < 2:
        return None
    rho = stats.spearmanr(x, y).statistic
    return float(rho) if math.isfinite(rho) else None
