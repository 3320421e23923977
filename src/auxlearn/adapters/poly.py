"""Skills with routing (Polytropon, Ponti et al. 2022; multi-head routing, Caccia et al. 2023) on PEFT's Poly layer.

Each adapted linear layer holds ``n_skills`` LoRA skills split into ``n_splits`` blocks (1: Polytropon; more: MHR)
and a routing logit per (task, split, skill); a batch's task reaches the layers as PEFT's ``task_ids``. The routing
learns at ``routing_lr`` (0.1, the papers' two-speed rate), the skills at ``train.lr``.

From a saved model with skills it starts with them, and with the routing rows of the tasks both know; a new task's
row starts fresh, as PEFT initialises it (MTTL's Poly / MHR fine-tuning). ``train: routing`` freezes the skills
(MHR-z). What PEFT lacks and is written here: loading skills into a model of other tasks, freezing them, and
reading the routing (``routing.py``)."""

from __future__ import annotations

from typing import Literal, Optional

import torch
from peft import PolyConfig
from pydantic import Field
from torch import nn

from auxlearn.adapters.base import Adapter, SavedAdapter
from auxlearn.adapters.routing import ADAPTER, poly_layers
from auxlearn.errors import AuxlearnError
from auxlearn.plugins import MethodOptions

# Attention's four projections, as MTTL adapts them on T5 (q, k, v, o); BERT names the output "attention.output.dense".
ATTENTION = ["query", "key", "value", "attention.output.dense"]
ARCHITECTURE = ("r", "n_skills", "n_splits", "target_modules")  # what a saved adapter must share to start from


class PolyOptions(MethodOptions):
    poly_type: Literal["poly"] = Field("poly", description="PEFT's router (the only one it has)")
    r: int = Field(4, gt=0, description="rank of each skill's LoRA")
    n_skills: int = Field(8, gt=0, description="skills per adapted layer")
    n_splits: int = Field(1, gt=0, description="routing blocks per layer: 1 is Polytropon, more is MHR; it must "
                                               "divide the layers' input and output sizes")
    target_modules: list[str] = Field(default_factory=lambda: list(ATTENTION), min_length=1,
                                      description="the encoder's linear layers to adapt (name suffixes)")
    routing_lr: float = Field(0.1, gt=0, description="learning rate of the routing logits (no weight decay)")
    train: Literal["all", "routing"] = Field(
        "all", description="all: skills and routing (Poly, MHR); routing: the routing alone, the skills frozen "
                           "(MHR-z), which needs a model with trained skills")


class Skills(Adapter):
    """An adapter on PEFT's Poly layer: a batch's task reaches the layers as PEFT's ``task_ids``."""

    def peft_config(self) -> PolyConfig:
        raise NotImplementedError

    def check_layers(self, linears: dict[str, nn.Linear]) -> None:
        splits = self.peft_config().n_splits
        for name, layer in linears.items():
            if layer.in_features % splits or layer.out_features % splits:
                raise AuxlearnError(f"adapter.n_splits {splits} does not divide layer {name} "
                                    f"({layer.in_features} in, {layer.out_features} out)")

    def inputs(self, task: str, size: int, device: torch.device) -> dict[str, torch.Tensor]:
        if task not in self.tasks:
            raise AuxlearnError(f"task {task!r} has no routing in this model; its tasks: {', '.join(self.tasks)}")
        return {"task_ids": torch.full((size,), self.tasks.index(task), dtype=torch.long, device=device)}

    def is_routing(self, name: str) -> bool:
        return ".poly_router." in name


class Poly(Skills):
    name = "poly"
    Options = PolyOptions
    starts_from = ("poly",)

    @property
    def routing_lr(self) -> Optional[float]:
        return self.options.routing_lr

    def peft_config(self) -> PolyConfig:
        o = self.options
        return PolyConfig(task_type="FEATURE_EXTRACTION", poly_type=o.poly_type, r=o.r, n_tasks=len(self.tasks),
                          n_skills=o.n_skills, n_splits=o.n_splits, target_modules=list(o.target_modules))

    def check(self, model: str) -> Optional[SavedAdapter]:
        start = super().check(model)
        if start is None and self.options.train == "routing":
            raise AuxlearnError(f"adapter.train 'routing' trains the routing of trained skills, and model {model} "
                                "has none: give a model folder saved by a poly run")
        if start is not None:
            mine = self.peft_config()
            differ = [f"{key} {getattr(mine, key)!r} (saved: {start.config.get(key)!r})" for key in ARCHITECTURE
                      if _comparable(getattr(mine, key)) != _comparable(start.config.get(key))]
            if differ:
                raise AuxlearnError(f"adapter: model {model} holds skills of another shape: {'; '.join(differ)}; "
                                    "set these adapter options as saved")
        return start

    def trains(self, name: str) -> bool:
        return super().trains(name) and (self.options.train == "all" or self.is_routing(name))

    @torch.no_grad()
    def start_from(self, encoder: nn.Module, start: SavedAdapter) -> None:
        rows = {task: start.tasks.index(task) for task in self.tasks if task in start.tasks}
        for name, layer in poly_layers(encoder).items():
            for part in ("poly_lora_A", "poly_lora_B"):
                getattr(layer, part)[ADAPTER].copy_(start.tensor(f"{name}.{part}"))
            logits = layer.poly_router[ADAPTER].module_logits
            saved = start.tensor(f"{name}.poly_router.module_logits")
            for task, row in rows.items():
                logits[self.tasks.index(task)] = saved[row]


def _comparable(value):
    return sorted(value) if isinstance(value, (list, set, tuple)) else value
