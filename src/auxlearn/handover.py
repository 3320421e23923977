"""Which of a run's models it hands the user: the arm whose models score best on dev, among final, control and
baseline. A final that loses to the control (the primary alone for as many steps) is not the model to keep, and
the run says so; eval, which every gain is reported on, never chooses."""

from __future__ import annotations

from statistics import fmean
from typing import Any, Callable

CANDIDATES = ("final", "control", "baseline")


def best_on_dev(stages: dict[str, Any], signed: Callable[[float], float]) -> dict[str, Any]:
    """The arm with the best mean dev main metric over its seeds (the final on ties: it is what the run trained
    for), each arm's mean, and where the chosen arm's models are."""
    means = {arm: fmean(stages[arm]["dev"].values()) for arm in CANDIDATES
             if arm in stages and stages[arm].get("dev") and stages[arm].get("same_as") is None}
    arm = max(means, key=lambda a: (signed(means[a]), a == "final"))
    return {"arm": arm, "dev_means": means, "by": "mean dev main metric over the seeds",
            "models": [f"{arm}/seed_{seed}/model" for seed in stages[arm]["dev"]]}
