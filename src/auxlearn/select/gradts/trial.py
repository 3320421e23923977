"""GradTS-trial (Ma et al. 2021): greedy trials over prefixes of the tau-ranked candidates.

Trial ``k`` trains the primary with the first ``k`` ranked candidates and scores it by its BEST dev score over
the trial (``score_fn`` returns that number; higher is better). Trial 0 is the primary alone: the baseline
every auxiliary set must beat. Decisions:

* trials 0 and 1 always run (when there is at least one candidate; with none, no trial runs);
* after trial ``k >= 1``, the search stops when its best score is strictly BELOW trial ``k - 1``'s best score
  (best vs best; the reference code compares with the previous trial's LAST-epoch score); an equal
  score continues;
* the selection is the prefix with the highest best score, the empty prefix (trial 0) included; on a tie the
  SMALLER prefix wins (fewer auxiliary tasks for the same score: cheaper to train, and independent of
  file-system order, unlike the reference). So an auxiliary set is kept only when it STRICTLY beats the primary
  alone, and the selection is empty when no trial does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["TrialResult", "gradts_trial"]


@dataclass
class TrialResult:
    """``selected``: the chosen auxiliary tasks (primary excluded), in rank order; empty when no trial beat
    trial 0. ``trials``: one record per trial that ran, ``{"k": k, "tasks": [primary, *auxiliaries],
    "score": best dev score}``, starting with ``k = 0`` (``tasks == [primary]``). ``stopped_at``: the ``k`` of
    the trial whose decrease stopped the search, or ``None`` if every prefix was tried."""

    primary: str
    selected: list[str]
    trials: list[dict] = field(default_factory=list)
    stopped_at: int | None = None

    @property
    def best_score(self) -> float | None:
        return max((t["score"] for t in self.trials), default=None)


def gradts_trial(primary: str, ranked: Sequence[str], score_fn: Callable[[list[str]], float]) -> TrialResult:
    """Run GradTS-trial. ``ranked``: the candidate auxiliary tasks, best tau first (see ``rank_candidates``).

    ``score_fn(tasks)`` trains the tasks ``[primary, *prefix]`` together (``[primary]`` alone for trial 0) and
    returns the primary's best dev score over that training run (a finite float, higher is better). With no
    candidates there is nothing to decide: no trial runs (not even trial 0) and the selection is empty.
    """
    ranked = [str(t) for t in ranked]
    if primary in ranked:
        raise ValueError(f"the primary task {primary!r} cannot be one of its own candidates")
    if len(set(ranked)) != len(ranked):
        raise ValueError(f"candidate tasks repeat: {ranked}")

    result = TrialResult(primary=primary, selected=[])
    if not ranked:
        return result
    best_score = -math.inf
    previous: float | None = None
    for k in range(0, len(ranked) + 1):
        tasks = [primary, *ranked[:k]]
        raw = score_fn(list(tasks))
        try:
            score = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"score_fn returned {raw!r} for trial {k}; expected a number") from None
        if not math.isfinite(score):
            raise ValueError(f"score_fn returned a non-finite score {score} for trial {k} ({tasks})")
        result.trials.append({"k": k, "tasks": tasks, "score": score})
        if score > best_score:  # strict: on a tie the earlier (smaller) prefix stays selected, trial 0 included
            best_score = score
            result.selected = list(ranked[:k])
        if previous is not None and score < previous:
            result.stopped_at = k
            break
        previous = score
    return result
