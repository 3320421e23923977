"""AutoSeM stage 1: a Thompson-sampling bandit over {primary} + candidates chooses which task trains each round.

The bandit is the ``thompson`` sampler of the ordinary trainer: a round is ``round_steps`` steps of one
task followed by a dev evaluation of the primary whose change is the round's reward. After the baseline round,
every arm (the primary included) is played ``min_plays`` rounds round-robin before Thompson sampling takes over
(the sampler's ``explore_rounds_per_arm``), so no arm is judged on its prior alone; ``rounds`` must leave room
for that (at least ``min_plays * arms + 1``).

Selection: with ``threshold="primary"`` (the default) a candidate is kept only when its posterior utility is
STRICTLY greater than the primary arm's: the primary's arm is the bandit's evidence for training the primary
alone, so the selection is empty whenever no candidate beats it. A number keeps the candidates with utility
``>= threshold``; ``top_k`` caps the count (alone, with ``threshold=None``, it keeps the ``top_k`` best).

Reward defaults: ``reward="gain"`` on the primary's WHOLE dev split (``reward_dev_size=None``). A round is a few
steps, so the primary's dev score moves little between rounds; on a small subsample (the old 200 examples) it
moves in steps of one example (0.5 points), most rounds leave it unchanged, and the old ``">="`` reward then
counts every plateau as a win for whichever arm was played, so all utilities drift up together and say nothing.
``"gain"`` is fractional (a plateau is worth 1/2, a rise more, a drop less), scaled by the recent changes so it
needs no unit or ``min_delta``, and the whole dev split makes small changes measurable. A subsample
(``reward_dev_size``, a fixed seeded one) still trades that resolution for time.
"""

from __future__ import annotations

import time
from typing import Any, Optional, Union

import numpy as np
from pydantic import Field, StrictInt, field_validator, model_validator

from auxlearn.errors import AuxlearnError
from auxlearn.plugins import MethodOptions, invalid, invalid_at
from auxlearn.select.autosem_report import AutoSemReport
from auxlearn.select.base import Selection, Selector
from auxlearn.select.rules import PRIMARY, select_by_utility
from auxlearn.stage_cost import StageCost
from auxlearn.train.samplers.thompson import Reward, ThompsonBanditSampler

Threshold = Union[str, int, float, None]  # an int stays an int in the results, as written


class AutoSemSelector(Selector):
    name = "autosem"
    report = AutoSemReport()

    class Options(MethodOptions):
        rounds: StrictInt = Field(40, ge=2, description="bandit rounds, at least 1 + min_plays x arms")
        round_steps: StrictInt = Field(10, ge=1, description="training steps per round, each followed by the "
                                                             "primary's dev evaluation that rewards it")
        decay: float = Field(0.3, ge=0, le=1, description="how far every round pulls each arm back to the prior")
        reward: Reward = Field("gain", description="'gain' (fractional, by the size of the dev score's change), "
                                                   "'>=' (AutoSeM: no drop) or '>' (a rise above min_delta)")
        min_delta: float = Field(0.0, ge=0, allow_inf_nan=False, description="the rise reward '>' requires")
        reward_dev_size: Optional[StrictInt] = Field(
            None, ge=1, description="dev examples the reward is measured on (a fixed seeded subsample); "
                                    "null: the whole dev split")
        threshold: Threshold = Field(
            PRIMARY, description="'primary': keep candidates whose utility beats the primary arm's; a number in "
                                 "[0, 1]: utility >= it; null: the top_k best whatever their utility")
        top_k: Optional[StrictInt] = Field(None, ge=1, description="keep at most this many, best first")
        min_plays: StrictInt = Field(2, ge=0, description="rounds every arm is played before Thompson sampling")

        @field_validator("threshold", mode="before")
        @classmethod
        def _threshold(cls, value: Any) -> Any:
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not (value is None or value == PRIMARY or (number and 0 <= value <= 1)):
                raise invalid(f"threshold must be {PRIMARY!r}, a number in [0, 1], or null with a top_k; "
                              f"got {value!r}")
            return value

        @model_validator(mode="after")
        def _rule(self):
            if self.threshold is None and self.top_k is None:
                raise invalid_at("threshold", "threshold null (no threshold) needs a top_k")
            self.bandit(explore_rounds_per_arm=0)  # the bandit's own checks (min_delta only with reward '>')
            return self

        def bandit(self, **runtime: Any) -> ThompsonBanditSampler.Options:
            return ThompsonBanditSampler.Options(decay=self.decay, reward=self.reward, min_delta=self.min_delta,
                                                 **runtime)

    def _rounds(self) -> dict[str, Any]:
        """The bandit's run: a dev evaluation ends every round, and none stops it."""
        return {"eval_every": self.options.round_steps, "patience": None, "eval_tasks": []}

    def cost(self, context):
        """The bandit's one run over the primary and every candidate; each round planned as the mean task's."""
        self._bandit(context)  # too few rounds for its exploration: said before anything trains
        training = context.search("bandit", steps=self.options.rounds * self.options.round_steps,
                                  sampler={"name": "uniform"}, dev_examples=self.options.reward_dev_size,
                                  **self._rounds())
        return StageCost([training], "the bandit's rounds planned as the mean task's")

    def _bandit(self, stage) -> ThompsonBanditSampler:
        """The bandit over the primary and the candidates, its rounds checked against its exploration."""
        options = self.options
        tasks = [stage.primary, *stage.candidates]
        sampler = ThompsonBanditSampler(tasks, {t: len(stage.prepared.data[t].train) for t in tasks},
                                        total_steps=options.rounds * options.round_steps, seed=stage.exp.seed,
                                        options=options.bandit(explore_rounds_per_arm=options.min_plays))
        if options.rounds < sampler.exploration_rounds:
            raise AuxlearnError(
                f"select (autosem): rounds={options.rounds} is too few for min_plays={options.min_plays} on "
                f"{len(tasks)} arms (the primary and {len(tasks) - 1} candidates): the baseline round and "
                f"min_plays rounds per arm need rounds >= {options.min_plays} * {len(tasks)} + 1 = "
                f"{sampler.exploration_rounds}; raise rounds or lower min_plays")
        return sampler

    def _select(self, stage):
        started = time.perf_counter()
        options = self.options
        steps = options.rounds * options.round_steps
        sampler = self._bandit(stage)
        with _reward_subsample(stage, options.reward_dev_size):
            stage.train_with("bandit", sampler, steps=steps, **self._rounds())
        utilities = sampler.utilities()
        kept = select_by_utility(utilities, stage.primary, threshold=options.threshold, top_k=options.top_k)[1:]
        return Selection(self.name, kept, scores={t: utilities[t] for t in stage.candidates},
                         details={**sampler.describe(), "primary_utility": utilities[stage.primary],
                                  **options.model_dump()},
                         seconds=time.perf_counter() - started)


class _reward_subsample:
    """Temporarily score the primary on a fixed seeded subsample of its dev split (the bandit's reward)."""

    def __init__(self, stage, size: Optional[int]):
        self.data, self.size, self.seed = stage.prepared.data[stage.primary], size, stage.exp.data.split_seed

    def __enter__(self):
        self.full = self.data.dev
        if self.size is not None and self.size < len(self.full):
            chosen = np.random.default_rng(self.seed).choice(len(self.full), self.size, replace=False)
            self.data.dev = self.full.select(np.sort(chosen))
        return self

    def __exit__(self, *exc):
        self.data.dev = self.full
