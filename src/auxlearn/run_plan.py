"""The plan of `auxlearn run`, said before anything trains: each stage's trainings and their steps, and the wall
time they should take on this machine (``step_timing.py``'s timings times the planned work).

Each selector and mixer says what it trains (``cost``); the pipeline never asks which method it runs. The
selection decides what the mixing and the final model train: a selector that trains nothing is run now and they are
planned for its choice; otherwise for its worst case, as many candidates as it can keep, the ones that cost most.
Steps are an upper bound: early stopping can end any training sooner. The plan goes into results.json (``plan``)
beside the real seconds.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from auxlearn.atlas.table import has_control
from auxlearn.config import Experiment
from auxlearn.experiment import Prepared
from auxlearn.mix import Mixer, Mixture, build_mixer
from auxlearn.report_kit.blocks import format_seconds
from auxlearn.select import Selector, build_selector
from auxlearn.stage import Stage
from auxlearn.stage_cost import WORK, PlanContext, Timing, Training
from auxlearn.step_timing import machine_timing
from auxlearn.train_length import training_examples

STAGES = ("baseline", "select", "mix", "final", "control")


@dataclass
class StagePlan:
    """One stage: what it trains in words, its trainings, what they assume, and its estimate once priced."""

    what: str
    trainings: list[Training] = field(default_factory=list)
    note: str = ""
    seconds: Optional[float] = None

    @property
    def steps(self) -> int:
        return sum(t.steps for t in self.trainings)

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "note": self.note, "steps": self.steps, "estimated_seconds": self.seconds,
                "trainings": [t.to_json() for t in self.trainings]}


@dataclass
class RunPlan:
    stages: dict[str, StagePlan]
    seeds: list[int]
    patience: Optional[int]
    measured: dict[str, Any] = field(default_factory=dict)

    def price(self, timing: Timing, measured: dict[str, Any]) -> "RunPlan":
        for stage in self.stages.values():
            stage.seconds = sum(t.seconds(timing) for t in stage.trainings)
        self.measured = {"timing": vars(timing), **measured}
        return self

    @property
    def seconds(self) -> Optional[float]:
        if any(stage.seconds is None for stage in self.stages.values()):
            return None
        return sum(stage.seconds for stage in self.stages.values())

    def to_json(self) -> dict[str, Any]:
        estimated = {name: stage.seconds for name, stage in self.stages.items()}
        return {"stages": {name: stage.to_json() for name, stage in self.stages.items()},
                "estimated_seconds": {**estimated, "total": self.seconds}, "warm_up": self.measured}


def plan_run(exp: Experiment, prepared: Prepared, baseline_from: Optional[str | Path] = None) -> RunPlan:
    """Every stage's trainings, unpriced; ``baseline_from``: the baseline is reused from there."""
    context = PlanContext(exp, prepared)
    selector = build_selector(exp.select.method, exp.select.options)
    mixer = build_mixer(exp.mix.method, exp.mix.options)
    seeds = exp.run_seeds
    alone = {"auxiliary": [], "sampler": {"name": "uniform"}, "scored": True}
    extended = (f"trained again with up to {exp.baseline.cap(exp.train.steps):,} steps, and every later "
                "stage with them, while it still improves on dev" if exp.baseline.converge else "")
    baseline = (StagePlan(f"reused from {baseline_from}") if baseline_from is not None else
                StagePlan(f"{exp.primary} alone, {_epochs(exp, prepared)}",
                          [context.arm(f"seed_{s}", seed=s, **alone) for s in seeds], extended))
    cost = selector.cost(context)
    stages = {"baseline": baseline, "select": StagePlan(exp.select.method + _listing(cost.trainings), cost.trainings,
                                                        cost.note)}
    if selector.trains:
        kept = worst_case(context, mixer, selector.keeps_at_most(len(exp.auxiliary)))
    else:
        kept = previewed_selection(selector, exp, prepared)
        stages["select"].note = "; ".join(filter(None, [stages["select"].note, f"keeps {', '.join(kept) or 'none'}: "
                                                                               "run now, as it trains nothing"]))
    if not kept and not mixer.generates:
        stages["final"] = StagePlan("the baseline (the selection keeps no task)")
        return RunPlan(stages, seeds, exp.train.patience)
    cost = mixer.cost(context, [exp.primary, *kept])
    stages["mix"] = StagePlan(exp.mix.method + _listing(cost.trainings), cost.trainings, cost.note)
    stages["final"] = final = _final(context, mixer, [exp.primary, *kept])
    if exp.auxiliary and selector.trains:
        worst = ("every candidate" if len(kept) >= len(exp.auxiliary) else
                 f"the {len(kept)} costliest of {len(exp.auxiliary)} candidates")
        final.note = "; ".join(filter(None, [f"planned with {worst} kept, the most the selection can keep",
                                             final.note]))
    steps = final.trainings[-1].steps
    if needs_control(exp, steps):
        stages["control"] = StagePlan(f"{exp.primary} alone for the final model's steps", [
            context.arm(f"seed_{s}", seed=s, steps=steps, **alone) for s in seeds])
    return RunPlan(stages, seeds, exp.train.patience)


def _epochs(exp: Experiment, prepared: Prepared) -> str:
    """The baseline's length in passes over the primary's training split: 1,000 steps of 32 is 107 epochs of 300
    examples, which a user setting only the data should see before the run trains them."""
    examples, batch = training_examples(exp, prepared), exp.train.batch_size * exp.train.grad_accum
    return (f"{exp.train.steps:,} steps of {batch} = {exp.train.steps * batch / max(1, examples):.3g} epochs of its "
            f"{examples:,} training examples")


