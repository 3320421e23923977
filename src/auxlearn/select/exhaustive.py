"""Exhaustive pairs: train the primary alone and the primary with each candidate, same budget, same seed.

Each pair's dev gain over the primary alone is the ground truth that cheap selectors approximate
(their ranking quality is measured against it); the candidates with a gain above ``min_gain`` are kept.
"""

from __future__ import annotations

import time
from typing import Optional

from auxlearn.select.base import Selection, Selector
from auxlearn.select.rules import ranked


class ExhaustiveSelector(Selector):
    name = "exhaustive"

    def __init__(self, steps: Optional[int] = None, sampler: str = "uniform", min_gain: float = 0.0,
                 top_k: Optional[int] = None):
        self.steps, self.sampler, self.min_gain, self.top_k = steps, sampler, min_gain, top_k

    def select(self, stage):
        started = time.perf_counter()
        steps = self.steps or stage.exp.train.steps

        def best_dev(name: str, auxiliary: list[str]) -> float:
            results = stage.train(name, auxiliary=auxiliary, sampler={"name": self.sampler}, steps=steps,
                                  eval_tasks=[])
            return stage.signed(results["dev_best"][stage.primary]["main"])

        alone = best_dev("alone", [])
        gains = {task: best_dev(f"pair_{task}", [task]) - alone for task in stage.candidates}
        helped = [t for t in ranked(gains) if gains[t] > self.min_gain]
        return Selection(self.name, helped[: self.top_k], scores=gains,
                         details={"primary_alone_dev": stage.signed(alone), "steps": steps, "sampler": self.sampler,
                                  "min_gain": self.min_gain},
                         seconds=time.perf_counter() - started)
