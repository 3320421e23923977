"""Deterministic round-robin over integer ratios, as AutoSeM trains.

Ratios (2, 1, 5) flatten to the cycle a a b c c c c c: step s trains flat[s mod 8]. No randomness.
"""

from __future__ import annotations

from pydantic import Field, NonNegativeInt

from auxlearn.train.samplers.base import TaskSampler
from auxlearn.train.samplers.fixed_rule import RatioOptions, check_ratios, normalise


class RoundRobinSampler(TaskSampler):
    name = "round_robin"

    class Options(RatioOptions):
        ratios: dict[str, NonNegativeInt] = Field(
            description="each task's integer number of batches per cycle (0 drops the task)")

    def __init__(self, tasks, sizes, *, total_steps, seed=0, options=None):
        super().__init__(tasks, sizes, total_steps=total_steps, seed=seed, options=options)
        self.ratios = check_ratios(self.options.ratios, self.tasks)
        self.cycle = [task for task in self.tasks for _ in range(self.ratios[task])]

    def probabilities(self, step):
        return normalise(self.ratios)

    def next_task(self, step):
        return self.cycle[step % len(self.cycle)]

    def describe(self):
        return {"name": self.name, "ratios": self.ratios}
