"""Transfer protocols: how an arm's budget of batches is split into training phases. One module per protocol
behind ``Protocol`` (base.py); the registry is below, and the config validates ``transfer.protocol`` against it.
``auxlearn.arm_plan.plan_arm`` turns an experiment into its arm's phases.
"""

from __future__ import annotations

from auxlearn.protocols.auto import Auto
from auxlearn.protocols.base import Arm, Phase, Plan, Protocol
from auxlearn.protocols.joint import Joint
from auxlearn.protocols.joint_then_finetune import JointThenFinetune
from auxlearn.protocols.sequential import Sequential

PROTOCOLS: dict[str, type[Protocol]] = {cls.name: cls for cls in (Joint, Sequential, JointThenFinetune, Auto)}

__all__ = ["PROTOCOLS", "Arm", "Phase", "Plan", "Protocol"]
