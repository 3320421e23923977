"""``auto``: joint or sequential by the rule of Weller, Seppi and Gardner (ACL 2022, "When to use multi-task
learning vs intermediate fine-tuning"): across GLUE pairs, multi-task training beat intermediate fine-tuning when
the target task had fewer training examples than the supporting data, and the reverse otherwise. Under a loss
weighting that trains every task at every step, the weighting's own protocol."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auxlearn.protocols.base import Arm, Phase, Plan, Protocol

if TYPE_CHECKING:
    from auxlearn.train.weighting_base import Weighting


class Auto(Protocol):
    name = "auto"
    regularizes = True  # it may choose sequential

    def choose(self, arm: Arm, weighting: type[Weighting]) -> tuple[str, str]:
        if weighting.every_task:
            return weighting.protocol, (f"train.weighting {weighting.name!r} trains every task at every step, under "
                                        f"{weighting.protocol}")
        primary = arm.sizes[arm.primary]
        auxiliary = sum(arm.sizes[t] for t in arm.auxiliary)
        if primary < auxiliary:
            return "joint", (f"auto chose joint: the primary has fewer training examples ({primary:,}) than its "
                             f"auxiliary tasks together ({auxiliary:,}); Weller et al. (2022) found multi-task "
                             "training better than intermediate fine-tuning then")
        return "sequential", (f"auto chose sequential: the primary has at least as many training examples "
                              f"({primary:,}) as its auxiliary tasks together ({auxiliary:,}); Weller et al. (2022) "
                              "found intermediate fine-tuning better than multi-task training then")

    def phases(self, arm: Arm, plan: Plan) -> list[Phase]:
        raise NotImplementedError("auto trains no phase of its own: it chooses the protocol that does")
