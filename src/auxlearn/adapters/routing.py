"""Reading what PEFT's Poly layers hold: the layers, every task's routing weights, and the skills' average.

PEFT lacks these (no routing readout, no MHR-mu merge of Caccia et al., NeurIPS 2023), so they are written here, on
PEFT's own router (its eval-mode weights: the sigmoid of the logits, normalised over the skills)."""

from __future__ import annotations

import torch
from peft.tuners.poly.layer import PolyLayer
from torch import nn

ADAPTER = "default"  # the name PEFT gives the one adapter auxlearn puts on an encoder


def poly_layers(encoder: nn.Module) -> dict[str, PolyLayer]:
    """The Poly layers of an encoder, by module path (as PEFT's saved weights name them)."""
    return {name: module for name, module in encoder.named_modules() if isinstance(module, PolyLayer)}


@torch.no_grad()
def routing_weights(encoder: nn.Module) -> dict[str, torch.Tensor]:
    """Per Poly layer, the routing weights of every task, [tasks, splits, skills], each split's summing to 1."""
    weights = {}
    for name, layer in poly_layers(encoder).items():
        router = layer.poly_router[ADAPTER]
        was_training = router.training
        router.eval()
        weights[name] = router(task_ids=torch.arange(router.n_tasks), input_ids=None).cpu()
        router.train(was_training)
    return weights


def skills_average(lora_A: torch.Tensor, lora_B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One LoRA from a Poly layer's skills under uniform routing (MHR-mu): ``A`` [d_in, r] stacks each split's
    mean input block, ``B`` [r, d_out] sets side by side each split's mean output block, so that ``x A B`` is the
    layer's update with every skill weighted 1/S. From PEFT's shapes A [Q, S, d_in/Q, r], B [Q, S, r, d_out/Q]."""
    splits, _, _, rank = lora_A.shape
    A = lora_A.mean(1).reshape(-1, rank)
    B = lora_B.mean(1).transpose(0, 1).reshape(rank, -1)
    return A, B
