"""Jacobian descent over the tasks' losses through TorchJD: each task's gradient of every trained parameter, one
row per task, and an aggregator that turns the rows into one update that conflicts with none of them (UPGrad,
DualProj), projects conflicts away (PCGrad), or finds the minimum-norm point of their hull (MGDA), ...

Cost: the Jacobian holds one gradient per task (k x the model's parameters in memory), and the aggregation solves a
small quadratic program over the k x k Gramian each step; the backward passes are those of the k losses. One
optimiser for all tasks (``train.optimizer: shared``). TorchJD's CAGrad and Nash-MTL are left out: they need
cvxpy, a convex-optimisation stack of its own.
"""

from __future__ import annotations

from typing import ClassVar

from torchjd import aggregation
from torchjd.autojac import backward, jac_to_grad

from auxlearn.train.weighting_base import Weighting

_COST = "a k-row Jacobian of the trained parameters in memory and a k x k quadratic program per step"


class JacobianWeighting(Weighting):
    """Subclasses name TorchJD's aggregator class."""

    cost: ClassVar[str] = _COST
    aggregator: ClassVar[type[aggregation.Aggregator]]

    def combine(self, losses, params):
        tasks = list(losses)
        backward([losses[task] for task in tasks], inputs=params)
        weights = jac_to_grad(params, self.aggregator())
        return {} if weights is None else dict(zip(tasks, map(float, weights)))


# name -> TorchJD aggregator: UPGrad and DualProj project the rows onto their dual cone (no task's gradient
# conflicts with the update), PCGrad projects each row's conflicts with the others out (Yu et al. 2020), MGDA takes
# the minimum-norm point of their hull (Sener & Koltun 2018), IMTL-G and Aligned-MTL balance them.
AGGREGATORS: dict[str, type[aggregation.Aggregator]] = {
    "upgrad": aggregation.UPGrad, "dualproj": aggregation.DualProj, "pcgrad": aggregation.PCGrad,
    "mgda": aggregation.MGDA, "imtlg": aggregation.IMTLG, "aligned_mtl": aggregation.AlignedMTL,
}

JACOBIAN_WEIGHTINGS: list[type[JacobianWeighting]] = [
    type(f"{cls.__name__}Weighting", (JacobianWeighting,), {"name": name, "aggregator": cls, "__module__": __name__})
    for name, cls in AGGREGATORS.items()
]
