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

    def check(self, exp: Experiment) -> None:
        """Raise an AuxlearnError for options that do not fit the experiment (before anything trains)."""

    def mix(self, stage: Stage, tasks: list[str]) -> Mixture:
        """``tasks``: the primary first, then the selected auxiliaries."""
        mixture = self._mix(stage, tasks)
        mixture.options = self.options.model_dump(mode="json")
        return mixture

    def _mix(self, stage: Stage, tasks: list[str]) -> Mixture:
        raise NotImplementedError
