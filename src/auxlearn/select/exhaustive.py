"""Exhaustive pairs: train the primary alone and the primary with each candidate, same budget, on paired seeds.

Each pair's dev gain over the primary alone, seed by seed, is the ground truth that cheap selectors approximate. A
candidate is kept only when the 95 % t-interval of its mean dev gain lies above ``min_gain``: on one seed, a
1,000-example primary's dev difference between two arms is about as likely to favour either (the MRPC bench kept
a candidate on such a coin flip). Each trial trains under the experiment's protocol and budget, so its early
stopping counts the primary's batches and a pair trial sees the primary's whole recipe.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Optional

from pydantic import Field, StrictInt

from auxlearn.plugins import MethodOptions
from auxlearn.stats import Comparison, paired_t
from auxlearn.select.base import Selection, Selector
from auxlearn.select.exhaustive_report import ExhaustiveReport
from auxlearn.select.rules import ranked
from auxlearn.stage_cost import StageCost
from auxlearn.train.samplers import SamplerName


class ExhaustiveSelector(Selector):
    name = "exhaustive"
    report = ExhaustiveReport()

    class Options(MethodOptions):
        steps: Optional[StrictInt] = Field(
            None, ge=1, description="the primary-alone recipe of every trial, from which the budget counts; "
                                    "null: the experiment's train.steps")
        sampler: SamplerName = Field("uniform", description="the sampler of the pair trials (one without options)")
        seeds: StrictInt = Field(3, ge=1, description="paired seeds per trial (from the experiment's seed); with "
                                                      "1 a candidate is kept on its one dev difference")
        min_gain: float = Field(0.0, allow_inf_nan=False,
                                description="a candidate is kept when the lower end of its dev gain's 95 % "
                                            "interval (with one seed: the gain) is above this")
        top_k: Optional[StrictInt] = Field(None, ge=1, description="keep at most this many, best first")

    def _steps(self, stage) -> int:
        return self.options.steps or stage.exp.train.steps

    def _trial(self, stage, name: str, auxiliary: list[str], seed: int) -> dict:
        """The arguments of one trial's ``train`` (``Stage.train``, or ``PlanContext.arm`` to plan it)."""
        return {"name": f"{name}/seed_{seed}", "auxiliary": auxiliary, "sampler": {"name": self.options.sampler},
                "steps": self._steps(stage), "seed": seed, "eval_tasks": []}

    def _seeds(self, stage) -> list[int]:
        return [stage.exp.seed + i for i in range(self.options.seeds)]

    def cost(self, context):
        """The primary alone and each pair, on every seed."""
        arms = [("alone", []), *((f"pair_{task}", [task]) for task in context.candidates)]
        return StageCost([context.arm(**self._trial(context, name, auxiliary, seed))
                          for name, auxiliary in arms for seed in self._seeds(context)])

    def _select(self, stage):
        started = time.perf_counter()
        options = self.options
        seeds = self._seeds(stage)

        def best_dev(name: str, auxiliary: list[str]) -> dict[str, float]:
            scores = {}
            for seed in seeds:
                results = stage.train(**self._trial(stage, name, auxiliary, seed))
                scores[str(seed)] = stage.signed(results["dev_best"][stage.primary]["main"])
            return scores

        alone = best_dev("alone", [])
        tests = {task: paired_t(alone, best_dev(f"pair_{task}", [task])) for task in stage.candidates}
        gains = {task: test.mean for task, test in tests.items()}
        helped = kept_pairs(tests, options.min_gain)
        return Selection(self.name, helped[: options.top_k], scores=gains,
                         details={"primary_alone_dev": {s: stage.signed(v) for s, v in alone.items()},
                                  "steps": self._steps(stage), "sampler": options.sampler, "seeds": seeds,
                                  "min_gain": options.min_gain,
                                  "pairs": {t: {k: v for k, v in asdict(test).items() if k != "confidence"}
                                            for t, test in tests.items()}},
                         seconds=time.perf_counter() - started)


def kept_pairs(tests: dict[str, Comparison], min_gain: float) -> list[str]:
    """The candidates whose paired dev gain's 95 % lower bound (with one seed: the gain) is above ``min_gain``, by
    mean gain, best first: exhaustive selection's rule, which bench/selectors_vs_atlas.py applies to the atlas."""
    bounds = {task: test.mean if test.low is None else test.low for task, test in tests.items()}
    return [t for t in ranked({task: test.mean for task, test in tests.items()}) if bounds[t] > min_gain]
