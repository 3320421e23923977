"""``joint_then_finetune`` (MT-DNN, Liu et al. 2019; AANG's final phase): joint training, then the primary alone
from the best joint checkpoint (encoder and the primary's head), with the baseline's recipe scaled to the budget's
primary batches, at ``transfer.finetune_lr``. The joint checkpoint is scored first and kept unless fine-tuning
improves dev on it.

The primary sees its batches twice (in the joint phase and alone), so this arm always trains longer than the
baseline and the run adds the control arm (the primary alone for as many steps)."""

from __future__ import annotations

from auxlearn.protocols.base import Arm, Phase, Plan, Protocol


class JointThenFinetune(Protocol):
    name = "joint_then_finetune"
    summary = "joint training, then the primary alone from the best joint checkpoint"

    def phases(self, arm: Arm, plan: Plan) -> list[Phase]:
        return [arm.joint_phase(plan), arm.finetune_phase(plan.primary_steps)]
