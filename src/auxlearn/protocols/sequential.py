"""``sequential``: intermediate-task training (STILTs, Phang et al. 2018), then the primary alone.

Phase 1 trains the auxiliaries alone, at their ratios, for the auxiliary batches of the budget, and keeps its
last weights without a dev evaluation (the primary has no head trained yet, so no dev score can choose a
checkpoint). Phase 2 fine-tunes on the primary with the baseline's recipe from that encoder, optionally pulled
toward it by ``regularization`` * ||theta - theta_phase1||^2 (successive regularisation, JMT/HMTL).
"""

from __future__ import annotations

from typing import Any

from auxlearn.protocols.base import Arm, Phase, Plan, Protocol


def without(sampler: dict[str, Any], task: str) -> dict[str, Any]:
    """The sampler config over the other tasks: a task named in its ``ratios`` is dropped from them."""
    config = dict(sampler)
    if isinstance(config.get("ratios"), dict):
        config["ratios"] = {t: r for t, r in config["ratios"].items() if t != task}
    return config


class Sequential(Protocol):
    name = "sequential"
    summary = "the auxiliary tasks first, then the primary alone: intermediate-task training"
    joint = False
    regularizes = True

    def phases(self, arm: Arm, plan: Plan) -> list[Phase]:
        first, *rest = arm.auxiliary
        intermediate = Phase("auxiliary", first, rest, without(arm.sampler, arm.primary), plan.auxiliary_steps,
                             eval_every=arm.eval_every, patience=None, evaluate=False)  # losses recorded
        return [intermediate, arm.primary_phase(plan.primary_steps, arm.regularization)]
