"""Every task at every step, their losses summed with fixed weights: static multi-task learning (and AANG's
static baseline over its objectives)."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, NonNegativeFloat

from auxlearn.plugins import MethodOptions
from auxlearn.train.weighting_base import Weighting


class Static(Weighting):
    name = "static"
    cost = "none beyond training every task at every step"

    class Options(MethodOptions):
        weights: Optional[dict[str, NonNegativeFloat]] = Field(
            None, description="each task's loss weight; a task not named (or null: all) weighs 1")

    def weight(self, task: str) -> float:
        return (self.options.weights or {}).get(task, 1.0)

    def combine(self, losses, params):
        weights = {task: self.weight(task) for task in losses}
        sum(weights[task] * loss for task, loss in losses.items()).backward()
        return weights
