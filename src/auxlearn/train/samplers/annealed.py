"""Annealed sampling (Stickland & Murray 2019): p ∝ size^α with α going from 1 (proportional) to 0 (uniform).

Large tasks dominate early, and the small primary gets an equal share by the end of training.
"""

from __future__ import annotations

from auxlearn.train.samplers.base import TaskSampler
from auxlearn.train.samplers.static import normalise


class AnnealedSampler(TaskSampler):
    name = "annealed"

    def __init__(self, tasks, sizes, *, total_steps, seed=0, start: float = 1.0, end: float = 0.0):
        super().__init__(tasks, sizes, total_steps=total_steps, seed=seed)
        self.start, self.end = float(start), float(end)

    def exponent(self, step: int) -> float:
        progress = min(step / max(self.total_steps - 1, 1), 1.0)
        return self.start + (self.end - self.start) * progress

    def probabilities(self, step):
        alpha = self.exponent(step)
        return normalise({t: n**alpha for t, n in self.sizes.items()})

    def describe(self):
        return {"name": self.name, "start": self.start, "end": self.end}
