"""AANG's factored weights (Dery et al., ICLR 2023): a logit per value of each factor of an objective (I, T, R,
O), one per objective, and the primary/auxiliary pair; and how a step's auxiliary batch is shared among the
sampled objectives by them. The weightings (``weighting.py``) start from them; the mixer gives their starting
values as the final model's ratios.

Every non-primary task is an objective: an objective's task (``input/transform/attention/output``), or a plain
auxiliary task X, which is (X, none, bidirectional, X).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch

from auxlearn.aang.objectives.space import Objective

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
