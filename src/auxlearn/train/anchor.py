"""Successive regularisation (JMT, Hashimoto et al. 2017, as HMTL, Sanh et al. 2019, describes it): while a later
phase trains, the loss gains ``delta * ||theta - theta_previous||^2`` over the encoder's parameters, pulling them
toward the weights the previous phase ended with so that what it learned is not simply overwritten.

The penalty's gradient, ``2 delta (theta - theta_previous)``, is added to each parameter's gradient before
clipping, which is the same as adding the penalty to the loss without a second pass over 22 M parameters.
"""

from __future__ import annotations

import torch
from torch import nn


class Anchor:
    def __init__(self, module: nn.Module, delta: float):
        if delta < 0:
            raise ValueError(f"the regularisation weight must be >= 0, got {delta}")
        self.delta = float(delta)
        self.pairs = [(p, p.detach().clone()) for p in module.parameters() if p.requires_grad]

    @torch.no_grad()
    def penalty(self) -> float:
        """``delta * ||theta - theta_previous||^2``, for the record."""
        return self.delta * float(sum(((p - ref) ** 2).sum() for p, ref in self.pairs))

    @torch.no_grad()
    def add_gradient(self) -> None:
        for param, ref in self.pairs:
            if param.grad is None:
                param.grad = torch.zeros_like(param)
            param.grad.add_(param - ref, alpha=2 * self.delta)
