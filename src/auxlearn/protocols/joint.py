"""``joint``: the primary and its auxiliaries trained together in one run, sampled by the arm's sampler."""

from __future__ import annotations

from auxlearn.protocols.base import Arm, Phase, Plan, Protocol


class Joint(Protocol):
    name = "joint"
    summary = "multi-task training, primary and auxiliary batches mixed throughout"

    def phases(self, arm: Arm, plan: Plan) -> list[Phase]:
        return [arm.joint_phase(plan)]
