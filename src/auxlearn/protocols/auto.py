"""``auto``: joint or sequential by the rule of Weller, Seppi and Gardner (ACL 2022, "When to use multi-task
learning vs intermediate fine-tuning"): across GLUE pairs, multi-task training beat intermediate fine-tuning when
the target task had fewer training examples than the supporting data, and the reverse otherwise."""

from __future__ import annotations

from auxlearn.protocols.base import Arm


def choose(arm: Arm) -> tuple[str, str]:
    """The protocol ``auto`` picks for ``arm`` and the sentence that says why."""
    primary = arm.sizes[arm.primary]
    auxiliary = sum(arm.sizes[t] for t in arm.auxiliary)
    if primary < auxiliary:
        return "joint", (f"auto chose joint: the primary has fewer training examples ({primary:,}) than its "
                         f"auxiliary tasks together ({auxiliary:,}); Weller et al. (2022) found multi-task training "
                         "better than intermediate fine-tuning then")
    return "sequential", (f"auto chose sequential: the primary has at least as many training examples ({primary:,}) "
                          f"as its auxiliary tasks together ({auxiliary:,}); Weller et al. (2022) found "
                          "intermediate fine-tuning better than multi-task training then")
