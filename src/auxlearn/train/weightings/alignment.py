"""Gradient alignment, measured while a joint model trains: every ``every``-th step each task trains on its own
batch, and the cosine between each auxiliary task's gradient and the primary's, over the parameters they share
(the encoder), is recorded; the other steps train the sampler's task alone.

The signal of FLAD's exploitation arm (Albalak et al., NeurIPS 2023: an auxiliary dataset whose gradient aligns
with the target's helps it); the ``alignment`` selector reads its mean per task. A measured step sums the tasks'
losses, so every task it measured also trained.
"""

from __future__ import annotations

import torch
from pydantic import Field, StrictInt

from auxlearn.plugins import MethodOptions
from auxlearn.train.weighting_base import Weighting


class Alignment(Weighting):
    name = "alignment"
    every_task = False
    cost = "every `every` steps: a batch, a forward and a backward pass per task, and their gradients held"

    class Options(MethodOptions):
        every: StrictInt = Field(10, ge=1, description="steps between two measurements")

    def __init__(self, tasks, options=None, seed: int = 0):
        super().__init__(tasks, options, seed)
        self.asked = 0  # steps the trainer asked about: which of them measure
        self.cosine_sums = {task: 0.0 for task in self.tasks[1:]}
        self.measurements = 0

    def tasks_of_step(self, sampled: str) -> list[str]:
        self.asked += 1
        return list(self.tasks) if self.asked % self.options.every == 0 else [sampled]

    def combine(self, losses, params):
        if len(losses) == 1:
            (task, loss), = losses.items()
            loss.backward()
            return {task: 1.0}
        grads = {task: torch.autograd.grad(loss, params, allow_unused=True) for task, loss in losses.items()}
        primary = grads[self.tasks[0]]
        for task in self.tasks[1:]:
            shared = [(a, b) for a, b in zip(primary, grads[task]) if a is not None and b is not None]
            dot = sum(float((a.float() * b.float()).sum()) for a, b in shared)
            norms = [sum(float(g.float().pow(2).sum()) for g in side) ** 0.5 for side in zip(*shared)]
            self.cosine_sums[task] += dot / max(norms[0] * norms[1], 1e-12) if shared else 0.0
        self.measurements += 1
        for task_grads in grads.values():
            for param, grad in zip(params, task_grads):
                if grad is not None:
                    param.grad = grad if param.grad is None else param.grad + grad
        return {task: 1.0 for task in losses}

    def alignment(self) -> dict[str, float]:
        return {t: s / self.measurements for t, s in self.cosine_sums.items()} if self.measurements else {}

    def scalars(self):
        return {**super().scalars(), **{f"alignment/{task}": c for task, c in self.alignment().items()}}

    def describe(self):
        return {**super().describe(), "alignment": self.alignment(), "measurements": self.measurements}

    def state_dict(self):
        return {**super().state_dict(), "asked": self.asked, "cosine_sums": dict(self.cosine_sums),
                "measurements": self.measurements}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.asked, self.measurements = int(state["asked"]), int(state["measurements"])
        self.cosine_sums = dict(state["cosine_sums"])
