"""Annealed sampling (Stickland & Murray 2019): p ∝ size^α with α going from 1 (proportional) to 0 (uniform).

Large tasks dominate early, and the small primary gets an equal share by the end of training.
"""

from __future__ import annotations

from pydantic import Field

from auxlearn.plugins import MethodOptions
from auxlearn.train.samplers.base import TaskSampler
from auxlearn.train.samplers.fixed_rule import normalise


class AnnealedSampler(TaskSampler):
    name = "annealed"

    class Options(MethodOptions):
        start: float = Field(1.0, allow_inf_nan=False,
                             description="the exponent α at the first step (1: proportional)")
        end: float = Field(0.0, allow_inf_nan=False, description="the exponent α at the last step (0: uniform)")

    def exponent(self, step: int) -> float:
        progress = min(step / max(self.total_steps - 1, 1), 1.0)
        return self.options.start + (self.options.end - self.options.start) * progress

    def probabilities(self, step):
        alpha = self.exponent(step)
        return normalise({t: n**alpha for t, n in self.sizes.items()})
