"""The selector interface: which auxiliary tasks to keep for the primary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from auxlearn.plugins import Plugin
from auxlearn.report_kit.method import SelectionReport

if TYPE_CHECKING:  # the stage brings the training code, which a selector's options and report do not need
    from auxlearn.stage import Stage
    from auxlearn.stage_cost import PlanContext, StageCost


@dataclass
class Selection:
    """The kept auxiliaries (best first), the score each candidate got, and method-specific evidence.

    ``instances`` (instance-level selection, GradTS-fg) maps a kept auxiliary to the example ids of its
    train split to keep; the mix and final stages train on those examples only. ``options``: the selector's
    validated options, defaults included.
    """

    method: str
    selected: list[str]
    scores: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    instances: dict[str, list[int]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Selector(Plugin):
    """Subclasses set ``name``, ``Options`` and ``report`` (what the report shows of their selection), and
    implement ``_select``; the candidates are ``stage.candidates``, and only their train and dev splits may be read."""

    report: ClassVar[SelectionReport] = SelectionReport()
    # Whether choosing trains a model. One that does not (a rule, a draw, embeddings, an atlas) is run when the run
    # is planned, so that the plan shows its choice and prices the later stages for it (run_plan.py).
    trains: ClassVar[bool] = True

    def select(self, stage: Stage) -> Selection:
        selection = self._select(stage)
        selection.options = self.options.model_dump(mode="json")
        return selection

    def _select(self, stage: Stage) -> Selection:
        raise NotImplementedError

    def cost(self, context: PlanContext) -> StageCost:
        """What the selection will train, said before it trains (the run's plan prices it); by default nothing, as
        for a rule or a draw. A method that trains, or embeds, says so here."""
        from auxlearn.stage_cost import StageCost

        return StageCost()

    def keeps_at_most(self, candidates: int) -> int:
        """The most of ``candidates`` it can keep: the run plans the mixing and the final model for that worst
        case, since the selection decides what they train. By default all of them, or at most an option ``top_k``
        (a method whose ``top_k`` does not always cap, or whose cap is another option, overrides this)."""
        top_k = getattr(self.options, "top_k", None)
        return min(candidates, top_k or candidates)
