"""A LoRA of its own for every task (MTTL's private selector): the skills layer with one skill per task and each
task routed to its own, always. Built on PEFT's Poly layer, as PEFT's LoRA switches adapters per call only outside
training (``adapter_names`` refuses a model in training mode)."""

from __future__ import annotations

from pathlib import Path

import torch
from peft import PolyConfig
from pydantic import Field
from torch import nn

from auxlearn.adapters.poly import ATTENTION, Skills
from auxlearn.adapters.routing import ADAPTER, poly_layers
from auxlearn.plugins import MethodOptions

# Each task's routing logit is this far from 0: PEFT's eval sigmoid (and so ``PeftModel.from_pretrained``) routes
# each task to its own skill alone (weights 1 and below 1e-43).
PRIVATE_LOGIT = 100.0


def _one_hot(router: nn.Module, args: tuple, weights: torch.Tensor) -> torch.Tensor:
    """The routing rounded to 0 or 1 (a forward hook on PEFT's router). In training PEFT samples it through
    torch's relaxed Bernoulli, which clips a weight to at least 1.2e-7: the other tasks' skills would get a
    gradient that small, which Adam scales up to full steps."""
    return (weights > 0.5).to(weights.dtype)


class LoraPerTaskOptions(MethodOptions):
    r: int = Field(4, gt=0, description="rank of each task's LoRA")
    target_modules: list[str] = Field(default_factory=lambda: list(ATTENTION), min_length=1,
                                      description="the encoder's linear layers to adapt (name suffixes)")


class LoraPerTask(Skills):
    name = "lora_per_task"
    Options = LoraPerTaskOptions

    def peft_config(self) -> PolyConfig:
        return PolyConfig(task_type="FEATURE_EXTRACTION", r=self.options.r, n_tasks=len(self.tasks),
                          n_skills=len(self.tasks), n_splits=1, target_modules=list(self.options.target_modules))

    def trains(self, name: str) -> bool:
        return super().trains(name) and not self.is_routing(name)

    @torch.no_grad()
    def build(self, model: str) -> nn.Module:
        encoder = super().build(model)
        private = torch.full((len(self.tasks), len(self.tasks)), -PRIVATE_LOGIT).fill_diagonal_(PRIVATE_LOGIT)
        for layer in poly_layers(encoder).values():
            layer.poly_router[ADAPTER].module_logits.copy_(private)
        return _private(encoder)

    def load(self, folder: Path) -> nn.Module:
        return _private(super().load(folder))


def _private(encoder: nn.Module) -> nn.Module:
    for layer in poly_layers(encoder).values():
        layer.poly_router[ADAPTER].register_forward_hook(_one_hot)
    return encoder
