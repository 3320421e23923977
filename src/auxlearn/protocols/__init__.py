"""Transfer protocols (one small module each, behind ``base.Protocol``) and step budgets.

``plan_arm`` turns an experiment into the phases its arm trains; ``auxlearn.experiment.train_experiment`` runs
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from auxlearn.config_schema import Experiment
from auxlearn.errors import AuxlearnError
from auxlearn.protocols.auto import choose
from auxlearn.protocols.base import Arm, Phase, Plan, Protocol
from auxlearn.protocols.budget import plan_budget
from auxlearn.protocols.joint import Joint
from auxlearn.protocols.joint_then_finetune import JointThenFinetune
from auxlearn.protocols.sequential import Sequential
from auxlearn.train.samplers import build_sampler

PROTOCOLS: dict[str, type[Protocol]] = {cls.name: cls for cls in (Joint, Sequential, JointThenFinetune)}


@dataclass(frozen=True)
class ArmPlan:
    protocol: str
    rule: str  # why this protocol (the config's choice, or auto's rule)
    plan: Plan
    phases: list[Phase]

    @property
    def total_steps(self) -> int:
        return sum(p.steps for p in self.phases)


def primary_share(exp: Experiment, sizes: Mapping[str, int]) -> float:
    """The share of steps that train the primary: 1 under a weighting that trains every task at every step, else
    its mean sampling probability over the baseline's steps under the experiment's sampler."""
    if exp.train.weighting.every_task:
        return 1.0
    steps = exp.train.steps
    sampler = build_sampler(exp.train.sampler.name, exp.train.sampler.options, exp.tasks, sizes,
                            total_steps=steps, seed=exp.seed)
    return sum(sampler.probabilities(step)[exp.primary] for step in range(steps)) / steps


def plan_arm(exp: Experiment, sizes: Mapping[str, int]) -> ArmPlan:
    """The phases the experiment's arm trains: the primary alone for ``train.steps`` without auxiliaries, else
    its protocol's phases over the budget's batches."""
    arm = Arm(exp.primary, list(exp.auxiliary), {"name": exp.train.sampler.name, **exp.train.sampler.options},
              exp.train.eval_every, exp.train.patience, exp.transfer.regularization,
              {t: int(sizes[t]) for t in exp.tasks},
              {"name": exp.train.weighting.name, **exp.train.weighting.options}, exp.transfer.finetune_lr)
    steps = exp.train.steps
    share = primary_share(exp, sizes)  # builds the sampler, so its options are checked here too
    if exp.auxiliary and share >= 1 and not exp.train.weighting.every_task:
        raise AuxlearnError(f"train.sampler {exp.train.sampler.name!r} gives the auxiliary tasks {exp.auxiliary} "
                            "no steps, so no budget can be planned for them (the thompson sampler is AutoSeM's "
                            "selection bandit, not a mixing rule)")
    plan = plan_budget(exp.transfer.budget, steps, share)
    if not exp.auxiliary:
        return ArmPlan("single", "the primary alone", plan, [arm.primary_phase(steps)])
    name, rule = exp.transfer.protocol, f"the config asks for {exp.transfer.protocol}"
    if name == "auto" and exp.train.weighting.every_task:
        name = exp.train.weighting.protocol
        rule = f"train.weighting {exp.train.weighting.name!r} trains every task at every step, under {name}"
    elif name == "auto":
        name, rule = choose(arm)
    return ArmPlan(name, rule, plan, PROTOCOLS[name]().phases(arm, plan))


__all__ = ["PROTOCOLS", "Arm", "ArmPlan", "Phase", "Plan", "Protocol", "plan_arm", "plan_budget"]
