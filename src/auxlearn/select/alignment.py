"""`alignment`: one joint run of the primary with every candidate, sampled uniformly, in which the cosine between
each candidate's gradient and the primary's is measured every few steps (FLAD's gradient-alignment signal:
Albalak et al., NeurIPS 2023; the ``alignment`` loss weighting measures it); the candidates whose gradients align
with the primary's on average are kept. About one baseline run of cost: half the baseline's steps, plus a batch
of every task at each measurement.
"""

from __future__ import annotations

import time
from typing import Optional

from pydantic import Field, StrictInt

from auxlearn.plugins import MethodOptions
from auxlearn.report_kit.method import SelectionReport, listing
from auxlearn.select.base import Selection, Selector
from auxlearn.select.rules import ranked
from auxlearn.stage_cost import StageCost
from auxlearn.train.samplers import build_sampler


class _Report(SelectionReport):
    score_column = "mean gradient cosine with the primary"
    score_meaning = "gradient alignment"

    def explain(self, run):
        details = run.selection_details
        return (f"One joint run of {details.get('steps', '?')} steps measured, {details.get('measurements', '?')} "
                f"times, the cosine of each candidate's gradient with the primary's; kept those above "
                f"{details.get('threshold', 0):g}: "
                f"{listing(run.selected, run.selection_scores, lambda v: f'{v:+.3f}') or 'none'}.")


class AlignmentSelector(Selector):
    name = "alignment"
    report = _Report()

    class Options(MethodOptions):
        steps: Optional[StrictInt] = Field(None, ge=1, description="steps of the joint run; null: half of "
                                                                   "train.steps")
        every: StrictInt = Field(10, ge=1, description="steps between two measurements")
        threshold: float = Field(0.0, allow_inf_nan=False, description="keep candidates whose mean cosine is "
                                                                       "above this")
        top_k: Optional[StrictInt] = Field(1, ge=1, description="keep at most this many, best first")

    def _steps(self, stage) -> int:
        return self.options.steps or max(1, stage.exp.train.steps // 2)

    def _run(self, steps: int) -> dict:
        """The joint run's settings: one evaluation at its end, the alignment measured every ``every`` steps."""
        return {"eval_every": steps, "patience": None, "eval_tasks": [],
                "weighting": {"name": "alignment", "every": self.options.every}}

    def cost(self, context):
        """One joint run of the primary and every candidate, sampled uniformly."""
        steps = self._steps(context)
        return StageCost([context.search("joint", steps=steps, sampler={"name": "uniform"}, **self._run(steps))])

    def _select(self, stage):
        started = time.perf_counter()
        options = self.options
        tasks = [stage.primary, *stage.candidates]
        steps = self._steps(stage)
        sizes = {task: len(stage.prepared.data[task].train) for task in tasks}
        sampler = build_sampler("uniform", {}, tasks, sizes, total_steps=steps, seed=stage.exp.seed)
        results = stage.train_with("joint", sampler, steps=steps, **self._run(steps))
        scores = {task: float(results["weighting"]["alignment"].get(task, 0.0)) for task in stage.candidates}
        kept = [t for t in ranked(scores) if scores[t] > options.threshold][: options.top_k]
        return Selection(self.name, kept, scores=scores,
                         details={"steps": steps, "every": options.every, "threshold": options.threshold,
                                  "measurements": results["weighting"]["measurements"]},
                         seconds=time.perf_counter() - started)
