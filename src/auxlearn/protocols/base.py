"""The protocol interface: how an arm's budget of primary and auxiliary batches is split into training phases.

A protocol only describes phases; ``auxlearn.experiment.train_experiment`` runs them, each from the previous one's
model, so no trainer or stage ever branches on a protocol. What the config may combine with a protocol it reads
from the protocol's flags (``joint``, ``regularizes``), never from its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Optional

from auxlearn.plugins import Plugin

if TYPE_CHECKING:  # only read: a weighting's name, whether it trains every task, the protocol it asks auto for
    from auxlearn.train.weighting_base import Weighting


@dataclass(frozen=True)
class Plan:
    """An arm's budget (see ``budget.plan_budget``): batches of the primary and of the auxiliary tasks.

    ``baseline_steps`` is the primary-alone recipe's length (``train.steps``) and ``primary_share`` the
    primary's expected share of the mixture's steps."""

    budget: str
    baseline_steps: int
    primary_share: float
    primary_steps: int
    auxiliary_steps: int


@dataclass(frozen=True)
class Phase:
    """One training run of an arm. ``selector`` is the task whose dev score picks the phase's checkpoint (or, with
    ``evaluate`` False, the task the run is named by)."""

    label: str
    selector: str
    auxiliary: list[str]
    sampler: dict[str, Any]
    steps: int
    eval_every: int
    patience: Optional[int]
    regularization: float = 0.0  # L2 pull toward the previous phase's encoder while this one trains
    evaluate: bool = True  # False: no dev evaluation, the phase keeps its last weights
    weighting: dict[str, Any] = field(default_factory=lambda: {"name": "single"})  # as in train.weighting
    lr: Optional[float] = None  # None: train.lr
    score_start: bool = False  # True: the model it starts from is scored first, and kept unless dev improves
    tasks: list[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", [self.selector, *self.auxiliary])


@dataclass(frozen=True)
class Arm:
    """What a protocol turns into phases: the primary, its auxiliaries, their sampler and the baseline recipe."""

    primary: str
    auxiliary: list[str]
    sampler: dict[str, Any]
    eval_every: int
    patience: Optional[int]
    regularization: float
    sizes: dict[str, int]  # train examples per task, after caps
    weighting: dict[str, Any] = field(default_factory=lambda: {"name": "single"})  # of the phases with auxiliaries
    finetune_lr: Optional[float] = None

    def primary_phase(self, steps: int, regularization: float = 0.0) -> Phase:
        """The primary alone with the baseline's recipe (its evaluations and early stopping) for ``steps``."""
        return Phase("primary", self.primary, [], {"name": "uniform"}, steps, self.eval_every, self.patience,
                     regularization)

    def finetune_phase(self, steps: int) -> Phase:
        """The primary alone from the previous phase's model, at ``finetune_lr``; that model is kept unless dev
        improves on it."""
        return Phase("primary", self.primary, [], {"name": "uniform"}, steps, self.eval_every, self.patience,
                     lr=self.finetune_lr, score_start=True)

    def joint_phase(self, plan: Plan) -> Phase:
        """Primary and auxiliaries together; early stopping on the primary's dev score, as in the baseline.

        Evaluations come every ``eval_every`` of the primary's batches, not of all steps, so the patience counts
        what the baseline's counts: a joint arm where the primary draws 1 batch in 7 would otherwise stop after
        a seventh of the primary batches the baseline is allowed without a gain."""
        every = max(1, round(self.eval_every / plan.primary_share))
        return Phase("joint", self.primary, list(self.auxiliary), dict(self.sampler),
                     plan.primary_steps + plan.auxiliary_steps, every, self.patience,
                     weighting=dict(self.weighting))


class Protocol(Plugin):
    """Base class: subclasses set ``name``, ``summary`` and the flags, and implement ``phases`` for an arm with at
    least one auxiliary. A protocol that picks another one (``auto``) overrides ``choose`` instead."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""  # how the report describes a final model trained under it
    # Some phase trains the primary with its auxiliaries: a weighting that trains every task at every step needs one.
    joint: ClassVar[bool] = True
    # The primary trains after a phase of the auxiliaries, toward whose weights transfer.regularization pulls it.
    regularizes: ClassVar[bool] = False

    def choose(self, arm: Arm, weighting: type[Weighting]) -> tuple[str, str]:
        """The protocol that trains ``arm`` under ``weighting`` (the experiment's, a ``WEIGHTINGS`` class) and the
        sentence that says why."""
        return self.name, f"the config asks for {self.name}"

    def phases(self, arm: Arm, plan: Plan) -> list[Phase]:
        raise NotImplementedError
