"""Exhaustive pairs: train the primary alone and the primary with each candidate, same budget, same seed.

Each pair's dev gain over the primary alone is the ground truth that cheap selectors approximate
(their ranking quality is measured against it); the candidates with a gain above ``min_gain`` are kept.
"""

from __future__ import annotations

import time
from typing import Optional

from pydantic import Field, StrictInt

from auxlearn.plugins import MethodOptions
from auxlearn.select.base import Selection, Selector
from auxlearn.select.exhaustive_report import ExhaustiveReport
from auxlearn.select.rules import ranked
from auxlearn.train.samplers import SamplerName


class ExhaustiveSelector(Selector):
    name = "exhaustive"
    report = ExhaustiveReport()

    class Options(MethodOptions):
        steps: Optional[StrictInt] = Field(
            None, ge=1, description="the primary-alone recipe of every trial, from which the budget counts; "
                                    "null: the experiment's train.steps")
        sampler: SamplerName = Field("uniform", description="the sampler of the pair trials (one without options)")
        min_gain: float = Field(0.0, allow_inf_nan=False,
                                description="a candidate is kept when its pair's dev gain is above this")
        top_k: Optional[StrictInt] = Field(None, ge=1, description="keep at most this many, best first")

    def _select(self, stage):
        started = time.perf_counter()
        options = self.options
        steps = options.steps or stage.exp.train.steps

        def best_dev(name: str, auxiliary: list[str]) -> float:
            results = stage.train(name, auxiliary=auxiliary, sampler={"name": options.sampler}, steps=steps,
                                  eval_tasks=[])
            return stage.signed(results["dev_best"][stage.primary]["main"])

        alone = best_dev("alone", [])
        gains = {task: best_dev(f"pair_{task}", [task]) - alone for task in stage.candidates}
        helped = [t for t in ranked(gains) if gains[t] > options.min_gain]
        return Selection(self.name, helped[: options.top_k], scores=gains,
                         details={"primary_alone_dev": stage.signed(alone), "steps": steps,
                                  "sampler": options.sampler, "min_gain": options.min_gain},
                         seconds=time.perf_counter() - started)
