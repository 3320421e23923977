"""Deterministic round-robin over integer ratios, as AutoSeM trains.

Ratios (2, 1, 5) flatten to the cycle a a b c c c c c: step s trains flat[s mod 8]. No randomness.
"""

from __future__ import annotations

from typing import Mapping

from auxlearn.train.samplers.base import TaskSampler
from auxlearn.train.samplers.static import check_ratios, normalise


class RoundRobinSampler(TaskSampler):
    name = "round_robin"

    def __init__(self, tasks, sizes, *, total_steps, seed=0, ratios: Mapping[str, int]):
        super().__init__(tasks, sizes, total_steps=total_steps, seed=seed)
        if any(int(r) != r for r in ratios.values()):
            raise ValueError(f"round_robin ratios must be integers, got {dict(ratios)}")
        self.ratios = {t: int(r) for t, r in check_ratios(ratios, self.tasks).items()}
        self.cycle = [task for task in self.tasks for _ in range(self.ratios[task])]

    def probabilities(self, step):
        return normalise(self.ratios)

    def next_task(self, step):
        return self.cycle[step % len(self.cycle)]

    def describe(self):
        return {"name": self.name, "ratios": self.ratios}
