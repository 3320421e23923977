"""The sampler's task alone, its loss as it is: one task per step (the default; what samplers were built for)."""

from __future__ import annotations

from auxlearn.train.weighting_base import Weighting


class Single(Weighting):
    name = "single"
    every_task = False
    cost = "none"

    def scalars(self):
        return {}  # the sampled task's loss as it is: a weight of 1 says nothing

    def combine(self, losses, params):
        (task, loss), = losses.items()
        loss.backward()
        return {task: 1.0}
