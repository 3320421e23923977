"""An experiment's arm planned: its step budget, the protocol that trains it and why, and that protocol's phases
(``auxlearn.experiment.train_experiment`` runs them).

Budgets: with ``B`` the baseline's steps and ``s`` the primary's share of the mixture (its mean sampling
probability), ``equal_primary`` gives the primary ``B`` batches and the auxiliaries ``B (1 - s) / s``, so auxiliary
batches never displace primary ones; ``equal_total`` gives ``B s`` and ``B (1 - s)``, the baseline's total.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from auxlearn.config_schema import Experiment
from auxlearn.errors import AuxlearnError
from auxlearn.protocols import PROTOCOLS, Arm, Phase, Plan
from auxlearn.train.samplers import build_sampler
from auxlearn.train.weightings import WEIGHTINGS

BUDGETS = ("equal_primary", "equal_total")


def plan_budget(budget: str, baseline_steps: int, primary_share: float) -> Plan:
    """The batches of the primary and of the auxiliaries under ``budget`` (at least one each with auxiliaries)."""
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {BUDGETS}, got {budget!r}")
    if not 0 < primary_share <= 1:
        raise ValueError(f"the primary's share of the mixture must be in (0, 1], got {primary_share}")
    if primary_share == 1:  # no auxiliary task
        return Plan(budget, baseline_steps, primary_share, baseline_steps, 0)
    if budget == "equal_primary":
        primary = baseline_steps
        auxiliary = max(1, round(baseline_steps * (1 - primary_share) / primary_share))
    elif baseline_steps < 2:
        raise ValueError("budget equal_total needs train.steps >= 2 to give the primary and its auxiliaries a batch "
                         "each")
    else:  # at least one batch each, so that every phase of every protocol trains
        auxiliary = min(baseline_steps - 1, max(1, round(baseline_steps * (1 - primary_share))))
        primary = baseline_steps - auxiliary
    return Plan(budget, baseline_steps, primary_share, primary, auxiliary)


@dataclass(frozen=True)
class ArmPlan:
    """What ``train_experiment`` runs and results.json records: the protocol, why, the budget and the phases."""

    protocol: str
    rule: str  # why this protocol (the config's choice, or auto's rule)
    plan: Plan
    phases: list[Phase]

    @property
    def total_steps(self) -> int:
        return sum(p.steps for p in self.phases)


def phase_experiment(exp: Experiment, phase: Phase) -> Experiment:
    """The experiment one phase of ``exp``'s arm trains: its tasks, sampler, steps, evaluations and weighting."""
    return exp.variant(primary=phase.selector, auxiliary=phase.auxiliary, sampler=phase.sampler, steps=phase.steps,
                       eval_every=phase.eval_every, patience=phase.patience, weighting=phase.weighting,
                       **({"lr": phase.lr} if phase.lr is not None else {}))


def phase_folder(index: int, label: str) -> str:
    """The folder (below the arm's) of an earlier phase of the arm; the last phase writes the arm's own."""
    return f"phase{index + 1}_{label}"


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
    name, rule = PROTOCOLS[exp.transfer.protocol]().choose(arm, WEIGHTINGS[exp.train.weighting.name])
    return ArmPlan(name, rule, plan, PROTOCOLS[name]().phases(arm, plan))

