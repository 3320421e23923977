"""Task samplers: one small class per rule behind ``TaskSampler`` (see base.py); the registry is below."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from auxlearn.plugins import instantiate
from auxlearn.train.samplers.annealed import AnnealedSampler
from auxlearn.train.samplers.base import TaskSampler
from auxlearn.train.samplers.round_robin import RoundRobinSampler
from auxlearn.train.samplers.static import FixedSampler, ProportionalSampler, TemperatureSampler, UniformSampler
from auxlearn.train.samplers.thompson import ThompsonBanditSampler

SAMPLERS: dict[str, type[TaskSampler]] = {
    cls.name: cls
    for cls in (UniformSampler, ProportionalSampler, TemperatureSampler, FixedSampler, RoundRobinSampler,
                AnnealedSampler, ThompsonBanditSampler)
}


def register_sampler(cls: type[TaskSampler]) -> type[TaskSampler]:
    SAMPLERS[cls.name] = cls
    return cls


def build_sampler(name: str, options: Mapping[str, Any], tasks: Sequence[str], sizes: Mapping[str, int], *,
                  total_steps: int, seed: int) -> TaskSampler:
    """Build sampler ``name``; unknown names or options are errors that list what is allowed."""
    return instantiate(SAMPLERS, name, options, "train.sampler", tasks=tasks, sizes=sizes,
                       total_steps=total_steps, seed=seed)


__all__ = ["SAMPLERS", "TaskSampler", "build_sampler", "register_sampler"]
