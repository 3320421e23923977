"""Samplers with a fixed rule: uniform, proportional to train size, temperature-scaled, fixed ratios."""

from __future__ import annotations

from typing import Mapping, Optional

from pydantic import Field, NonNegativeFloat, field_validator

from auxlearn.plugins import MethodOptions, invalid
from auxlearn.train.samplers.base import TaskSampler


def normalise(weights: Mapping[str, float]) -> dict[str, float]:
    total = float(sum(weights.values()))
    return {task: float(w) / total for task, w in weights.items()}


class UniformSampler(TaskSampler):
    """Every task equally often, whatever its size."""

    name = "uniform"

    def probabilities(self, step):
        return {task: 1.0 / len(self.tasks) for task in self.tasks}


class ProportionalSampler(TaskSampler):
    """Tasks in proportion to their train size: each example seen about equally often (HMTL, MT-DNN)."""

    name = "proportional"

    def probabilities(self, step):
        return normalise(self.sizes)


class TemperatureSampler(TaskSampler):
    """p ∝ min(size, cap)^(1/T): T=1 is proportional, large T approaches uniform (T5, mBERT practice)."""

    name = "temperature"

    class Options(MethodOptions):
        temperature: float = Field(2.0, gt=0, allow_inf_nan=False,
                                   description="T: 1 samples in proportion to size, larger T comes closer to uniform")
        cap: Optional[int] = Field(None, gt=0, description="examples counted per task at most; null: no cap")

    def probabilities(self, step):
        cap = self.options.cap
        capped = {t: min(n, cap) if cap else n for t, n in self.sizes.items()}
        return normalise({t: n ** (1.0 / self.options.temperature) for t, n in capped.items()})


class RatioOptions(MethodOptions):
    """Ratios by task name; which tasks they must name is known only when the sampler is built."""

    ratios: dict[str, NonNegativeFloat] = Field(description="each task's share, any scale (0 drops the task)")

    @field_validator("ratios")
    @classmethod
    def _some_positive(cls, ratios: dict[str, float]) -> dict[str, float]:
        if sum(ratios.values()) <= 0:
            raise invalid(f"ratios must not be all 0, got {ratios}")
        return ratios


class FixedSampler(TaskSampler):
    """Given ratios, sampled at random each step."""

    name = "fixed"
    Options = RatioOptions

    def __init__(self, tasks, sizes, *, total_steps, seed=0, options=None):
        super().__init__(tasks, sizes, total_steps=total_steps, seed=seed, options=options)
        self.ratios = check_ratios(self.options.ratios, self.tasks)

    def probabilities(self, step):
        return normalise(self.ratios)

    def describe(self):
        return {"name": self.name, "ratios": self.ratios}


def check_ratios(ratios: Mapping[str, float], tasks: list[str]) -> dict[str, float]:
    """``ratios`` in the order of ``tasks``, which they must name exactly."""
    unknown = sorted(set(ratios) - set(tasks))
    missing = [t for t in tasks if t not in ratios]
    if unknown or missing:
        raise ValueError(f"ratios must name exactly the tasks {tasks}; unknown: {unknown}, missing: {missing}")
    return {t: ratios[t] for t in tasks}
