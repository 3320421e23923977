"""The one interface every loss weighting implements: how one optimisation step's update is made from losses.

The trainer asks a weighting which tasks train at a step (the sampler's task alone, or every task) and how many
rows of its batch each takes, computes each one's loss on its own batch, and hands them to ``backward``, which
leaves the update in the parameters' ``.grad``. Before training it hands every weighting a ``StepContext`` (the
model, the primary's dev split, ...), which a weighting that learns from dev reads. The trainer never names a
weighting. ``describe`` goes into results.json with the mean weight each task got.

It stands outside the family's package (``train/weightings/``), so that a method kept elsewhere (AANG's, in
``auxlearn/aang/``) subclasses it without importing the registry, which imports that very method.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping, Optional, Sequence

import torch

from auxlearn.plugins import MethodOptions, Plugin


@dataclass
class StepContext:
    """What the trainer lends its weighting: the model being trained, the primary task, the step's batch size and
    gradient accumulation, ``dev_batches(size, seed)``: endless batches of the primary's dev split (an
    ``EndlessBatches``, checkpointable), the training device and ``autocast()``: the training's number format."""

    model: Any  # MultiTaskModel
    primary: str
    batch_size: int
    grad_accum: int
    dev_batches: Callable[[int, int], Any]
    device: torch.device
    autocast: Callable[[], AbstractContextManager]


class Weighting(Plugin):
    """Subclasses set ``name``, ``every_task`` and ``cost``, and implement ``combine``."""

    every_task: ClassVar[bool] = True  # every task trains at every step (False: the sampler's task alone)
    cost: ClassVar[str]  # what a step costs beyond one forward and backward pass per task trained
    # The protocol ``transfer.protocol: auto`` trains an arm in under a weighting that trains every task.
    protocol: ClassVar[str] = "joint"

    def __init__(self, tasks: Sequence[str], options: Optional[MethodOptions] = None, seed: int = 0):
        """``tasks``: the primary first; ``seed``: of whatever the weighting draws."""
        super().__init__(options)
        self.tasks, self.seed = list(tasks), seed
        self.weight_sums = {task: 0.0 for task in self.tasks}
        self.steps = 0
        self.context: Optional[StepContext] = None
        self.last_weights: dict[str, float] = {}  # of the last backward pass

    def attach(self, context: StepContext) -> None:
        """Called once by the trainer before the first step; a subclass that extends it calls it too."""
        self.context = context

    def tasks_of_step(self, sampled: str) -> list[str]:
        """The tasks that train at a step whose sampler drew ``sampled``."""
        return list(self.tasks) if self.every_task else [sampled]

    def rows(self, task: str) -> Optional[int]:
        """How many rows of its next batch ``task`` trains on at this step; None: all of them."""
        return None

    def backward(self, losses: Mapping[str, torch.Tensor], params: Sequence[torch.nn.Parameter]) -> dict[str, float]:
        """Accumulate the step's update into ``params``' gradients; the weight each task's loss got."""
        weights = self.combine(losses, params)
        for task, weight in weights.items():
            self.weight_sums[task] += weight
        self.steps += 1
        self.last_weights = dict(weights)
        return weights

    def combine(self, losses: Mapping[str, torch.Tensor], params: Sequence[torch.nn.Parameter]) -> dict[str, float]:
        raise NotImplementedError

    def scalars(self) -> dict[str, float]:
        """What a tracker plots of the weighting after a step: the weight each task's loss got (``weight/<task>``);
        a weighting that learns more adds it."""
        return {f"weight/{task}": weight for task, weight in self.last_weights.items()}

    def describe(self) -> dict[str, Any]:
        mean = {t: s / self.steps for t, s in self.weight_sums.items()} if self.steps else {}
        return {"name": self.name, **self.options.model_dump(), "mean_weights": mean, "cost": self.cost}

    def state_dict(self) -> dict[str, Any]:
        return {"weight_sums": dict(self.weight_sums), "steps": self.steps}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.weight_sums, self.steps = dict(state["weight_sums"]), int(state["steps"])