def _listing(trainings: list[Training]) -> str:
    """The trainings by name, one name per trial whatever its seeds: ": alone ×3, pair_mnli ×3"."""
    counts = Counter(t.label.split("/seed_")[0] for t in trainings)
    names = [f"{name} ×{n}" if n > 1 else name for name, n in counts.items()]
    return "" if not names else ": " + ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def needs_control(exp: Experiment, final_steps: int) -> bool:
    """A final model that trains longer than the baseline gets a control as long (the primary alone), so that a gain
    of longer training is never credited to the auxiliary tasks: the atlas's rule for its pairs."""
    return has_control(final_steps, exp.train.steps)


def _final_arm(context: PlanContext, mixture: Mixture, name: str, **seeded: Any) -> Training:
    """The final model under ``mixture``, as the pipeline trains it."""
    auxiliary = [t for t in mixture.tasks if t != context.primary]
    return context.arm(name, auxiliary=auxiliary, sampler=mixture.sampler, **seeded, **mixture.train)


def _final(context: PlanContext, mixer: Mixer, tasks: list[str]) -> StagePlan:
    """The final model on every seed, under the mixture the mixer plans for ``tasks``."""
    exp = context.exp
    mixture = mixer.planned_mixture(context, tasks)
    auxiliary = [t for t in mixture.tasks if t != exp.primary]
    final = [_final_arm(context, mixture, f"seed_{s}", seed=s, scored=True) for s in exp.run_seeds]
    phases = ", then ".join(f"{p['label']} {p['steps']:,}" for p in final[-1].phases)
    named = ", ".join(auxiliary) if len(auxiliary) <= 4 else f"{', '.join(auxiliary[:3])} and {len(auxiliary) - 3} more"
    return StagePlan(f"{exp.primary} + {named}: {phases} steps", final,
                     mixture.details.get("planned", ""))


def previewed_selection(selector: Selector, exp: Experiment, prepared: Prepared) -> list[str]:
    """What a selector that trains nothing keeps, run while the run is planned: the later stages are then planned
    for its choice, not the worst case, and a dry run shows it. It is deterministic (a draw is seeded, embeddings
    are cached), so the run keeps the same."""
    with tempfile.TemporaryDirectory(prefix="auxlearn-plan-") as folder:
        return selector.select(Stage(exp, prepared, Path(folder))).selected


def worst_case(context: PlanContext, mixer: Mixer, most: int) -> list[str]:
    """The candidates the later stages are planned with: ``most`` of them (as many as the selector can keep),
    chosen one by one for the work they add to the mixing and the final model (all of them when it can keep all)."""
    candidates = context.candidates
    if most >= len(candidates):
        return list(candidates)
    kept: list[str] = []
    while len(kept) < most:
        kept.append(max((c for c in candidates if c not in kept), key=lambda c: _work(context, mixer, [*kept, c])))
    return [c for c in candidates if c in kept]


def _work(context: PlanContext, mixer: Mixer, kept: list[str]) -> float:
    tasks = [context.primary, *kept]
    final = _final_arm(context, mixer.planned_mixture(context, tasks), "final")
    return sum(t.seconds(WORK) for t in [*mixer.cost(context, tasks).trainings, final])


def priced_plan(exp: Experiment, prepared: Prepared, baseline_from: Optional[str | Path] = None) -> RunPlan:
    """The plan, priced with this machine's timings (a warm-up, or the cache)."""
    plan = plan_run(exp, prepared, baseline_from)
    return plan.price(*machine_timing(exp, prepared))


def format_plan(plan: RunPlan) -> str:
    """The plan as `auxlearn run` prints it first: a line per stage, the total, and what the estimate rests on."""
    lines = [f"plan: {len(plan.seeds)} seed(s) {plan.seeds}; every training's steps are an upper bound",
             f"  {'stage':<9}{'trainings':>10}{'steps each':>14}{'steps':>9}{'estimate':>11}   what"]
    for name, stage in plan.stages.items():
        each = sorted({t.steps for t in stage.trainings if t.steps})
        span = "–" if not each else f"{each[0]:,}" + (f"-{each[-1]:,}" if len(each) > 1 else "")
        estimate = "?" if stage.seconds is None else format_seconds(stage.seconds)
        lines.append(f"  {name:<9}{len(stage.trainings):>10}{span:>14}{stage.steps:>9,}{estimate:>11}   {stage.what}"
                     + (f" ({stage.note})" if stage.note else ""))
    total = sum(s.steps for s in plan.stages.values())
    lines.append(f"  {'total':<9}{'':>10}{'':>14}{total:>9,}{format_seconds(plan.seconds or 0):>11}")
    lines.append(_basis(plan))
    return "\n".join(lines)


def _basis(plan: RunPlan) -> str:
    """What the estimate rests on, and how far to trust it."""
    measured, timing = plan.measured, plan.measured.get("timing", {})
    where = (f"timings cached from a warm-up on {measured.get('when', '?')}" if measured.get("cached") else
             f"a {measured.get('seconds', 0):.1f} s warm-up of {measured.get('steps', 0)} steps")
    stopping = (f"; early stopping (patience {plan.patience}) can end any training sooner, so it is an upper bound"
                if plan.patience else "")
    return (f"estimate: {where} on this machine ({measured.get('cpu', '?')}, {measured.get('precision', '?')}): "
            f"{timing.get('setup', 0):.2f} s to set up a training, {timing.get('step', 0) * 1e3:.1f} ms per step "
            f"+ {timing.get('train_token', 0) * 1e6:.2f} µs per padded token trained, "
            f"{timing.get('eval_token', 0) * 1e6:.2f} µs per token evaluated; data preparation and the report "
            f"come on top{stopping}")
