"""The config's ``train`` section: the training recipe of one arm (its length, optimiser, evaluations, sampler and
loss weighting, device and trackers). ``steps`` and ``eval_every`` may be ``auto``, made numbers from the data by
``train_length.py`` before anything trains."""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import Field, PositiveInt, field_validator, model_validator

from auxlearn.config_methods import SamplerConfig, WeightingConfig
from auxlearn.config_types import Precision, Strict, Tracker


AUTO = Literal["auto"]


class TrainConfig(Strict):
    steps: Union[PositiveInt, AUTO] = Field(
        "auto", description="optimiser steps of the primary alone; auto: train.epochs passes over the primary's "
                            "training split (train_length.py says why and within which bounds)")
    epochs: float = Field(10, gt=0, description="passes over the primary's training split, when steps is auto")
    batch_size: int = Field(16, gt=0)
    eval_batch_size: int = Field(128, gt=0)
    eval_batch_tokens: Optional[int] = Field(
        None, gt=0, description="padded tokens per evaluation batch; None: 1024 on a CPU, no cap on a GPU")
    lr: float = Field(5e-5, gt=0)
    head_lr: Optional[float] = Field(None, gt=0, description="learning rate of the task heads; None: lr")
    warmup: float = Field(0.1, ge=0, description="fraction of steps if < 1, else a number of steps")
    weight_decay: float = Field(0.01, ge=0)
    grad_accum: int = Field(1, gt=0)
    max_grad_norm: float = Field(1.0, gt=0)
    eval_every: Union[PositiveInt, AUTO] = Field(
        "auto", description="steps between dev evaluations; auto: about ten over the steps")
    patience: Optional[int] = Field(5, gt=0, description="evaluations without improvement before stopping (half of "
                                                         "auto's ten); None: never stop")
    checkpoint_every: Optional[int] = Field(
        200, gt=0, description="steps between checkpoints of a run with an output folder, which a re-run into "
                               "that folder resumes from; None: none")
    optimizer: Literal["shared", "per_task"] = "shared"
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    weighting: WeightingConfig = Field(default_factory=WeightingConfig)
    eval_tasks: list[str] = Field(default_factory=list, description="tasks evaluated besides the primary")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Precision = Field(
        "auto", description="bf16: bfloat16 autocast, fp32 master weights; auto: bf16 where the device has units")
    threads: Optional[int] = Field(
        None, gt=0, description="CPU threads; None: OMP_NUM_THREADS, else the cores shared among auxlearn workers")
    progress: bool = True
    log_with: list[Tracker] = Field(
        default_factory=list, description="experiment trackers (Accelerate's) that every trained arm logs its "
                                          "curves to, e.g. [tensorboard]; each needs the auxlearn extra of its name")

    @field_validator("steps", "eval_every", mode="before")
    @classmethod
    def _steps_or_auto(cls, value: Any) -> Any:
        """One message for both forms (pydantic would report each member of the union)."""
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            return value
        raise ValueError("must be a number of steps above 0, or auto")

    @field_validator("log_with", mode="before")
    @classmethod
    def _one_tracker(cls, value: Any) -> Any:
        """``log_with: tensorboard`` is a list of one; a tracker named twice would log every curve twice."""
        value = [value] if isinstance(value, str) else value
        if isinstance(value, list) and len(set(map(str, value))) != len(value):
            raise ValueError(f"names a tracker twice: {value}")
        return value

    @model_validator(mode="after")
    def _one_optimizer_for_several_tasks(self) -> "TrainConfig":
        if self.weighting.every_task and self.optimizer == "per_task":
            raise ValueError(f"train.weighting {self.weighting.name!r} trains every task at every step, which one "
                             "optimiser steps: use optimizer: shared")
        return self

    def warmup_steps(self) -> int:
        if self.steps == "auto":
            raise ValueError("train.steps is still auto: resolve it against the data first (train_length.py)")
        return int(self.warmup * self.steps) if self.warmup < 1 else int(self.warmup)
