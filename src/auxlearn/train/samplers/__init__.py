"""Task samplers: one small class per rule behind ``TaskSampler`` (see base.py); the registry is below."""

from __future__ import annotations

from typing import Annotated, Any, Mapping, Sequence

from pydantic import AfterValidator, ValidationError

from auxlearn.errors import format_validation_error
from auxlearn.plugins import build, invalid, options_of
from auxlearn.train.samplers.annealed import AnnealedSampler
from auxlearn.train.samplers.base import TaskSampler
from auxlearn.train.samplers.round_robin import RoundRobinSampler
from auxlearn.train.samplers.fixed_rule import FixedSampler, ProportionalSampler, TemperatureSampler, UniformSampler
from auxlearn.train.samplers.thompson import ThompsonBanditSampler

SAMPLERS: dict[str, type[TaskSampler]] = {
    cls.name: cls
    for cls in (UniformSampler, ProportionalSampler, TemperatureSampler, FixedSampler, RoundRobinSampler,
                AnnealedSampler, ThompsonBanditSampler)
}


def build_sampler(name: str, options: Mapping[str, Any], tasks: Sequence[str], sizes: Mapping[str, int], *,
                  total_steps: int, seed: int) -> TaskSampler:
    """Build sampler ``name``; unknown names or options are errors that list what is allowed."""
    return build(SAMPLERS, name, options, "train.sampler", tasks, sizes, total_steps=total_steps, seed=seed)


def _needs_no_options(name: str) -> str:
    try:
        options_of(SAMPLERS, name, {})
    except ValidationError as error:
        raise invalid(f"{format_validation_error(error, name)} (a sampler named alone must need no options)") from None
    return name


# A sampler named alone, as an option of a method (exhaustive pairs, GradTS trials): known, and needing no options.
SamplerName = Annotated[str, AfterValidator(_needs_no_options)]

__all__ = ["SAMPLERS", "SamplerName", "TaskSampler", "build_sampler"]
