"""`random_k`: k candidates drawn at random, seeded by the experiment's seed.

The control every selection method should beat: a selector whose choice gains no more than k random candidates
has learned nothing about the tasks.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, StrictInt

from auxlearn.plugins import MethodOptions
from auxlearn.report_kit.method import SelectionReport
from auxlearn.select.base import Selection, Selector


class _Report(SelectionReport):
    def explain(self, run):
        drawn = ", ".join(run.selected) or "none"
        return (f"A control, not a selection: {len(run.selected)} candidate(s) drawn at random "
                f"(seed {run.selection_details.get('seed', '?')}): {drawn}.")


class RandomKSelector(Selector):
    name = "random_k"
    report = _Report()
    trains = False

    class Options(MethodOptions):
        k: StrictInt = Field(1, ge=0, description="candidates to draw (all of them when there are fewer)")

    def keeps_at_most(self, candidates: int) -> int:
        return min(candidates, self.options.k)

    def _select(self, stage):
        candidates = stage.candidates
        drawn = np.random.default_rng(stage.exp.seed).permutation(len(candidates))[: self.options.k]
        return Selection(self.name, [candidates[i] for i in sorted(drawn)], details={"seed": stage.exp.seed})
