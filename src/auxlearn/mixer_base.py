"""The mixer interface: with what proportions the kept tasks are trained.

It stands outside the family's package (``mix/``), so that a mixer kept elsewhere (AANG's, in ``auxlearn/aang/``)
subclasses it without importing the registry, which imports that very mixer."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from auxlearn.plugins import Plugin
from auxlearn.report_kit.method import MixingReport

if TYPE_CHECKING:  # the stage brings the training code, which a mixer's options and report do not need
    from auxlearn.config_schema import Experiment
    from auxlearn.stage import Stage
    from auxlearn.stage_cost import PlanContext, StageCost


@dataclass
class Mixture:
    """The sampler that trains the final model, the ratios it implies, and method-specific evidence; ``options``:
    the mixer's validated options, defaults included."""

    method: str
    sampler: dict[str, Any]  # {"name": ..., **options}, as in train.sampler
    ratios: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)  # train settings of the final model (e.g. its weighting)

    @property
    def tasks(self) -> list[str]:
        """Tasks with a non-zero ratio: a ratio of 0 drops the task."""
        return [t for t, r in self.ratios.items() if r > 0]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Mixer(Plugin):
    """Subclasses set ``name``, ``Options`` and ``report`` (what the report shows of their mixing), and implement
    ``_mix``; only the train and dev splits of the tasks may be read."""

    report: ClassVar[MixingReport] = MixingReport()
    # True: it makes auxiliary objectives of its own, so a final model trains even when the selection kept none.
    generates: ClassVar[bool] = False

    def predicts_tokens(self) -> bool:
        """Whether objectives it generates predict tokens (LM heads), which start from random weights on an encoder
        without a pretrained masked-LM head unless ``objectives.head_warmup`` fits them first."""
        return False

    def check(self, exp: Experiment) -> None:
        """Raise an AuxlearnError for options that do not fit the experiment (before anything trains)."""

    def mix(self, stage: Stage, tasks: list[str]) -> Mixture:
        """``tasks``: the primary first, then the selected auxiliaries."""
        mixture = self._mix(stage, tasks)
        mixture.options = self.options.model_dump(mode="json")
        return mixture

    def _mix(self, stage: Stage, tasks: list[str]) -> Mixture:
        raise NotImplementedError

    def cost(self, context: PlanContext, tasks: list[str]) -> StageCost:
        """What mixing ``tasks`` will train, said before it trains (the run's plan prices it); by default nothing,
        as for a rule or given ratios. A mixer that searches says what its trials train."""
        from auxlearn.stage_cost import StageCost

        return StageCost()

    def planned_mixture(self, context: PlanContext, tasks: list[str]) -> Mixture:
        """The mixture the run plans its final model with, before mixing: by default the one ``_mix`` chooses, for
        a mixer that trains nothing to choose (``context`` refuses to train); a searching mixer overrides it with a
        stand-in for what its search will find."""
        return self._mix(context, tasks)
