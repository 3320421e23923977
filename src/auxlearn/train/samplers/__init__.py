"""Task samplers: one small class per rule behind ``TaskSampler`` (see base.py); the registry is below."""

from __future__ import annotations

import inspect
from typing import Any, Mapping, Sequence

from auxlearn.errors import AuxlearnError
from auxlearn.train.samplers.annealed import AnnealedSampler
from auxlearn.train.samplers.base import TaskSampler
from auxlearn.train.samplers.round_robin import RoundRobinSampler
from auxlearn.train.samplers.static import FixedSampler, ProportionalSampler, TemperatureSampler, UniformSampler

SAMPLERS: dict[str, type[TaskSampler]] = {
    cls.name: cls
    for cls in (UniformSampler, ProportionalSampler, TemperatureSampler, FixedSampler, RoundRobinSampler,
                AnnealedSampler)
}


def register_sampler(cls: type[TaskSampler]) -> type[TaskSampler]:
    SAMPLERS[cls.name] = cls
    return cls


def build_sampler(name: str, options: Mapping[str, Any], tasks: Sequence[str], sizes: Mapping[str, int], *,
                  total_steps: int, seed: int) -> TaskSampler:
    """Build sampler ``name``; unknown names or options are errors that list what is allowed."""
    if name not in SAMPLERS:
        raise AuxlearnError(f"train.sampler.name: unknown sampler {name!r}; known: {', '.join(sorted(SAMPLERS))}")
    cls = SAMPLERS[name]
    allowed = [p for p in inspect.signature(cls.__init__).parameters
               if p not in ("self", "tasks", "sizes", "total_steps", "seed")]
    for key in options:
        if key not in allowed:
            raise AuxlearnError(f"train.sampler.{key}: unknown option of sampler {name!r}; "
                                f"allowed: {', '.join(allowed) or 'none'}")
    try:
        return cls(tasks, sizes, total_steps=total_steps, seed=seed, **options)
    except (TypeError, ValueError) as error:
        raise AuxlearnError(f"train.sampler ({name}): {error}") from None


__all__ = ["SAMPLERS", "TaskSampler", "build_sampler", "register_sampler"]
