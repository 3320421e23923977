"""Samplers with a fixed rule: uniform, proportional to train size, temperature-scaled, fixed ratios."""

from __future__ import annotations

from typing import Mapping, Optional

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

    def __init__(self, tasks, sizes, *, total_steps, seed=0, temperature: float = 2.0, cap: Optional[int] = None):
        super().__init__(tasks, sizes, total_steps=total_steps, seed=seed)
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if cap is not None and cap <= 0:
            raise ValueError(f"cap must be a positive number of examples, got {cap}")
        self.temperature, self.cap = float(temperature), cap

    def probabilities(self, step):
        capped = {t: min(n, self.cap) if self.cap else n for t, n in self.sizes.items()}
        return normalise({t: n ** (1.0 / self.temperature) for t, n in capped.items()})

    def describe(self):
        return {"name": self.name, "temperature": self.temperature, "cap": self.cap}


class FixedSampler(TaskSampler):
    """Given ratios, sampled at random each step."""

    name = "fixed"

    def __init__(self, tasks, sizes, *, total_steps, seed=0, ratios: Mapping[str, float]):
        super().__init__(tasks, sizes, total_steps=total_steps, seed=seed)
        self.ratios = check_ratios(ratios, self.tasks)

    def probabilities(self, step):
        return normalise(self.ratios)

    def describe(self):
        return {"name": self.name, "ratios": self.ratios}


def check_ratios(ratios: Mapping[str, float], tasks: list[str]) -> dict[str, float]:
    unknown = sorted(set(ratios) - set(tasks))
    missing = [t for t in tasks if t not in ratios]
    if unknown or missing:
        raise ValueError(f"ratios must name exactly the tasks {tasks}; unknown: {unknown}, missing: {missing}")
    if any(r < 0 for r in ratios.values()) or sum(ratios.values()) <= 0:
        raise ValueError(f"ratios must be >= 0 and not all 0, got {dict(ratios)}")
    return {t: ratios[t] for t in tasks}
