"""AANG's mixture of objectives with fixed weights (``aang_static``, the paper's static multi-task baseline), and
the factored weights that ``aang`` (aang.py) learns (Dery et al., ICLR 2023).

Every non-primary task is an objective (I, T, R, O): an objective's task (``input/transform/attention/output``),
or a plain auxiliary task X, which is (X, none, bidirectional, X). Each step trains the primary and ``sampled``
objectives drawn uniformly without replacement. The auxiliary batch (``train.batch_size`` rows) is shared among
them hierarchically: over their attention patterns R by the softmax of R's logits, within a pattern over their
inputs I, within those over their transforms T (ceilings; objectives that differ only in O share a row count).
The primary's loss weighs ``lambda_prim`` and objective c's ``lambda_aux * rows_c / B * pi_c``, with
``(lambda_prim, lambda_aux) = softmax(w_prim, w_aux)`` and ``pi = softmax over the sampled objectives of
w_all[c] + w_O[c_O]``. All logits start at 0 (uniform); here they stay there. Under ``transfer.protocol:
auto`` the arm then fine-tunes the primary alone (``joint_then_finetune``, AANG's final phase).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import torch
from pydantic import Field, PositiveInt

from auxlearn.objectives.space import Objective
from auxlearn.plugins import MethodOptions
from auxlearn.train.weightings.base import Weighting

FACTORS = ("input", "transform", "attention", "output")
ALLOCATED = ("attention", "input", "transform")  # the order the auxiliary batch is shared out in


def objective_of(task: str) -> Objective:
    """The objective a task trains: its name's four factors, or a plain task X as (X, none, bidirectional, X)."""
    return Objective.parse(task) or Objective(task, "none", "bidirectional", task)


def softmax(values: Sequence[float]) -> list[float]:
    return torch.softmax(torch.tensor(values, dtype=torch.float64), 0).tolist()


class FactorLogits:
    """The weighting model's parameters: a logit per value of each factor, one per objective (the full table),
    and the primary/auxiliary pair. Plain floats: they are updated by hand-derived rules, not by autograd."""

    def __init__(self, objectives: Mapping[str, Objective]):
        self.objectives = dict(objectives)
        self.factor = {f: {v: 0.0 for v in sorted({getattr(o, f) for o in self.objectives.values()})}
                       for f in FACTORS}
        self.table = {task: 0.0 for task in self.objectives}
        self.split = {"primary": 0.0, "auxiliary": 0.0}

    def pi(self, chosen: Sequence[str]) -> dict[str, float]:
        """The sampled objectives' share of the auxiliary weight: softmax of w_all[c] + w_O[c_O]."""
        scores = [self.table[c] + self.factor["output"][self.objectives[c].output] for c in chosen]
        return dict(zip(chosen, softmax(scores)))

    def lambdas(self) -> tuple[float, float]:
        primary, auxiliary = softmax([self.split["primary"], self.split["auxiliary"]])
        return primary, auxiliary

    def restricted(self, factor: str, values: Sequence[str]) -> dict[str, float]:
        """Softmax of ``factor``'s logits over ``values`` alone."""
        values = sorted(set(values))
        return dict(zip(values, softmax([self.factor[factor][v] for v in values])))

    def objective_weights(self) -> dict[str, float]:
        """Each objective's probability under the factored model over all objectives:
        softmax of w_I + w_T + w_R + w_O + w_all."""
        scores = [sum(self.factor[f][getattr(o, f)] for f in FACTORS) + self.table[task]
                  for task, o in self.objectives.items()]
        return dict(zip(self.objectives, softmax(scores)))

    def factor_weights(self) -> dict[str, dict[str, float]]:
        return {f: dict(zip(values, softmax(list(values.values())))) for f, values in self.factor.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"factor": {f: dict(v) for f, v in self.factor.items()}, "table": dict(self.table),
                "split": dict(self.split)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.factor = {f: dict(v) for f, v in state["factor"].items()}
        self.table, self.split = dict(state["table"]), dict(state["split"])


def allocate(logits: FactorLogits, chosen: Sequence[str], batch_size: int) -> dict[str, int]:
    """Rows of the auxiliary batch per sampled objective: shared over R, then I, then T by their softmaxes."""
    rows: dict[str, int] = {}

    def share(group: list[str], depth: int, budget: float) -> None:
        if depth == len(ALLOCATED):
            for task in group:
                rows[task] = max(1, min(batch_size, math.ceil(budget)))
            return
        factor = ALLOCATED[depth]
        values = [getattr(logits.objectives[c], factor) for c in group]
        for value, probability in logits.restricted(factor, values).items():
            share([c for c, v in zip(group, values) if v == value], depth + 1, math.ceil(budget * probability))

    share(list(chosen), 0, batch_size)
    return rows


class AangStatic(Weighting):
    name = "aang_static"
    cost = "none beyond training the primary and the sampled objectives at every step"
    protocol = "joint_then_finetune"  # AANG fine-tunes the primary alone from the best checkpoint, at a low rate

    class Options(MethodOptions):
        sampled: PositiveInt = Field(3, description="objectives trained per step beside the primary (AANG's "
                                                    "n_conf), drawn uniformly without replacement")

    def __init__(self, tasks, options=None, seed=0):
        super().__init__(tasks, options, seed)
        if len(self.tasks) < 2:
            raise ValueError("it needs at least one objective or auxiliary task beside the primary")
        self.primary, self.auxiliary = self.tasks[0], self.tasks[1:]
        self.logits = FactorLogits({task: objective_of(task) for task in self.auxiliary})
        self.generator = torch.Generator().manual_seed(seed)
        self.allocation: dict[str, int] = {}

    def tasks_of_step(self, sampled: str) -> list[str]:
        count = min(self.options.sampled, len(self.auxiliary))
        drawn = torch.randperm(len(self.auxiliary), generator=self.generator)[:count]
        chosen = [self.auxiliary[i] for i in sorted(drawn.tolist())]
        self.allocation = allocate(self.logits, chosen, self.context.batch_size)
        return [self.primary, *chosen]

    def rows(self, task: str) -> Optional[int]:
        return self.allocation.get(task)

    def loss_weights(self, tasks: Sequence[str]) -> dict[str, float]:
        chosen = [t for t in tasks if t != self.primary]
        primary, auxiliary = self.logits.lambdas()
        pi = self.logits.pi(chosen)
        return {self.primary: primary,
                **{c: auxiliary * self.allocation[c] / self.context.batch_size * pi[c] for c in chosen}}

    def combine(self, losses, params):
        weights = self.loss_weights(list(losses))
        sum(weights[task] * loss for task, loss in losses.items()).backward()
        return weights

    def describe(self) -> dict[str, Any]:
        primary, auxiliary = self.logits.lambdas()
        return {**super().describe(), "objective_weights": self.logits.objective_weights(),
                "factor_weights": self.logits.factor_weights(), "split": {"primary": primary, "auxiliary": auxiliary}}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "logits": self.logits.state_dict(),
                "generator": self.generator.get_state(), "allocation": dict(self.allocation)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.logits.load_state_dict(state["logits"])
        self.generator.set_state(state["generator"])
        self.allocation = dict(state["allocation"])
