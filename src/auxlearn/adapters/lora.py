"""One LoRA (Hu et al. 2021) shared by the model's tasks, on PEFT: MTTL's LoRA baseline, and the few-shot arms
that train a single adapter.

``init: skills_average`` starts it from a saved Poly / MHR model's skills under uniform routing (MHR-mu, Caccia et
al. 2023): the average is merged once into this one LoRA, which then trains, rather than training every skill
through a uniform router, whose steps would each be divided by the number of skills (Caccia et al., NeurIPS 2023)."""

from __future__ import annotations

from typing import Literal, Optional

import torch
from peft import LoraConfig
from peft.tuners.lora import LoraLayer
from pydantic import Field
from torch import nn

from auxlearn.adapters.base import Adapter, SavedAdapter, saved_adapter
from auxlearn.adapters.poly import ATTENTION
from auxlearn.adapters.routing import ADAPTER, skills_average
from auxlearn.errors import AuxlearnError
from auxlearn.plugins import MethodOptions


class LoraOptions(MethodOptions):
    r: int = Field(4, gt=0, description="rank")
    alpha: float = Field(1.0, gt=0, description="the update is scaled by alpha / r; 1, as MTTL's LoRA and PEFT's "
                                                "Poly layer, so LoRA and skills train on one scale")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the LoRA's input")
    target_modules: list[str] = Field(default_factory=lambda: list(ATTENTION), min_length=1,
                                      description="the encoder's linear layers to adapt (name suffixes)")
    init: Literal["fresh", "skills_average"] = Field(
        "fresh", description="fresh: B = 0 on the encoder; skills_average: the average of a saved poly model's "
                             "skills (MHR-mu), which must have this rank and these target modules")


class Lora(Adapter):
    name = "lora"
    Options = LoraOptions
    starts_from = ("poly",)

    def peft_config(self) -> LoraConfig:
        o = self.options
        return LoraConfig(task_type="FEATURE_EXTRACTION", r=o.r, lora_alpha=o.alpha, lora_dropout=o.dropout,
                          target_modules=list(o.target_modules))

    def check(self, model: str) -> Optional[SavedAdapter]:
        fresh = self.options.init == "fresh"
        if fresh and saved_adapter(model) is not None:
            raise AuxlearnError(f"adapter.init 'fresh' starts a LoRA on an encoder, and model {model} holds an "
                                "adapter: give the encoder, or init: skills_average to start from its skills")
        start = super().check(model)
        if not fresh and start is None:
            raise AuxlearnError(f"adapter.init 'skills_average' averages trained skills, and model {model} has "
                                "none: give a model folder saved by a poly run")
        if start is not None:
            saved_targets = sorted(start.config.get("target_modules") or [])
            if start.config.get("r") != self.options.r or saved_targets != sorted(self.options.target_modules):
                raise AuxlearnError(f"adapter: the skills of {model} have rank {start.config.get('r')} on "
                                    f"{saved_targets}; set adapter.r and adapter.target_modules to these")
        return start

    @torch.no_grad()
    def start_from(self, encoder: nn.Module, start: SavedAdapter) -> None:
        for name, layer in encoder.named_modules():
            if not isinstance(layer, LoraLayer):
                continue
            A, B = skills_average(start.tensor(f"{name}.poly_lora_A"), start.tensor(f"{name}.poly_lora_B"))
            # Poly scales the update by 1/r, this LoRA by its own scaling: B carries the difference.
            layer.lora_A[ADAPTER].weight.copy_(A.T)
            layer.lora_B[ADAPTER].weight.copy_(B.T / (self.options.r * layer.scaling[ADAPTER]))
