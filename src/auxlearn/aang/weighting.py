"""AANG's loss weightings (Dery et al., ICLR 2023): ``aang_static``, the mixture of objectives with fixed weights
(the paper's static multi-task baseline), and ``aang``, which learns its factored weights (``factors.py``).

``aang_static``: each step trains the primary and ``sampled`` objectives drawn uniformly without replacement.
The auxiliary batch (``train.batch_size`` rows) is shared among them hierarchically: over their attention
patterns R by the softmax of R's logits, within a pattern over their inputs I, within those over their
transforms T (ceilings; objectives that differ only in O share a row count). The primary's loss weighs
``lambda_prim`` and objective c's ``lambda_aux * rows_c / B * pi_c``, with ``(lambda_prim, lambda_aux) =
softmax(w_prim, w_aux)`` and ``pi = softmax over the sampled objectives of w_all[c] + w_O[c_O]``. All logits
start at 0 (uniform); there they stay. Under ``transfer.protocol: auto`` the arm then fine-tunes the primary
alone (``joint_then_finetune``, AANG's final phase).

``aang``: the same mixture, whose logits move toward the objectives whose gradient points where the primary's
dev gradient does.
Every ``step_every``-th step is a meta step. It computes the dev gradient (dev_gradient.py), keeps each trained
task's gradient apart (one backward pass each, the same passes a plain step makes, so the update is the one
``aang_static`` makes with these weights), and takes the cosine of each task's encoder gradient with the dev
gradient: r_c for each sampled objective, r_prim for the primary, r_aux for the sum of the objectives' gradients
weighted by their rows. The logits then climb the expected reward through their softmaxes (softmax-aware, unlike
the reference code's raw-score steps, which let logits grow without bound; Dery et al., ICLR 2023):
``w += lr * p (r - sum p r)`` for (w_prim, w_aux) with ``split_lr``; for w_all[c] and w_O through pi; for each
of R, I, T over the sampled objectives' values, r averaged per value; those with ``aux_lr``. An objective that
aligns better than the others gains weight, one that aligns worse loses it, and a value whose softmax has
saturated stops moving. With both rates 0 the weights stay uniform and the model trained is ``aang_static``'s.
"""

from __future__ import annotations

import time
from statistics import fmean
from typing import Any, Mapping, Optional, Sequence

import torch
from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt

from auxlearn.aang.dev_gradient import dev_gradient, flatten
from auxlearn.aang.factors import ALLOCATED, FactorLogits, allocate, objective_of
from auxlearn.plugins import MethodOptions
from auxlearn.train.weighting_base import StepContext, Weighting


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

    def scalars(self) -> dict[str, float]:
        """The step's weights, the primary/auxiliary split and every factor's weights (``factor/<f>/<value>``)."""
        primary, auxiliary = self.logits.lambdas()
        factors = {f"factor/{factor}/{value}": weight for factor, values in self.logits.factor_weights().items()
                   for value, weight in values.items()}
        return {**super().scalars(), "split/primary": primary, "split/auxiliary": auxiliary, **factors}

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


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


