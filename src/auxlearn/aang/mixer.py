"""AANG as a mixer (Dery et al., ICLR 2023): the final model trains the primary with objectives generated from a
search space over its own text (and the kept auxiliary tasks), weighted by ``aang`` (learned from the dev
gradient) or ``aang_static`` (fixed, uniform: the paper's static multi-task baseline).

No trials: the weights are learned while the final model trains, and the report reads them from its results.
The space is a preset name (``PRESETS`` in ``objectives/space.py``) or the factor values themselves. The kept
auxiliary tasks train as they are, beside the objectives; a kept task named among the space's inputs also gives
its text (and, named among the outputs, its labels) to the generated objectives. The mixer generates its own auxiliary
objectives, so a run trains the final model even when the selection kept no task.
"""

from __future__ import annotations

from typing import Any, ClassVar, Union

from pydantic import Field, ValidationError, field_validator

from auxlearn.aang.factors import FactorLogits, objective_of
from auxlearn.aang.mixer_report import AangReport
from auxlearn.aang.objectives.space import DENOISE, OWN_TEXT, PRESETS, SearchSpace, enumerate_space
from auxlearn.aang.weighting import Aang, AangStatic
from auxlearn.errors import AuxlearnError, format_validation_error
from auxlearn.mixer_base import Mixer, Mixture
from auxlearn.plugins import MethodOptions
from auxlearn.train.weighting_base import Weighting


class SpaceOption(MethodOptions):
    space: Union[str, SearchSpace] = Field("vbasic", description="a preset's name "
                                           f"({', '.join(PRESETS)}) or inputs, transforms, attentions, outputs")

    @field_validator("space", mode="before")
    @classmethod
    def _preset_or_space(cls, value: Any) -> Union[str, SearchSpace]:
        """One error at ``space`` (a union would report one per member)."""
        if isinstance(value, str):
            if value not in PRESETS:
                raise ValueError(f"unknown search space {value!r}; presets: {', '.join(PRESETS)}")
            return value
        if isinstance(value, (dict, SearchSpace)):
            try:
                return SearchSpace.model_validate(value)
            except ValidationError as error:
                raise ValueError(format_validation_error(error)) from None
        raise ValueError("a preset's name or a mapping of inputs, transforms, attentions and outputs")

    def search_space(self) -> SearchSpace:
        return PRESETS[self.space] if isinstance(self.space, str) else self.space


class _ObjectiveMixer(Mixer):
    generates = True
    report = AangReport()
    weighting: ClassVar[type[Weighting]]

    def predicts_tokens(self) -> bool:
        return DENOISE in self.options.search_space().outputs

    def check(self, exp) -> None:
        space = self.options.search_space()
        stray = sorted(set(space.inputs + space.outputs) - {OWN_TEXT, DENOISE, *exp.auxiliary})
        if stray:
            raise AuxlearnError(f"mix.space names {', '.join(map(repr, stray))}: an input or output of the space is "
                                f"'{OWN_TEXT}' (the primary), 'denoise', or one of the auxiliary tasks "
                                f"({', '.join(exp.auxiliary) or 'none listed'})")

    def _mix(self, stage, tasks):
        primary, kept = tasks[0], tasks[1:]
        data = stage.prepared.data
        supervised = frozenset(t for t in kept if data[t].spec.task_type.labelled)
        legal, illegal = enumerate_space(self.options.search_space(), primary, supervised)
        legal = [o for o in legal if o.input in (primary, *kept)]  # a task the selection dropped gives no text
        auxiliary = [*kept, *(o.name for o in legal)]
        if not auxiliary:
            raise AuxlearnError("mix: the search space has no legal objective and no auxiliary task was kept")
        options = self.options.model_dump(mode="json", exclude={"space"})
        logits = FactorLogits({task: objective_of(task) for task in auxiliary})  # the weights a search starts from
        split, shares = logits.lambdas(), logits.objective_weights()
        ratios = {primary: split[0], **{t: split[1] * shares[t] for t in auxiliary}}
        details = {"objectives": [o.name for o in legal], "illegal": {o.name: r for o, r in illegal.items()},
                   "space": self.options.search_space().model_dump(mode="json")}
        return Mixture(self.name, {"name": "uniform"}, ratios, details,
                       train={"weighting": {"name": self.weighting.name, **options}})


class AangMixer(_ObjectiveMixer):
    name = "aang"
    weighting = Aang

    class Options(Aang.Options, SpaceOption):
        pass


class AangStaticMixer(_ObjectiveMixer):
    name = "aang_static"
    weighting = AangStatic

    class Options(AangStatic.Options, SpaceOption):
        pass

