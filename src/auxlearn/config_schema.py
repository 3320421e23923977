"""The experiment config's schema: YAML validated by pydantic; unknown keys are errors with the key's path.

A method section (``train.sampler``, ``train.weighting``, ``adapter``, ``select``, ``mix``) is validated against
its method's ``Options`` (``config_methods``); ``transfer.protocol`` and the keys of ``fewshot.arms`` name members
of their families (``PROTOCOLS``, ``ARMS``), and what may go with a protocol is read from its flags, not its name.
Loading a config (``auxlearn.config``) adds what needs more than the schema: the selectors' and mixers'
registries, and the checks against the tasks and this machine.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping, Optional, Union

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from auxlearn.atlas.table import builtin_file
from auxlearn.config_baseline import BaselineConfig
from auxlearn.config_methods import AdapterConfig, MixConfig, SelectConfig
from auxlearn.config_objectives import ObjectivesConfig
from auxlearn.config_train import TrainConfig
from auxlearn.config_types import DEFAULT_MODEL, PairEncoding, Strict
from auxlearn.errors import AuxlearnError, format_validation_error
from auxlearn.fewshot.arms import ARMS
from auxlearn.plugins import Plugin, invalid
from auxlearn.protocols import PROTOCOLS


DEFAULT_RUN_SEEDS = 5

# The AutoSeM reproduction's settings (its --setting flag) as presets: (select method, mix method).
PRESETS = {0: ("autosem", "proportional"), 1: ("all", "uniform"), 2: ("autosem", "uniform"), 3: ("autosem", "gp-bo")}


class DataConfig(Strict):
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


Budget = Literal["equal_primary", "equal_total"]


def _either(names: list[str]) -> str:
    """``a, b or c``: the protocols an error suggests, read from the registry."""
    return " or ".join(filter(None, [", ".join(names[:-1]), names[-1]]))


class TransferConfig(Strict):
    """How a trained arm (selection and mixing trials, the final model) uses its auxiliary tasks.

    ``budget`` counts the arm's steps: ``equal_primary`` gives the primary as many of its own batches as its
    baseline (``train.steps``), the auxiliaries their share on top; ``equal_total`` keeps the baseline's total.
    ``protocol`` splits those steps into phases: one of ``auxlearn.protocols.PROTOCOLS`` (``joint`` multi-task
    training, ``sequential`` intermediate-task training, ``joint_then_finetune`` MT-DNN's, ``auto`` one of them by
    a rule; each module of ``protocols/`` says what it does), which says what may go with it.
    """

    protocol: str = Field("auto", description="a protocol of auxlearn.protocols.PROTOCOLS")
    budget: Budget = "equal_primary"
    regularization: float = Field(
        0.0, ge=0, description="sequential: delta of the L2 pull delta*||theta - theta_phase1||^2 on the encoder "
                               "while the primary trains (successive regularisation, HMTL/JMT); 0: none")
    finetune_lr: Optional[float] = Field(
        None, gt=0, description="joint_then_finetune: the learning rate of the primary's fine-tuning phase "
                                "(AANG fine-tunes at a hundredth of its rate); None: train.lr")

    @field_validator("protocol", mode="before")
    @classmethod
    def _known_protocol(cls, protocol: Any) -> str:
        if not isinstance(protocol, str) or protocol not in PROTOCOLS:
            raise invalid(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
        return protocol

    @model_validator(mode="after")
    def _regularization_needs_phases(self) -> "TransferConfig":
        if self.regularization and not PROTOCOLS[self.protocol].regularizes:
            able = _either([name for name, protocol in PROTOCOLS.items() if protocol.regularizes])
            raise ValueError(f"transfer.regularization pulls the primary's phase toward the auxiliary phase's "
                             f"weights; protocol {self.protocol!r} has no such phase (use {able})")
        return self


class FewShotConfig(Strict):
    """``auxlearn adapt``: the adapter's skills and routing pre-trained on the auxiliary tasks (``pretrain``: train
    settings over ``train``'s), then the primary learnt from ``shots`` examples per class by each arm of
    ``auxlearn.fewshot.arms.ARMS`` (all of them by default); ``arms`` maps each to its own train settings."""

    shots: list[int] = Field(default_factory=lambda: [16], min_length=1)
    arms: dict[str, dict[str, Any]] = Field(default_factory=lambda: {arm: {} for arm in ARMS})
    pretrain: dict[str, Any] = Field(default_factory=dict)

    @field_validator("arms")
    @classmethod
    def _known_arms(cls, arms: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        unknown = [arm for arm in arms if arm not in ARMS]
        if unknown:
            raise invalid(f"unknown arm {', '.join(map(repr, unknown))}; known: {', '.join(ARMS)}")
        return arms

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


class Experiment(Strict):
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
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    select: SelectConfig = Field(default_factory=SelectConfig)
    mix: MixConfig = Field(default_factory=MixConfig)
    transfer: TransferConfig = Field(default_factory=TransferConfig)
    objectives: ObjectivesConfig = Field(default_factory=ObjectivesConfig)
    adapter: AdapterConfig = Field(default_factory=AdapterConfig)
    fewshot: FewShotConfig = Field(default_factory=FewShotConfig)
    preset: Optional[Literal[0, 1, 2, 3]] = None
    seed: int = 0
    seeds: Optional[list[int]] = Field(
        None, min_length=1, description=f"seeds of `run`'s baseline, final and control; None: "
                                        f"{DEFAULT_RUN_SEEDS} seeds from `seed` on")

    @model_validator(mode="before")
    @classmethod
    def _fill_in_methods(cls, data: Any) -> Any:
        """A preset fills in select.method and mix.method; explicit methods in the file win. Then ``select.method:
        auto`` (the default) becomes the selector it stands for."""
        if isinstance(data, dict) and data.get("preset") in PRESETS:
            select_method, mix_method = PRESETS[data["preset"]]
            data = dict(data)
            data["select"] = {"method": select_method, **(data.get("select") or {})}
            data["mix"] = {"method": mix_method, **(data.get("mix") or {})}
        return _auto_selector(data) if isinstance(data, dict) else data

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
        if self.train.weighting.every_task and not PROTOCOLS[self.transfer.protocol].joint:
            able = _either([name for name, protocol in PROTOCOLS.items() if protocol.joint])
            raise ValueError(f"train.weighting {self.train.weighting.name!r} trains every task at every step, "
                             f"which has no auxiliary phase: use transfer.protocol {able}, not "
                             f"{self.transfer.protocol}")
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
        return validated_experiment(document, where=f"experiment {self.name!r}, a variant")


def _auto_selector(data: dict) -> dict:
    """``select.method: auto``: ``atlas`` where a transfer atlas of the encoder ships with auxlearn (no training:
    seconds), else ``exhaustive`` (every pair trained on paired seeds). The run's config and plan name the one
    chosen; it takes no options, which belong to the method they set."""
    select = data.get("select") or {}
    if not isinstance(select, dict) or select.get("method", "auto") != "auto":
        return data
    options = sorted(key for key in select if key != "method")
    if options:
        raise ValueError(f"select.method auto takes no options (got {', '.join(options)}): it runs atlas or "
                         f"exhaustive with their defaults; name the method whose options you set")
    method = "atlas" if builtin_file(str(data.get("model", DEFAULT_MODEL))).is_file() else "exhaustive"
    return {**data, "select": {"method": method}}


def validated_experiment(document: dict, where: str = "config", note: Any = None,
                         methods: Optional[Mapping[str, Mapping[str, type[Plugin]]]] = None) -> Experiment:
    """An experiment from a mapping, validated against the schema; ``methods``: the registries of the sections
    that name theirs by ``section`` (``{"select": SELECTORS, "mix": MIXERS}``). ``note(location)``: appended to a
    validation error (where the key was set)."""
    try:
        return Experiment.model_validate(dict(**document), context=methods)  # a mapping with names for keys
    except ValidationError as error:
        raise AuxlearnError(f"{where}: {format_validation_error(error, note=note)}") from None
    except TypeError as error:
        raise AuxlearnError(f"{where}: {error}") from None
