"""Uncertainty weighting (Kendall et al., CVPR 2018) through TorchJD's ``UW`` scalarizer: every task's loss
weighs ``exp(-s_t) / 2`` plus ``s_t / 2``, with a learned log-variance ``s_t`` per task, so a task whose loss stays
high (noisy, or hard) is down-weighted and the ``s_t`` term keeps the weights from collapsing to 0.

The log-variances are the weighting's own parameters, stepped by their own Adam right after each backward pass
(the model's optimiser knows only the model); they are checkpointed with it. Cost: k scalars and their Adam step.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from pydantic import Field, PositiveFloat
from torchjd.scalarization import UW

from auxlearn.plugins import MethodOptions
from auxlearn.train.weighting_base import Weighting


class Uncertainty(Weighting):
    name = "uncertainty"
    cost = "none beyond training every task at every step: a learned log-variance per task, with its own Adam step"

    class Options(MethodOptions):
        lr: PositiveFloat = Field(0.01, description="learning rate of the log-variances (their own Adam)")

    def __init__(self, tasks, options=None, seed=0):
        super().__init__(tasks, options, seed)
        self.scalarizer = UW(len(self.tasks))
        self.optimizer = torch.optim.Adam(self.scalarizer.parameters(), lr=self.options.lr)

    def combine(self, losses, params):
        values = torch.stack([losses[task] for task in self.tasks])
        self.scalarizer.to(values.device)
        weights = dict(zip(self.tasks, (0.5 * torch.exp(-self.scalarizer.log_var.detach())).tolist()))
        self.optimizer.zero_grad()
        self.scalarizer(values).backward()
        self.optimizer.step()
        return weights

    def describe(self) -> dict[str, Any]:
        log_var = self.scalarizer.log_var.detach().cpu().tolist()
        return {**super().describe(), "log_variances": dict(zip(self.tasks, log_var))}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "scalarizer": self.scalarizer.state_dict(),
                "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.scalarizer.load_state_dict(state["scalarizer"])
        self.optimizer.load_state_dict(state["optimizer"])
