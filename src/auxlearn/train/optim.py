"""AdamW with linear warm-up and decay: one optimiser for all tasks, or one per task (HMTL, AutoSeM parity)."""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Optional

import torch
from torch import nn

_NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")


def parameter_groups(named: Iterable[tuple[str, nn.Parameter]], kind: Callable[[str], str], weight_decay: float,
                     lr: float, head_lr: Optional[float] = None, routing_lr: Optional[float] = None,
                     head_lr_scales: Optional[Mapping[str, float]] = None) -> list[dict]:
    """No weight decay on biases and normalisation weights (the BERT recipe). ``kind`` sorts the parameters:
    the ``encoder``'s (or the adapters it trains) learn at ``lr``; task ``heads`` at ``head_lr`` when given (a
    freshly initialised head moves by about the learning rate per Adam step, so at an encoder's rate it stays near
    its random start for the first epoch of a small task), times ``head_lr_scales[task]`` for the tasks it names
    (generated objectives: ``objectives.lr_scale``); ``routing`` logits at ``routing_lr`` and without decay
    (MTTL's two-speed rate, Caccia et al., NeurIPS 2023; its AdamW decayed them by mistake)."""
    scales = head_lr_scales or {}
    groups: dict[tuple[str, bool, float], list[nn.Parameter]] = {}
    for name, param in named:
        if param.requires_grad:
            what = kind(name)
            scale = scales.get(name.split(".")[1], 1.0) if what == "heads" else 1.0  # heads.<task>.<weight>
            groups.setdefault((what, name.endswith(_NO_DECAY), scale), []).append(param)
    rates = {"encoder": lr, "heads": head_lr or lr, "routing": routing_lr or lr}
    return [{"params": params, "weight_decay": 0.0 if no_decay or what == "routing" else weight_decay,
             "lr": rates[what] * scale}
            for (what, no_decay, scale), params in sorted(groups.items())]  # encoder first (keys are unique)


class GlobalSchedule:
    """The learning rates of one optimiser as a function of the trainer's global step.

    ``step()`` sets them for the current global step and is called right *before* ``optimizer.step()``:
    a per-task optimiser that skipped steps still trains at the rate of the step it trains at (a
    ``LambdaLR`` stepped after the optimiser would keep the rate of the task's previous step)."""

    def __init__(self, optimizer: torch.optim.Optimizer, factor: Callable[[int], float],
                 global_step: Callable[[], int]):
        self.optimizer, self.factor, self.global_step = optimizer, factor, global_step
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.step()

    def step(self) -> None:
        scale = self.factor(self.global_step())
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * scale

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


def linear_warmup_decay(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """LR factor at a global step. Written here rather than taken from transformers' scheduler because
    per-task optimisers each step only on their own task, yet must all follow the one global schedule."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


def build_optimizers(model, tasks: list[str], *, per_task: bool, lr: float, weight_decay: float,
                     schedule: Callable[[int], float], global_step: Callable[[], int],
                     head_lr: Optional[float] = None, head_lr_scales: Optional[Mapping[str, float]] = None,
                     fused: Optional[bool] = None) -> dict[str, tuple[torch.optim.Optimizer, GlobalSchedule]]:
    """Map each task to its (optimiser, scheduler); with a shared optimiser every task maps to the same pair.
    ``head_lr_scales``: per task, a factor on its head's learning rate (``parameter_groups``).

    ``fused`` None: AdamW's fused kernel wherever the parameters' device has one (CPU, CUDA). It updates every
    parameter in one pass instead of a dozen passes over 22 M floats (bench/throughput.py measures what it
    gains); False keeps the multi-tensor kernel, for comparisons."""

    def make(named):
        named = list(named)
        use_fused = all(p.device.type in ("cpu", "cuda") for _, p in named) if fused is None else fused
        groups = parameter_groups(named, model.parameter_kind, weight_decay, lr, head_lr, model.adapter.routing_lr,
                                  head_lr_scales)
        optimizer = torch.optim.AdamW(groups, fused=use_fused)
        return optimizer, GlobalSchedule(optimizer, schedule, global_step)

    if not per_task:
        shared = make(model.named_parameters())
        return {task: shared for task in tasks}
    encoder = [(f"encoder.{n}", p) for n, p in model.encoder.named_parameters()]
    return {task: make(encoder + [(f"heads.{task}.{n}", p) for n, p in model.heads[task].named_parameters()])
            for task in tasks}