class Aang(AangStatic):
    name = "aang"
    cost = ("on every step_every-th step: a forward and backward pass of dev_examples primary dev examples through "
            "the encoder, a head fitted on their features, and each trained task's gradient held apart (one "
            "encoder-sized vector each)")

    class Options(AangStatic.Options):
        aux_lr: NonNegativeFloat = Field(1.0, description="step size of the factor and per-objective logits")
        split_lr: NonNegativeFloat = Field(0.1, description="step size of the primary / auxiliary logits")
        step_every: PositiveInt = Field(3, description="steps between weight updates (each one a meta step)")
        dev_examples: PositiveInt = Field(32, description="primary dev examples the dev head is fitted on")
        dev_fit_iterations: PositiveInt = 10
        dev_lr: PositiveFloat = 1e-2
        dev_weight_decay: NonNegativeFloat = 0.1

    def __init__(self, tasks, options=None, seed=0):
        super().__init__(tasks, options, seed)
        self.history: list[dict[str, Any]] = []
        # Seconds in combine (the backward passes, and on meta steps the measuring) and micro-batches, per kind of
        # step: what a meta step adds over a plain one.
        self.timing = {"meta": [0.0, 0], "plain": [0.0, 0]}

    def attach(self, context: StepContext) -> None:
        super().attach(context)
        self.dev = context.dev_batches(self.options.dev_examples, self.seed + 1)
        self.body = [p for p in context.model.encoder.parameters() if p.requires_grad]

    def combine(self, losses, params):
        started = time.perf_counter()
        step, micro = divmod(self.steps, self.context.grad_accum)
        kind = "plain" if micro or step % self.options.step_every != self.options.step_every - 1 else "meta"
        weights = super().combine(losses, params) if kind == "plain" else self._measure(losses, params, step)
        self.timing[kind][0] += time.perf_counter() - started
        self.timing[kind][1] += 1
        return weights

    def _measure(self, losses, params, step: int) -> dict[str, float]:
        """A meta step: the update aang_static makes, from gradients kept apart; then the logits move."""
        weights = self.loss_weights(list(losses))
        options = self.options
        dev = {k: v.to(self.context.device) for k, v in next(self.dev).items()}
        target = dev_gradient(self.context, dev, self.body, iterations=options.dev_fit_iterations,
                              lr=options.dev_lr, weight_decay=options.dev_weight_decay, seed=self.seed + step)
        body = {id(p) for p in self.body}
        rewards, auxiliary = {}, torch.zeros_like(target)
        for task, loss in losses.items():
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            for param, grad in zip(params, grads):
                if grad is not None:
                    update = weights[task] * grad
                    param.grad = update if param.grad is None else param.grad + update
            encoder = flatten([g for g, p in zip(grads, params) if id(p) in body], self.body)
            rewards[task] = cosine(encoder, target)
            if task != self.primary:
                auxiliary += self.allocation[task] * encoder
        self.update(rewards, cosine(auxiliary, target), step + 1)
        return weights

    def update(self, rewards: Mapping[str, float], auxiliary: float, step: int) -> None:
        """Move the logits up the expected reward; ``rewards``: each trained task's cosine with the dev gradient,
        ``auxiliary``: that of the objectives' summed gradient."""
        logits, options = self.logits, self.options
        lambdas = logits.lambdas()
        split = (rewards[self.primary], auxiliary)
        mean = sum(l * r for l, r in zip(lambdas, split))
        for key, weight, reward in zip(("primary", "auxiliary"), lambdas, split):
            logits.split[key] += options.split_lr * weight * (reward - mean)
        chosen = [task for task in rewards if task != self.primary]
        pi = logits.pi(chosen)
        mean = sum(pi[c] * rewards[c] for c in chosen)
        for c in chosen:
            step_size = options.aux_lr * pi[c] * (rewards[c] - mean)
            logits.table[c] += step_size
            logits.factor["output"][logits.objectives[c].output] += step_size
        for factor in ALLOCATED:
            values = {c: getattr(logits.objectives[c], factor) for c in chosen}
            by_value = {v: fmean(rewards[c] for c in chosen if values[c] == v) for v in set(values.values())}
            probabilities = logits.restricted(factor, list(by_value))
            mean = sum(probabilities[v] * by_value[v] for v in by_value)
            for value, reward in by_value.items():
                logits.factor[factor][value] += options.aux_lr * probabilities[value] * (reward - mean)
        primary, aux = logits.lambdas()
        self.history.append({"step": step, "rewards": dict(rewards), "auxiliary_reward": auxiliary,
                             "factor_weights": logits.factor_weights(),
                             "split": {"primary": primary, "auxiliary": aux}})

    def describe(self) -> dict[str, Any]:
        (meta, metas), (plain, plains) = self.timing["meta"], self.timing["plain"]
        per_meta, per_plain = meta / max(1, metas), plain / max(1, plains)
        cost = {"meta_steps": metas, "plain_steps": plains, "seconds_per_meta_step": per_meta,
                "seconds_per_plain_step": per_plain,
                "extra_seconds": metas * (per_meta - per_plain) if plains else None}
        return {**super().describe(), "history": list(self.history), "meta_cost": cost}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "history": list(self.history), "dev": self.dev.state_dict(),
                "timing": {k: list(v) for k, v in self.timing.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.history = list(state["history"])
        self.dev.load_state_dict(state["dev"])
        self.timing = {k: list(v) for k, v in state["timing"].items()}
