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

import numbers
import time
from typing import Optional, Union

import numpy as np

from auxlearn.errors import AuxlearnError
from auxlearn.select.base import Selection, Selector
from auxlearn.select.rules import PRIMARY, select_by_utility
from auxlearn.train.samplers.thompson import ThompsonBanditSampler


class AutoSemSelector(Selector):
    name = "autosem"

    def __init__(self, rounds: int = 40, round_steps: int = 10, decay: float = 0.3, reward: str = "gain",
                 min_delta: float = 0.0, reward_dev_size: Optional[int] = None,
                 threshold: Union[str, float, None] = PRIMARY, top_k: Optional[int] = None, min_plays: int = 2):
        if rounds < 2 or round_steps < 1:
            raise ValueError(f"rounds must be >= 2 and round_steps >= 1, got {rounds} and {round_steps}")
        if isinstance(min_plays, bool) or not isinstance(min_plays, int) or min_plays < 0:
            raise ValueError(f"min_plays must be an integer >= 0, got {min_plays!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"top_k must be None or an integer >= 1, got {top_k!r}")
        if threshold is None:
            if top_k is None:
                raise ValueError("threshold None (no threshold) needs a top_k")
        elif threshold != PRIMARY and (isinstance(threshold, bool) or not isinstance(threshold, numbers.Real)
                                       or not 0 <= threshold <= 1):
            raise ValueError(f"threshold must be {PRIMARY!r}, a number in [0, 1], or None with a top_k; "
                             f"got {threshold!r}")
        if reward_dev_size is not None and (isinstance(reward_dev_size, bool) or not isinstance(reward_dev_size, int)
                                            or reward_dev_size < 1):
            raise ValueError(f"reward_dev_size must be None (the whole dev split) or an integer >= 1, "
                             f"got {reward_dev_size!r}")
        self.rounds, self.round_steps, self.reward_dev_size = rounds, round_steps, reward_dev_size
        self.bandit = {"decay": decay, "reward": reward, "min_delta": min_delta}
        self.threshold, self.top_k, self.min_plays = threshold, top_k, min_plays

    def select(self, stage):
        started = time.perf_counter()
        tasks = [stage.primary, *stage.candidates]
        steps = self.rounds * self.round_steps
        sampler = ThompsonBanditSampler(tasks, {t: len(stage.prepared.data[t].train) for t in tasks},
                                        total_steps=steps, seed=stage.exp.seed,
                                        explore_rounds_per_arm=self.min_plays, **self.bandit)
        if self.rounds < sampler.exploration_rounds:
            raise AuxlearnError(
                f"select (autosem): rounds={self.rounds} is too few for min_plays={self.min_plays} on "
                f"{len(tasks)} arms (the primary and {len(tasks) - 1} candidates): the baseline round and "
                f"min_plays rounds per arm need rounds >= {self.min_plays} * {len(tasks)} + 1 = "
                f"{sampler.exploration_rounds}; raise rounds or lower min_plays")
        with _reward_subsample(stage, self.reward_dev_size):
            stage.train_with("bandit", sampler, steps=steps, eval_every=self.round_steps, patience=None,
                             eval_tasks=[])
        utilities = sampler.utilities()
        kept = select_by_utility(utilities, stage.primary, threshold=self.threshold, top_k=self.top_k)[1:]
        return Selection(self.name, kept, scores={t: utilities[t] for t in stage.candidates},
                         details={**sampler.describe(), "primary_utility": utilities[stage.primary],
                                  "rounds": self.rounds, "round_steps": self.round_steps,
                                  "reward_dev_size": self.reward_dev_size, "threshold": self.threshold,
                                  "top_k": self.top_k, "min_plays": self.min_plays},
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
