"""AutoSeM stage 1: a Thompson-sampling bandit over {primary} + candidates chooses which task trains each round.

The bandit is the ``thompson`` sampler of the ordinary trainer: a round is ``round_steps`` steps of one
task followed by a dev evaluation of the primary (optionally on a fixed seeded subsample of dev,
``reward_dev_size``, to save time) whose change is the round's reward. Tasks whose posterior utility
reaches ``threshold`` (or the ``top_k`` best) are kept.
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np

from auxlearn.select.base import Selection, Selector
from auxlearn.select.rules import select_by_utility
from auxlearn.train.samplers.thompson import ThompsonBanditSampler


class AutoSemSelector(Selector):
    name = "autosem"

    def __init__(self, rounds: int = 40, round_steps: int = 10, decay: float = 0.3, reward: str = ">=",
                 min_delta: float = 0.0, reward_dev_size: Optional[int] = 200, threshold: Optional[float] = 0.5,
                 top_k: Optional[int] = None, min_plays: int = 1):
        if rounds < 2 or round_steps < 1:
            raise ValueError(f"rounds must be >= 2 and round_steps >= 1, got {rounds} and {round_steps}")
        self.rounds, self.round_steps, self.reward_dev_size = rounds, round_steps, reward_dev_size
        self.bandit = {"decay": decay, "reward": reward, "min_delta": min_delta}
        self.threshold, self.top_k, self.min_plays = threshold, top_k, min_plays

    def select(self, stage):
        started = time.perf_counter()
        tasks = [stage.primary, *stage.candidates]
        steps = self.rounds * self.round_steps
        sampler = ThompsonBanditSampler(tasks, {t: len(stage.prepared.data[t].train) for t in tasks},
                                        total_steps=steps, seed=stage.exp.seed, **self.bandit)
        with _reward_subsample(stage, self.reward_dev_size):
            stage.train("bandit", auxiliary=stage.candidates, sampler_object=sampler, steps=steps,
                        eval_every=self.round_steps, patience=None, eval_tasks=[])
        utilities = sampler.utilities()
        # An arm played fewer than min_plays rounds sits at (or has decayed back to) its prior mean of 0.5:
        # that is no evidence of help, so it is not eligible.
        played = dict(zip(tasks, sampler.plays))
        eligible = {t: u for t, u in utilities.items() if played[t] >= self.min_plays}
        kept = select_by_utility(eligible, stage.primary, threshold=self.threshold, top_k=self.top_k)[1:]
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
