"""The options of ``select: {method: gradts}`` (see selector.py), apart from the selector so that the measurement
(measure.py), which the selector runs, reads them without importing it."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, PositiveFloat, StrictInt, field_validator

from auxlearn.plugins import MethodOptions, invalid
from auxlearn.train.samplers import SamplerName

Count = Optional[StrictInt]


class GradTSOptions(MethodOptions):
    """GradTS's options, read by the selector and by the measurement."""

    mode: Literal["threshold", "top_k", "trial"] = Field(
        "trial", description="threshold: tau >= threshold; top_k: the top_k highest taus; trial: greedy trials "
                             "of tau-ranked prefixes against the primary alone")
    threshold: float = Field(0.6, allow_inf_nan=False, description="mode threshold: the smallest tau kept")
    top_k: Count = Field(None, ge=1, validate_default=True, description="mode top_k: how many to keep")
    finetune_steps: Count = Field(None, ge=1, description="fine-tuning steps; null: one epoch of the subsample")
    finetune_examples: StrictInt = Field(1024, ge=1, description="the seeded train subsample fine-tuned on")
    finetune_batch_size: StrictInt = Field(16, ge=1, description="the fine-tuning batch size")
    finetune_lr: Optional[PositiveFloat] = Field(None, description="the fine-tuning rate; null: train.lr")
    importance_examples: Count = Field(
        256, ge=1, description="examples the importance is measured on (the subsample's first); null: all")
    importance_batch_size: StrictInt = Field(32, ge=1, description="the importance pass's batch size")
    normalization: Literal["sum", "l2"] = Field(
        "sum", description="per-layer normalisation: sum (GradTS) or l2 (Michel et al. 2019)")
    parity: Literal["none", "reference"] = Field(
        "none", description="reference: the GradTS code's key+value weight-gradient statistic, for parity runs")
    trial_steps: Count = Field(None, ge=1, description="mode trial: each trial's primary-alone recipe; "
                                                       "null: train.steps")
    trial_sampler: Optional[SamplerName] = Field(None, description="mode trial: the trials' sampler; "
                                                                   "null: the experiment's")
    instances: Optional[dict[Literal["threshold", "coverage"], float]] = Field(
        None, description="GradTS-fg: {threshold: t} keeps an auxiliary's examples with tau >= t, "
                          "{coverage: q} its top q fraction")
    cache: bool = Field(True, description="reuse importance matrices from the cache")

    @field_validator("top_k")
    @classmethod
    def _top_k_for_its_mode(cls, top_k: Optional[int], info) -> Optional[int]:
        if info.data.get("mode") == "top_k" and top_k is None:
            raise invalid("mode top_k needs top_k >= 1")
        return top_k

    @field_validator("instances")
    @classmethod
    def _one_filter(cls, instances: Optional[dict[str, float]]) -> Optional[dict[str, float]]:
        if instances is not None and len(instances) != 1:
            raise invalid(f"instances must be {{threshold: t}} or {{coverage: q}}, got {instances!r}")
        if instances and not 0 < instances.get("coverage", 1) <= 1:
            raise invalid(f"instances.coverage must be in (0, 1], got {instances['coverage']}")
        return instances
